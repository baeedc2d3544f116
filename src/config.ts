import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { availableParallelism } from 'node:os';
import { z } from 'zod';
import { parseDuration } from './lib/duration.js';

const duration = (name: string, fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((value, ctx) => {
      const ms = parseDuration(value);
      if (ms === undefined) {
        ctx.addIssue({ code: 'custom', message: `${name}: "${value}" is not a duration like 500ms, 5s, 5m, 2h or 5d` });
        return z.NEVER;
      }
      return ms;
    });

const booleanFlag = z
  .enum(['true', 'false', '1', '0'], { message: 'must be true or false' })
  .transform((value) => value === 'true' || value === '1');

const httpUrl = z.url({ protocol: /^https?$/, message: 'must be an http:// or https:// URL' });

/** OTLP over HTTP only: gRPC would bring a second HTTP/2 stack for one exporter. */
const otlpProtocol = z.enum(['http/protobuf', 'http/json'], {
  message: 'must be http/protobuf or http/json (grpc is not supported)',
});

/** A 32-byte AES key, given as 64 hex characters or as base64; undefined when it is neither. */
function decodeEncryptionKey(value: string): Buffer | undefined {
  const key = /^[0-9a-f]{64}$/i.test(value) ? Buffer.from(value, 'hex') : Buffer.from(value, 'base64');
  return key.length === 32 ? key : undefined;
}

const encryptionKey = z.string().transform((value, ctx) => {
  const key = decodeEncryptionKey(value);
  if (!key) {
    ctx.addIssue({ code: 'custom', message: 'must be 32 bytes, as 64 hex characters or base64' });
    return z.NEVER;
  }
  return key;
});

/** `ip`, `ip:port` or `[ipv6]:port`, comma-separated: the form dns.Resolver#setServers takes. */
const nameServers = z.string().transform((value, ctx) => {
  const servers = value.split(',').map((part) => part.trim());
  for (const server of servers) {
    const match = /^\[(.+)\](?::(\d+))?$/.exec(server) ?? /^([^:]+)(?::(\d+))?$/.exec(server);
    const address = match?.[1] ?? server;
    const port = match?.[2] === undefined ? 53 : Number(match[2]);
    if (isIP(address) === 0 || port < 1 || port > 65535) {
      ctx.addIssue({
        code: 'custom',
        message: `"${server}" is not ip[:port] (IPv6 as [ip]:port); list them comma-separated`,
      });
      return z.NEVER;
    }
  }
  return servers;
});

/** Keys retired by a rotation that still open what they sealed: comma-separated, each as SECRET_ENCRYPTION_KEY. */
const oldEncryptionKeys = z.string().transform((value, ctx) => {
  const parts = value
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '');
  const keys = parts.map(decodeEncryptionKey);
  const bad = keys.indexOf(undefined);
  if (bad >= 0) {
    ctx.addIssue({
      code: 'custom',
      message: `key ${bad + 1} must be 32 bytes, as 64 hex characters or base64 (keys are separated by commas)`,
    });
    return z.NEVER;
  }
  return keys as Buffer[];
});

/**
 * Who may show the dashboard in a frame (CSP frame-ancestors): origins such as
 * https://app.example.com or https://*.example.com, separated by spaces or commas.
 */
const frameAncestors = z.string().transform((value, ctx) => {
  const origins = value.split(/[\s,]+/).filter((part) => part !== '');
  for (const origin of origins) {
    if (!/^https?:\/\/(\*\.)?[a-z0-9.-]+(:\d{1,5})?$/i.test(origin)) {
      ctx.addIssue({
        code: 'custom',
        message: `"${origin}" is not an origin like https://app.example.com (no path); separate origins with spaces or commas`,
      });
      return z.NEVER;
    }
  }
  return origins;
});

