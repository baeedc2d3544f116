import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig, perApiProcess } from '../src/config.js';

describe('configuration', () => {
  it('has the documented defaults', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      port: 4000,
      role: 'all',
      deliveryTimeoutMs: 10_000,
      allowPrivateTargets: false,
      retrySchedule: [5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000],
      disableAfterMs: 5 * 86_400_000,
      internalRetryDelayMs: 30_000,
      secretEncryptionOldKeys: [],
    });
  });

  it('refreshes the cluster-wide gauges every 10 s unless CLUSTER_METRICS_INTERVAL says otherwise', () => {
    expect(loadConfig({}).clusterMetricsIntervalMs).toBe(10_000);
    expect(loadConfig({ CLUSTER_METRICS_INTERVAL: '500ms' }).clusterMetricsIntervalMs).toBe(500);
  });

  it('reads the retired encryption keys, hex or base64, and the delay after a failure of ours', () => {
    const hex = 'ab'.repeat(32);
    const base64 = Buffer.alloc(32, 7).toString('base64');
    const config = loadConfig({
      SECRET_ENCRYPTION_OLD_KEYS: ` ${hex}, ${base64} `,
      DELIVERY_INTERNAL_RETRY_DELAY: '2s',
    });
    expect(config.secretEncryptionOldKeys.map((key) => key.toString('hex'))).toEqual([hex, '07'.repeat(32)]);
    expect(config.internalRetryDelayMs).toBe(2000);
  });

  it('reads every documented variable', () => {
    const key = 'ab'.repeat(32);
    const config = loadConfig({
      PORT: '8080',
      DATABASE_URL: 'postgres://u:p@db:5432/hooks',
      SECRET_ENCRYPTION_KEY: key,
      DELIVERY_TIMEOUT_MS: '2500',
      ALLOW_PRIVATE_TARGETS: 'true',
      ROLE: 'worker',
      DELIVERY_RETRY_SCHEDULE: '100ms, 1s,2m',
      DELIVERY_DISABLE_AFTER: '12h',
    });
    expect(config).toMatchObject({
      port: 8080,
      databaseUrl: 'postgres://u:p@db:5432/hooks',
      deliveryTimeoutMs: 2500,
      allowPrivateTargets: true,
      role: 'worker',
      retrySchedule: [100, 1000, 120_000],
      disableAfterMs: 12 * 3_600_000,
    });
    expect(config.secretEncryptionKey?.toString('hex')).toBe(key);
  });

  it('takes DATABASE_DIRECT_URL for LISTEN and migrations, DATABASE_URL by default; two different URLs declare a pooler', () => {
    const key = 'ab'.repeat(32);
    const pooled = 'postgres://u:p@pgbouncer:6432/hooks';
    const direct = 'postgres://u:p@db:5432/hooks';
    expect(loadConfig({ DATABASE_URL: direct, SECRET_ENCRYPTION_KEY: key })).toMatchObject({
      databaseUrl: direct,
      databaseDirectUrl: direct,
      databasePooler: false,
    });
    expect(loadConfig({ DATABASE_URL: direct, DATABASE_DIRECT_URL: direct, SECRET_ENCRYPTION_KEY: key })).toMatchObject(
      { databaseDirectUrl: direct, databasePooler: false },
    );
    expect(loadConfig({ DATABASE_URL: pooled, DATABASE_DIRECT_URL: direct, SECRET_ENCRYPTION_KEY: key })).toMatchObject(
      { databaseUrl: pooled, databaseDirectUrl: direct, databasePooler: true },
    );
    expect(loadConfig({})).toMatchObject({ databaseDirectUrl: undefined, databasePooler: false });
  });

  it.each([
    [{ PORT: 'eighty' }, 'PORT'],
    [{ PORT: '70000' }, 'PORT'],
    [{ ROLE: 'both' }, 'ROLE'],
    [{ DELIVERY_TIMEOUT_MS: '-1' }, 'DELIVERY_TIMEOUT_MS'],
    [{ DELIVERY_RETRY_SCHEDULE: '5s,soon' }, 'DELIVERY_RETRY_SCHEDULE'],
    [{ DELIVERY_DISABLE_AFTER: '5 days' }, 'DELIVERY_DISABLE_AFTER'],
    [{ ALLOW_PRIVATE_TARGETS: 'yes' }, 'ALLOW_PRIVATE_TARGETS'],
    [{ DATABASE_URL: 'mysql://x' }, 'DATABASE_URL'],
    [{ DATABASE_URL: 'postgres://db/hooks', DATABASE_DIRECT_URL: 'db:5432/hooks' }, 'DATABASE_DIRECT_URL'],
    [{ DATABASE_DIRECT_URL: 'postgres://db/hooks' }, 'DATABASE_DIRECT_URL'],
    [{ DATABASE_URL: 'postgres://db/hooks' }, 'SECRET_ENCRYPTION_KEY'],
    [{ DATABASE_URL: 'postgres://db/hooks', SECRET_ENCRYPTION_KEY: 'c2hvcnQ=' }, 'SECRET_ENCRYPTION_KEY'],
    [{ SECRET_ENCRYPTION_OLD_KEYS: `${'ab'.repeat(32)},c2hvcnQ=` }, 'SECRET_ENCRYPTION_OLD_KEYS'],
    [{ DELIVERY_INTERNAL_RETRY_DELAY: 'later' }, 'DELIVERY_INTERNAL_RETRY_DELAY'],
    [{ DELIVERY_INTERNAL_RETRY_DELAY: '0s' }, 'DELIVERY_INTERNAL_RETRY_DELAY'],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' }, 'OTEL_EXPORTER_OTLP_ENDPOINT'],
    [{ MIGRATIONS: 'skip' }, 'MIGRATIONS'],
    [{ CLUSTER_METRICS_INTERVAL: '10' }, 'CLUSTER_METRICS_INTERVAL'],
    [{ CLUSTER_METRICS_INTERVAL: '50ms' }, 'CLUSTER_METRICS_INTERVAL'],
    [{ SHUTDOWN_DELAY_MS: '-5' }, 'SHUTDOWN_DELAY_MS'],
    [
      { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' },
      'OTEL_EXPORTER_OTLP_PROTOCOL',
    ],
  ])('stops with one line naming the variable for %o', (env, variable) => {
    let message = '';
    try {
      loadConfig(env);
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain(variable);
    expect(message).not.toContain('\n');
  });

  it('serves the API from one process unless API_PROCESSES says how many (auto: one per CPU); a worker-only process serves none', () => {
    expect(loadConfig({}).apiProcesses).toBe(1);
    expect(loadConfig({ API_PROCESSES: '3' }).apiProcesses).toBe(3);
    expect(loadConfig({ API_PROCESSES: 'auto' }).apiProcesses).toBe(os.availableParallelism());
    expect(loadConfig({ API_PROCESSES: '4', ROLE: 'worker' }).apiProcesses).toBe(1);
    for (const bad of ['0', '-1', '1.5', 'two', '257', 'AUTO']) {
      expect(() => loadConfig({ API_PROCESSES: bad })).toThrow(
        /^Invalid configuration: API_PROCESSES must be a whole number from 1 to 256, or auto \(one per CPU\)$/,
      );
    }
  });

  it('shares each per-key rate among the API processes, so a key gets the documented rate per machine', () => {
    const config = loadConfig({
      RATE_LIMIT_PER_SECOND: '50',
      RATE_LIMIT_BURST: '100',
      PUBLISH_RATE_LIMIT_BURST: '150',
    });
    expect(perApiProcess(config, 1)).toBe(config);
    const share = perApiProcess(config, 2);
    expect(share.rateLimit).toEqual({ perSecond: 25, burst: 50, perSecondPerMachine: 50 });
    // Never below one full publishEvents batch.
    expect(share.publishRateLimit).toEqual({ perSecond: 500, burst: 100, perSecondPerMachine: 1_000 });
    expect(share.fanOutRateLimit).toEqual({ perSecond: 5_000, burst: 10_000, perSecondPerMachine: 10_000 });
    expect(share.readRateLimitBytesPerSecond).toBe(4 * 1_048_576);
  });

  it('applies migrations at start unless MIGRATIONS=verify', () => {
    expect(loadConfig({}).migrations).toBe('apply');
    expect(loadConfig({ MIGRATIONS: 'verify' }).migrations).toBe('verify');
  });

  it('drains in production for a quarter of SHUTDOWN_GRACE_MS, at most 2 s, unless SHUTDOWN_DELAY_MS says (never past the grace period)', () => {
    const production = { NODE_ENV: 'production' };
    expect(loadConfig(production)).toMatchObject({ shutdownGraceMs: 10_000, shutdownDelayMs: 2_000 });
    expect(loadConfig({ ...production, SHUTDOWN_GRACE_MS: '4000' }).shutdownDelayMs).toBe(1_000);
    expect(loadConfig({}).shutdownDelayMs).toBe(0);
    expect(loadConfig({ SHUTDOWN_DELAY_MS: '5000', SHUTDOWN_GRACE_MS: '30000' }).shutdownDelayMs).toBe(5_000);
    expect(loadConfig({ SHUTDOWN_DELAY_MS: '5000', SHUTDOWN_GRACE_MS: '3000' }).shutdownDelayMs).toBe(3_000);
  });

  it('lets `migrate` run with DATABASE_URL alone: it reads no secret', () => {
    expect(() => loadConfig({ DATABASE_URL: 'postgres://db/hooks' })).toThrow(/SECRET_ENCRYPTION_KEY/);
    expect(loadConfig({ DATABASE_URL: 'postgres://db/hooks' }, { requireSecretKey: false }).databaseUrl).toBe(
      'postgres://db/hooks',
    );
  });

  it('traces only with OTEL_EXPORTER_OTLP_ENDPOINT: to its /v1/traces, over http/protobuf unless told otherwise', () => {
    expect(loadConfig({}).tracing).toBeUndefined();
    // The signal's own endpoint says where, not whether.
    expect(
      loadConfig({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/v1/traces' }).tracing,
    ).toBeUndefined();
    expect(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' }).tracing).toEqual({
      tracesUrl: 'http://collector:4318/v1/traces',
      protocol: 'http/protobuf',
    });
    expect(
      loadConfig({
        OTEL_EXPORTER_OTLP_ENDPOINT: 'https://otlp.example.com/base',
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://traces.example.com/in',
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
        OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json',
      }).tracing,
    ).toEqual({ tracesUrl: 'https://traces.example.com/in', protocol: 'http/json' });
    expect(
      loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_SDK_DISABLED: 'true' }).tracing,
    ).toBeUndefined();
  });
});