const schema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(4000),
  HOST: z.string().min(1).optional(),
  DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/, message: 'must be a postgres:// URL' }).optional(),
  DATABASE_DIRECT_URL: z.url({ protocol: /^postgres(ql)?$/, message: 'must be a postgres:// URL' }).optional(),
  DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(500).default(10),
  SECRET_ENCRYPTION_KEY: encryptionKey.optional(),
  SECRET_ENCRYPTION_OLD_KEYS: oldEncryptionKeys.optional(),
  DATA_DIR: z.string().min(1).default('.data'),
  ROLE: z.enum(['all', 'api', 'worker']).default('all'),
  // Processes serving the API on one port (node:cluster); `auto` is one per CPU.
  API_PROCESSES: z
    .string()
    .default('1')
    .transform((value, ctx) => {
      if (value === 'auto') return availableParallelism();
      const count = Number(value);
      if (!/^\d+$/.test(value) || count < 1 || count > 256) {
        ctx.addIssue({ code: 'custom', message: 'must be a whole number from 1 to 256, or auto (one per CPU)' });
        return z.NEVER;
      }
      return count;
    }),
  NODE_ENV: z.string().default('development'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  DELIVERY_TIMEOUT_MS: z.coerce.number().int().min(100).max(300_000).default(10_000),
  DELIVERY_RETRY_SCHEDULE: z
    .string()
    .default('5s,5m,30m,2h,5h,10h,10h')
    .transform((value, ctx) => {
      const delays = value.split(',').map((part) => parseDuration(part.trim()));
      if (delays.length === 0 || delays.some((ms) => ms === undefined)) {
        ctx.addIssue({ code: 'custom', message: 'must be comma-separated durations like 5s,5m,30m' });
        return z.NEVER;
      }
      return delays as number[];
    }),
  DELIVERY_DISABLE_AFTER: duration('DELIVERY_DISABLE_AFTER', '5d'),
  // At least 100 ms: a delivery put off for less would be claimed and put off again in a busy loop.
  DELIVERY_INTERNAL_RETRY_DELAY: duration('DELIVERY_INTERNAL_RETRY_DELAY', '30s').refine((ms) => ms >= 100, {
    message: 'must be at least 100ms',
  }),
  RETENTION: duration('RETENTION', '30d'),
  // How often a worker process reads the cluster-wide gauges (one query), never at scrape time.
  CLUSTER_METRICS_INTERVAL: duration('CLUSTER_METRICS_INTERVAL', '10s').refine((ms) => ms >= 100, {
    message: 'must be at least 100ms',
  }),
  SHUTDOWN_GRACE_MS: z.coerce.number().int().min(0).max(600_000).default(10_000),
  // Unset: in production a quarter of SHUTDOWN_GRACE_MS, at most 2 s; 0 otherwise (see shutdownDelayMs below).
  SHUTDOWN_DELAY_MS: z.coerce.number().int().min(0).max(600_000).optional(),
  MIGRATIONS: z.enum(['apply', 'verify'], { message: 'must be apply or verify' }).default('apply'),
  DELIVERY_CONCURRENCY: z.coerce.number().int().min(1).max(10_000).default(256),
  // Unset: a quarter of DELIVERY_CONCURRENCY, so it takes four misbehaving workspaces at once to fill a worker.
  DELIVERY_CONCURRENCY_PER_WORKSPACE: z.coerce.number().int().min(1).max(10_000).optional(),
  DELIVERY_CONCURRENCY_PER_WEBHOOK: z.coerce.number().int().min(1).max(1_000).default(16),
  CIRCUIT_BREAKER_FAILURES: z.coerce.number().int().min(1).max(1_000).default(5),
  CIRCUIT_BREAKER_PROBE_INTERVAL: duration('CIRCUIT_BREAKER_PROBE_INTERVAL', '5s'),
  ALLOW_PRIVATE_TARGETS: booleanFlag.default(false),
  // Unset: the system's (/etc/resolv.conf).
  DNS_SERVERS: nameServers.optional(),
  // Unset: dnsTimeoutFor(DELIVERY_TIMEOUT_MS).
  DNS_TIMEOUT_MS: z.coerce.number().int().min(50).max(300_000).optional(),
  DNS_LOOKUPS_PER_WORKSPACE: z.coerce.number().int().min(1).max(10_000).default(16),
  RATE_LIMIT_PER_SECOND: z.coerce.number().min(0).default(50),
  RATE_LIMIT_BURST: z.coerce.number().int().min(1).default(100),
  // Ingest: a voice platform at peak publishes hundreds of events a second from one key.
  PUBLISH_RATE_LIMIT_PER_SECOND: z.coerce.number().min(0).default(1000),
  PUBLISH_RATE_LIMIT_BURST: z.coerce.number().int().min(100).default(2000),
  // What publishing makes the workers do: deliveries created, per key (an event to 20 webhooks is 20).
  FANOUT_RATE_LIMIT_PER_SECOND: z.coerce.number().min(0).default(10_000),
  FANOUT_RATE_LIMIT_BURST: z.coerce.number().int().min(100).default(20_000),
  // Requests to /graphql per live key, counted before the body is read: far above a dashboard's
  // or a busy integration's rate (which batches), low enough that a key resending refusals in a loop gets cheap 429s.
  REQUEST_RATE_LIMIT_PER_SECOND: z.coerce.number().min(0).default(2_000),
  REQUEST_RATE_LIMIT_BURST: z.coerce.number().int().min(1).default(4_000),
  // The same per client address, for callers no key vouches for (no key, a made-up or dead one).
  ADDRESS_RATE_LIMIT_PER_SECOND: z.coerce.number().min(0).default(20),
  ADDRESS_RATE_LIMIT_BURST: z.coerce.number().int().min(1).default(40),
  MAX_QUERY_COST: z.coerce.number().int().min(100).max(1_000_000).default(10_000),
  READ_RATE_LIMIT_BYTES_PER_SECOND: z.coerce
    .number()
    .int()
    .min(0)
    .default(8 * 1_048_576),
  MAX_RESPONSE_BYTES: z.coerce
    .number()
    .int()
    .min(1_048_576)
    .max(1_073_741_824)
    .default(16 * 1_048_576),
  REQUEST_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(10_000),
  // Amplification: one event fans out to at most MAX_WEBHOOKS_PER_AGENT deliveries (0: no limit).
  MAX_WEBHOOKS_PER_AGENT: z.coerce.number().int().min(0).max(100_000).default(20),
  MAX_WEBHOOKS_PER_WORKSPACE: z.coerce.number().int().min(0).max(10_000_000).default(1_000),
  // Each key's share of a process: operations running at once (unset: half the pool, at least 2), and waiting.
  OPERATIONS_PER_KEY: z.coerce.number().int().min(1).max(10_000).optional(),
  OPERATIONS_WAITING_PER_KEY: z.coerce.number().int().min(0).max(100_000).default(256),
  // Each key's turns at a congested event loop while other keys are served too (0: not counted at the door).
  REQUESTS_AT_ONCE_PER_KEY: z.coerce.number().int().min(0).max(10_000).default(1),
  SUBSCRIPTIONS_PER_KEY: z.coerce.number().int().min(1).max(100_000).default(20),
  MAX_CONNECTIONS: z.coerce.number().int().min(10).max(1_000_000).default(2_000),
  // Unset: nobody may frame the dashboard.
  DASHBOARD_FRAME_ANCESTORS: frameAncestors.optional(),
  // Tracing is on when this is set; the SDK reads the other OTEL_* variables itself.
  OTEL_EXPORTER_OTLP_ENDPOINT: httpUrl.optional(),
  // Where traces go instead, when set; on its own it turns nothing on.
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: httpUrl.optional(),
  OTEL_EXPORTER_OTLP_PROTOCOL: otlpProtocol.optional(),
  OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: otlpProtocol.optional(),
  OTEL_SDK_DISABLED: booleanFlag.default(false),
  // Live dashboard sessions (sign-ins and portal sessions) a workspace may hold; past it, LIMIT_EXCEEDED.
  DASHBOARD_SESSIONS_PER_WORKSPACE: z.coerce.number().int().min(1).max(1_000_000).default(1_000),
  // The origin portal session URLs start with; unset: the request's own (Host, X-Forwarded-Proto).
  PUBLIC_URL: httpUrl.optional(),
});