describe('name resolution settings', () => {
  it('default to the system name servers, half the delivery timeout (at most 5 s) and 16 lookups per workspace', () => {
    expect(loadConfig({}).dns).toEqual({ servers: undefined, timeoutMs: 5_000, lookupsPerWorkspace: 16 });
    expect(loadConfig({ DELIVERY_TIMEOUT_MS: '3000' }).dns.timeoutMs).toBe(1_500);
    expect(loadConfig({ DELIVERY_TIMEOUT_MS: '60000' }).dns.timeoutMs).toBe(5_000);
  });

  it('lets nobody frame the dashboard unless DASHBOARD_FRAME_ANCESTORS lists origins (spaces or commas)', () => {
    expect(loadConfig({}).dashboardFrameAncestors).toEqual([]);
    expect(
      loadConfig({
        DASHBOARD_FRAME_ANCESTORS: ' https://app.example.com, https://*.example.org:8443  http://localhost:3000',
      }).dashboardFrameAncestors,
    ).toEqual(['https://app.example.com', 'https://*.example.org:8443', 'http://localhost:3000']);
    for (const bad of ['app.example.com', 'https://app.example.com/embed', "'self'; script-src *", '*']) {
      expect(() => loadConfig({ DASHBOARD_FRAME_ANCESTORS: bad })).toThrow(
        /^Invalid configuration: DASHBOARD_FRAME_ANCESTORS ".+" is not an origin/,
      );
    }
  });

  it('reads DNS_SERVERS, DNS_TIMEOUT_MS and DNS_LOOKUPS_PER_WORKSPACE', () => {
    const config = loadConfig({
      DNS_SERVERS: '10.0.0.2, 127.0.0.1:5353,[2001:db8::53]:53,2001:db8::54',
      DNS_TIMEOUT_MS: '800',
      DNS_LOOKUPS_PER_WORKSPACE: '4',
    });
    expect(config.dns).toEqual({
      servers: ['10.0.0.2', '127.0.0.1:5353', '[2001:db8::53]:53', '2001:db8::54'],
      timeoutMs: 800,
      lookupsPerWorkspace: 4,
    });
  });

  it('bounds dashboard sessions at 1,000 per workspace and takes PUBLIC_URL as an origin for portal URLs', () => {
    expect(loadConfig({})).toMatchObject({ dashboardSessionsPerWorkspace: 1_000, publicOrigin: undefined });
    expect(
      loadConfig({ DASHBOARD_SESSIONS_PER_WORKSPACE: '5', PUBLIC_URL: 'https://hooks.example.com/base/' }),
    ).toMatchObject({ dashboardSessionsPerWorkspace: 5, publicOrigin: 'https://hooks.example.com' });
  });

  it('counts requests at the door: 2,000/s (bursts of 4,000) per live key, 20/s (bursts of 40) per address without one; 0 turns each off', () => {
    expect(loadConfig({})).toMatchObject({
      requestRateLimit: { perSecond: 2000, burst: 4000 },
      addressRateLimit: { perSecond: 20, burst: 40 },
    });
    expect(
      loadConfig({
        REQUEST_RATE_LIMIT_PER_SECOND: '0',
        REQUEST_RATE_LIMIT_BURST: '5',
        ADDRESS_RATE_LIMIT_PER_SECOND: '2.5',
        ADDRESS_RATE_LIMIT_BURST: '3',
      }),
    ).toMatchObject({ requestRateLimit: { perSecond: 0, burst: 5 }, addressRateLimit: { perSecond: 2.5, burst: 3 } });
  });

  it("takes each key's turns at the door: 1 at once while other keys are served, OPERATIONS_PER_KEY alone; 0 turns it off", () => {
    expect(loadConfig({})).toMatchObject({ requestTurns: { shared: 1, alone: 5, waiting: 256 } });
    expect(
      loadConfig({ REQUESTS_AT_ONCE_PER_KEY: '0', OPERATIONS_PER_KEY: '8', OPERATIONS_WAITING_PER_KEY: '10' }),
    ).toMatchObject({ requestTurns: { shared: 0, alone: 8, waiting: 10 }, operationsPerKey: { running: 8 } });
  });

  it.each([
    [{ REQUESTS_AT_ONCE_PER_KEY: '-1' }, 'REQUESTS_AT_ONCE_PER_KEY'],
    [{ REQUESTS_AT_ONCE_PER_KEY: '1.5' }, 'REQUESTS_AT_ONCE_PER_KEY'],
    [{ REQUEST_RATE_LIMIT_PER_SECOND: '-1' }, 'REQUEST_RATE_LIMIT_PER_SECOND'],
    [{ REQUEST_RATE_LIMIT_BURST: '0' }, 'REQUEST_RATE_LIMIT_BURST'],
    [{ ADDRESS_RATE_LIMIT_PER_SECOND: 'lots' }, 'ADDRESS_RATE_LIMIT_PER_SECOND'],
    [{ ADDRESS_RATE_LIMIT_BURST: '1.5' }, 'ADDRESS_RATE_LIMIT_BURST'],
    [{ DNS_SERVERS: 'ns1.example.com' }, 'DNS_SERVERS'],
    [{ DASHBOARD_SESSIONS_PER_WORKSPACE: '0' }, 'DASHBOARD_SESSIONS_PER_WORKSPACE'],
    [{ PUBLIC_URL: 'hooks.example.com' }, 'PUBLIC_URL'],
    [{ DNS_SERVERS: '10.0.0.2:99999' }, 'DNS_SERVERS'],
    [{ DNS_SERVERS: '10.0.0.2;10.0.0.3' }, 'DNS_SERVERS'],
    [{ DNS_TIMEOUT_MS: 'soon' }, 'DNS_TIMEOUT_MS'],
    [{ DNS_TIMEOUT_MS: '10000' }, 'DNS_TIMEOUT_MS'],
    [{ DELIVERY_TIMEOUT_MS: '2000', DNS_TIMEOUT_MS: '2500' }, 'DNS_TIMEOUT_MS'],
    [{ DNS_LOOKUPS_PER_WORKSPACE: '0' }, 'DNS_LOOKUPS_PER_WORKSPACE'],
  ])('stops with one line naming the variable for %o', (env, variable) => {
    expect(() => loadConfig(env)).toThrow(variable);
    try {
      loadConfig(env);
    } catch (error) {
      expect((error as Error).message).not.toContain('\n');
    }
  });
});