/** Every variable loadConfig reads (besides the X_FILE variants): docs/convo-hooks.env.example lists them all. */
export const SETTINGS = Object.keys(schema.shape);

/** The validated settings, typed by what loadConfig makes of the schema's output. */
export type Config = ReturnType<typeof loadConfig>;

export type TracingConfig = {
  /** The OTLP/HTTP traces URL: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, or OTEL_EXPORTER_OTLP_ENDPOINT + /v1/traces. */
  tracesUrl: string;
  protocol: 'http/protobuf' | 'http/json';
};

export class ConfigError extends Error {}

/**
 * Reads and validates configuration; the first bad variable becomes a one-line error naming it.
 * `migrate` reads no secret, so the owner's migration job need not hold SECRET_ENCRYPTION_KEY.
 */
export function loadConfig(
  env: NodeJS.ProcessEnv = process.env,
  { requireSecretKey = true }: { requireSecretKey?: boolean } = {},
) {
  // An empty variable (FOO=) means "not set", as in most deployment tools.
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== ''));
  const fromFiles = readSecretFiles(present);
  const parsed = schema.safeParse({ ...present, ...fromFiles });
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const variable = String(issue?.path[0] ?? 'environment');
    const message = issue?.message.replace(`${variable}: `, '') ?? 'is invalid';
    const source = variable in fromFiles ? ` (read from ${variable}_FILE)` : '';
    throw new ConfigError(`Invalid configuration: ${variable}${source} ${message}`);
  }
  const e = parsed.data;
  if (e.DNS_TIMEOUT_MS !== undefined && e.DNS_TIMEOUT_MS >= e.DELIVERY_TIMEOUT_MS) {
    throw new ConfigError(
      `Invalid configuration: DNS_TIMEOUT_MS must be less than DELIVERY_TIMEOUT_MS (${e.DELIVERY_TIMEOUT_MS}): resolving is part of the attempt`,
    );
  }
  if (requireSecretKey && e.DATABASE_URL && !e.SECRET_ENCRYPTION_KEY) {
    throw new ConfigError(
      'Invalid configuration: SECRET_ENCRYPTION_KEY (or SECRET_ENCRYPTION_KEY_FILE) is required when DATABASE_URL is set (32 bytes as hex or base64)',
    );
  }
  if (e.DATABASE_DIRECT_URL && !e.DATABASE_URL) {
    throw new ConfigError(
      'Invalid configuration: DATABASE_DIRECT_URL is set but DATABASE_URL is not (the direct URL goes beside the pooled one)',
    );
  }
  const operationsPerKey = e.OPERATIONS_PER_KEY ?? Math.max(2, Math.floor(e.DATABASE_POOL_SIZE / 2));
  return {
    port: e.PORT,
    // A development server stays on the developer's machine unless HOST says otherwise.
    host: e.HOST ?? (e.NODE_ENV === 'production' ? '0.0.0.0' : '127.0.0.1'),
    databaseUrl: e.DATABASE_URL,
    /** A direct (session) connection for LISTEN and migrations: DATABASE_DIRECT_URL, else DATABASE_URL. */
    databaseDirectUrl: e.DATABASE_DIRECT_URL ?? e.DATABASE_URL,
    /**
     * DATABASE_URL goes through a transaction-mode pooler: set whenever DATABASE_DIRECT_URL
     * differs from it (there is no other reason to give two URLs). The pool then prepares
     * nothing and sends no startup parameters (db/sql.ts).
     */
    databasePooler: e.DATABASE_DIRECT_URL !== undefined && e.DATABASE_DIRECT_URL !== e.DATABASE_URL,
    databasePoolSize: e.DATABASE_POOL_SIZE,
    secretEncryptionKey: e.SECRET_ENCRYPTION_KEY,
    /** Keys a rotation retired: they still open secrets sealed with them, never seal (SECRET_ENCRYPTION_OLD_KEYS). */
    secretEncryptionOldKeys: e.SECRET_ENCRYPTION_OLD_KEYS ?? [],
    dataDir: e.DATA_DIR,
    role: e.ROLE,
    /** API_PROCESSES: how many processes serve the API (node:cluster); a worker-only process serves none. */
    apiProcesses: e.ROLE === 'worker' ? 1 : e.API_PROCESSES,
    production: e.NODE_ENV === 'production',
    logLevel: e.LOG_LEVEL,
    deliveryTimeoutMs: e.DELIVERY_TIMEOUT_MS,
    retrySchedule: e.DELIVERY_RETRY_SCHEDULE,
    disableAfterMs: e.DELIVERY_DISABLE_AFTER,
    /** How long a delivery waits after a failure of ours (not the endpoint's) before it is tried again. */
    internalRetryDelayMs: e.DELIVERY_INTERNAL_RETRY_DELAY,
    deliveryConcurrency: e.DELIVERY_CONCURRENCY,
    deliveryConcurrencyPerWorkspace:
      e.DELIVERY_CONCURRENCY_PER_WORKSPACE ?? Math.max(1, Math.ceil(e.DELIVERY_CONCURRENCY / 4)),
    deliveryConcurrencyPerWebhook: e.DELIVERY_CONCURRENCY_PER_WEBHOOK,
    /** Consecutive failed attempts that open a webhook's circuit; the first probe's delay (it doubles, up to 5 minutes). */
    circuitBreaker: { failures: e.CIRCUIT_BREAKER_FAILURES, probeIntervalMs: e.CIRCUIT_BREAKER_PROBE_INTERVAL },
    /** From SIGTERM to exit: in-flight requests and deliveries finish within it. */
    shutdownGraceMs: e.SHUTDOWN_GRACE_MS,
    /** How long, within the grace period, a stopping API process still accepts connections while /ready says 503. */
    // In production, long enough for a load balancer that probes /ready every second or so to
    // stop sending here, short enough to leave most of the grace period to the requests in
    // flight; in development no load balancer waits, and a stop should be prompt.
    shutdownDelayMs: Math.min(
      e.SHUTDOWN_DELAY_MS ?? (e.NODE_ENV === 'production' ? Math.min(2_000, e.SHUTDOWN_GRACE_MS / 4) : 0),
      e.SHUTDOWN_GRACE_MS,
    ),
    /** apply: run pending migrations at start; verify: run no DDL, refuse to start when the database is behind. */
    migrations: e.MIGRATIONS,
    retentionMs: e.RETENTION,
    /** How often a worker process refreshes the cluster-wide gauges (worker/backlog-gauges.ts). */
    clusterMetricsIntervalMs: e.CLUSTER_METRICS_INTERVAL,
    allowPrivateTargets: e.ALLOW_PRIVATE_TARGETS,
    /** Resolving receivers' host names: name servers (undefined: the system's), timeout, queries in flight per workspace. */
    dns: {
      servers: e.DNS_SERVERS,
      timeoutMs: e.DNS_TIMEOUT_MS ?? dnsTimeoutFor(e.DELIVERY_TIMEOUT_MS),
      lookupsPerWorkspace: e.DNS_LOOKUPS_PER_WORKSPACE,
    },
    rateLimit: { perSecond: e.RATE_LIMIT_PER_SECOND, burst: e.RATE_LIMIT_BURST },
    /** Events published per key: publishEvent counts 1, publishEvents its length. */
    publishRateLimit: { perSecond: e.PUBLISH_RATE_LIMIT_PER_SECOND, burst: e.PUBLISH_RATE_LIMIT_BURST },
    /** Deliveries publishing may create per key; a key past it is refused its next publish. */
    fanOutRateLimit: { perSecond: e.FANOUT_RATE_LIMIT_PER_SECOND, burst: e.FANOUT_RATE_LIMIT_BURST },
    /** Requests per live key, counted before the body is read (0: off). */
    requestRateLimit: { perSecond: e.REQUEST_RATE_LIMIT_PER_SECOND, burst: e.REQUEST_RATE_LIMIT_BURST },
    /** Requests per client address from callers without a key vouched for (0: off). */
    addressRateLimit: { perSecond: e.ADDRESS_RATE_LIMIT_PER_SECOND, burst: e.ADDRESS_RATE_LIMIT_BURST },
    /** Bytes of event data one API key may read per second (0: unlimited). */
    readRateLimitBytesPerSecond: e.READ_RATE_LIMIT_BYTES_PER_SECOND,
    /** The most rows one operation may be expected to read (its cost), and may read. */
    maxQueryCost: e.MAX_QUERY_COST,
    /** The most bytes of event data one operation may read. */
    maxResponseBytes: e.MAX_RESPONSE_BYTES,
    /** Deadline of one operation, and the statement timeout of API connections. */
    requestTimeoutMs: e.REQUEST_TIMEOUT_MS,
    subscriptionsPerKey: e.SUBSCRIPTIONS_PER_KEY,
    /** OPERATIONS_PER_KEY and OPERATIONS_WAITING_PER_KEY: each key's share of this process. */
    operationsPerKey: {
      running: operationsPerKey,
      waiting: e.OPERATIONS_WAITING_PER_KEY,
    },
    /**
     * A live key's requests answered at once, at the door: REQUESTS_AT_ONCE_PER_KEY while the
     * event loop is congested and other keys are served, else OPERATIONS_PER_KEY;
     * OPERATIONS_WAITING_PER_KEY more wait.
     */
    requestTurns: {
      shared: e.REQUESTS_AT_ONCE_PER_KEY,
      alone: operationsPerKey,
      waiting: e.OPERATIONS_WAITING_PER_KEY,
    },
    /** MAX_WEBHOOKS_PER_WORKSPACE and MAX_WEBHOOKS_PER_AGENT; 0: no limit. */
    webhookLimits: { perWorkspace: e.MAX_WEBHOOKS_PER_WORKSPACE, perAgent: e.MAX_WEBHOOKS_PER_AGENT },
    maxConnections: e.MAX_CONNECTIONS,
    /** DASHBOARD_SESSIONS_PER_WORKSPACE: live dashboard and portal sessions a workspace may hold. */
    dashboardSessionsPerWorkspace: e.DASHBOARD_SESSIONS_PER_WORKSPACE,
    /** PUBLIC_URL's origin, for portal session URLs; undefined: the request's. */
    publicOrigin: e.PUBLIC_URL ? new URL(e.PUBLIC_URL).origin : undefined,
    /** Origins allowed to show /dashboard in a frame (DASHBOARD_FRAME_ANCESTORS); empty: none. */
    dashboardFrameAncestors: e.DASHBOARD_FRAME_ANCESTORS ?? [],
    /** OpenTelemetry traces: where they go and how (undefined: tracing off, the SDK is never loaded). */
    tracing:
      e.OTEL_EXPORTER_OTLP_ENDPOINT && !e.OTEL_SDK_DISABLED
        ? ({
            tracesUrl: e.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? tracesUrl(e.OTEL_EXPORTER_OTLP_ENDPOINT),
            // The specification's default: what collectors and vendors all accept.
            protocol: e.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? e.OTEL_EXPORTER_OTLP_PROTOCOL ?? 'http/protobuf',
          } satisfies TracingConfig)
        : undefined,
  };
}