describe('secrets read from files (X_FILE)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'convo-hooks-config-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, content: string) => {
    const target = path.join(dir, name);
    fs.writeFileSync(target, content);
    return target;
  };
  const key = 'ab'.repeat(32);
  const oldKey = 'cd'.repeat(32);
  const pooled = 'postgres://app:s3cret@pgbouncer:6432/hooks';
  const direct = 'postgres://app:s3cret@db:5432/hooks';

  it('reads each secret from its file, trimmed, as if it were the variable', () => {
    const config = loadConfig({
      SECRET_ENCRYPTION_KEY_FILE: file('key', `${key}\n`),
      SECRET_ENCRYPTION_OLD_KEYS_FILE: file('old-keys', ` ${oldKey}\n`),
      DATABASE_URL_FILE: file('url', `${pooled}\n`),
      DATABASE_DIRECT_URL_FILE: file('direct-url', `${direct}\r\n`),
    });
    expect(config.secretEncryptionKey?.toString('hex')).toBe(key);
    expect(config.secretEncryptionOldKeys.map((k) => k.toString('hex'))).toEqual([oldKey]);
    expect(config).toMatchObject({ databaseUrl: pooled, databaseDirectUrl: direct, databasePooler: true });
  });

  it('counts a file as the variable set: DATABASE_URL from a file still requires the key', () => {
    expect(() => loadConfig({ DATABASE_URL_FILE: file('url-only', direct) })).toThrow(
      /^Invalid configuration: SECRET_ENCRYPTION_KEY \(or SECRET_ENCRYPTION_KEY_FILE\) is required/,
    );
  });

  it.each([
    [
      'both set',
      () => ({ SECRET_ENCRYPTION_KEY: key, SECRET_ENCRYPTION_KEY_FILE: file('k2', key) }),
      /SECRET_ENCRYPTION_KEY and SECRET_ENCRYPTION_KEY_FILE are both set/,
    ],
    [
      'a missing file',
      () => ({ DATABASE_URL_FILE: path.join(dir, 'nowhere') }),
      /DATABASE_URL_FILE cannot be read \(ENOENT\)/,
    ],
    ['a directory', () => ({ DATABASE_DIRECT_URL_FILE: dir }), /DATABASE_DIRECT_URL_FILE cannot be read \(EISDIR\)/],
    [
      'an empty file',
      () => ({ SECRET_ENCRYPTION_OLD_KEYS_FILE: file('empty', '\n') }),
      /SECRET_ENCRYPTION_OLD_KEYS_FILE names an empty file/,
    ],
    [
      'a bad value',
      () => ({ SECRET_ENCRYPTION_KEY_FILE: file('short', 'not-a-key') }),
      /SECRET_ENCRYPTION_KEY \(read from SECRET_ENCRYPTION_KEY_FILE\) must be 32 bytes/,
    ],
    [
      'a bad URL',
      () => ({ DATABASE_URL_FILE: file('mysql', 'mysql://root:hunter2@db/x'), SECRET_ENCRYPTION_KEY: key }),
      /DATABASE_URL \(read from DATABASE_URL_FILE\) must be a postgres:\/\/ URL/,
    ],
  ])('stops with one line naming the variable for %s, never the secret', (_case, env, message) => {
    let error: unknown;
    try {
      loadConfig(env());
    } catch (caught) {
      error = caught;
    }
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).toMatch(/^Invalid configuration: /);
    expect((error as Error).message).not.toContain('\n');
    expect((error as Error).message).not.toMatch(/hunter2|not-a-key|abab/);
  });
});