/**
 * The share of one of `processes` API processes (API_PROCESSES) of each per-key rate, so
 * that a key gets the documented rate per machine, not per process: the port hands
 * connections to the processes in turn, so a key's requests spread over them. Bursts are
 * shared too, but never below what one operation needs (a full publishEvents batch, one
 * response).
 */
export function perApiProcess(config: Config, processes: number): Config {
  if (processes <= 1) return config;
  const share = (limit: { perSecond: number; burst: number }, smallestBurst: number) => ({
    perSecond: limit.perSecond / processes,
    burst: Math.max(smallestBurst, Math.ceil(limit.burst / processes)),
    // Refusals quote the documented figure, not this process's share of it.
    perSecondPerMachine: limit.perSecond,
  });
  return {
    ...config,
    rateLimit: share(config.rateLimit, 1),
    publishRateLimit: share(config.publishRateLimit, 100),
    fanOutRateLimit: share(config.fanOutRateLimit, 100),
    readRateLimitBytesPerSecond: config.readRateLimitBytesPerSecond / processes,
  };
}

/** Settings that hold secrets, each of which may instead name a file: X_FILE (a Docker or Kubernetes secret, a systemd credential). */
export const SECRET_FILE_VARIABLES = [
  'SECRET_ENCRYPTION_KEY',
  'SECRET_ENCRYPTION_OLD_KEYS',
  'DATABASE_URL',
  'DATABASE_DIRECT_URL',
] as const;

/**
 * The values of the X_FILE variables that are set, trimmed (files usually end with a newline),
 * keyed by X. An error names the variable, never the file's content.
 */
function readSecretFiles(env: Record<string, string | undefined>): Record<string, string> {
  const values: Record<string, string> = {};
  for (const variable of SECRET_FILE_VARIABLES) {
    const file = env[`${variable}_FILE`];
    if (file === undefined) continue;
    if (env[variable] !== undefined) {
      throw new ConfigError(`Invalid configuration: ${variable} and ${variable}_FILE are both set: set only one`);
    }
    let text: string;
    try {
      text = readFileSync(file, 'utf8').trim();
    } catch (error) {
      const reason = (error as NodeJS.ErrnoException).code ?? 'unreadable';
      throw new ConfigError(`Invalid configuration: ${variable}_FILE cannot be read (${reason}): ${file}`);
    }
    if (text === '') throw new ConfigError(`Invalid configuration: ${variable}_FILE names an empty file: ${file}`);
    values[variable] = text;
  }
  return values;
}

/**
 * DNS_TIMEOUT_MS when unset: half the attempt's timeout, at most 5 s. A name server that
 * answers at all answers within a second or two (5 s is glibc's own per-try timeout), and
 * half of the attempt is left for connecting and the receiver's response.
 */
export function dnsTimeoutFor(deliveryTimeoutMs: number): number {
  return Math.min(5_000, Math.floor(deliveryTimeoutMs / 2));
}

/** The specification's rule: the base endpoint with `v1/traces` appended to its path. */
function tracesUrl(endpoint: string): string {
  return `${endpoint.replace(/\/+$/, '')}/v1/traces`;
}
