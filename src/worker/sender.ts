import type { LookupAddress } from 'node:dns';
import { isIP } from 'node:net';
import { Agent, buildConnector, errors, request } from 'undici';
import { dnsTimeoutFor } from '../config.js';
import { isForbiddenAddress } from '../webhooks/targets.js';
import { normalName } from './hosts-file.js';
import { createResolver, DnsError, type ResolverOptions } from './resolver.js';
import { parseRetryAfter } from './retry-policy.js';

/** What an attempt came to, for decisions and metrics: nothing is read back out of `error`. */
export type AttemptKind = 'success' | 'http_error' | 'timeout' | 'refused' | 'network' | 'internal';

/** The outcome of one HTTP attempt, as recorded in the attempt log. */
export type AttemptResult = {
  kind: AttemptKind;
  ok: boolean;
  statusCode: number | null;
  durationMs: number;
  error: string | null;
  /** The first 1 KiB of the response body, as text. */
  responseBody: string | null;
  retryAfterMs?: number;
};

export type SenderOptions = {
  timeoutMs: number;
  allowPrivateTargets: boolean;
  /** Keep-alive sockets per receiving origin. */
  connectionsPerOrigin?: number;
  /** Told the number of open sockets whenever it changes. */
  onSockets?: (open: number) => void;
  /** Name resolution (default: the system's name servers, DNS_TIMEOUT_MS's default rule, 16 lookups per workspace). */
  dns?: Partial<ResolverOptions>;
};

const RECORDED_BODY_BYTES = 1024;
// Read (and discard) up to this much so the keep-alive socket can be reused; a larger
// body closes the connection instead of being downloaded.
const DRAINED_BODY_BYTES = 64 * 1024;

class ForbiddenTargetError extends Error {}

/**
 * POSTs deliveries over keep-alive connections. Redirects are not followed: a 3xx is a
 * failed attempt. Each attempt resolves its host first (resolver.ts: within its own
 * timeout, in its workspace's lookup slots); a new connection goes to the addresses that
 * attempt resolved. Unless private targets are allowed, every one of them is vetted at
 * connect time and the socket connects to that vetted address (no second lookup, so DNS
 * rebinding has no window).
 */
export function createSender(options: SenderOptions) {
  const resolver = createResolver({
    timeoutMs: dnsTimeoutFor(options.timeoutMs),
    lookupsPerWorkspace: 16,
    ...options.dns,
  });
  // What the attempts in flight resolved, by host name: the connections they open go there.
  const pinned = new Map<string, { addresses: LookupAddress[]; attempts: number }>();
  const pin = (name: string, addresses: LookupAddress[]) => {
    const held = pinned.get(name);
    pinned.set(name, { addresses, attempts: (held?.attempts ?? 0) + 1 });
  };
  const unpin = (name: string) => {
    const held = pinned.get(name);
    if (held && --held.attempts === 0) pinned.delete(name);
  };

  /** net.connect's lookup: the pinned addresses (else a fresh resolution), each vetted. */
  function connectLookup(hostname: string, lookupOptions: { all?: boolean }, callback: LookupCallback): void {
    const held = pinned.get(normalName(hostname))?.addresses;
    (held ? Promise.resolve(held) : resolver.resolve(hostname)).then(
      (addresses) => {
        const forbidden = !options.allowPrivateTargets && addresses.some((a) => isForbiddenAddress(a.address));
        if (forbidden) {
          // The address stays out of the attempt log: tenants read it, and it would map internal names.
          return callback(new ForbiddenTargetError(`refused: ${hostname} does not resolve to a public address`), []);
        }
        if (lookupOptions.all) return callback(null, addresses);
        const [first] = addresses;
        if (!first) return callback(new DnsError('not_found', 'dns: name not found'), []);
        callback(null, first.address, first.family);
      },
      (error: NodeJS.ErrnoException) => callback(error, []),
    );
  }

  const connector = buildConnector({ timeout: options.timeoutMs, lookup: connectLookup });
  let openSockets = 0;
  const agent = new Agent({
    // Idle sockets are closed soon: with many receiving hosts they would otherwise add up.
    keepAliveTimeout: 4_000,
    connections: options.connectionsPerOrigin ?? 16,
    headersTimeout: options.timeoutMs,
    bodyTimeout: options.timeoutMs,
    connect(connectOptions, callback) {
      connector(connectOptions, (error, socket) => {
        if (socket) {
          options.onSockets?.(++openSockets);
          socket.once('close', () => options.onSockets?.(--openSockets));
        }
        // biome-ignore lint/style/noNonNullAssertion: undici's callback takes (error, null) or (null, socket)
        error ? callback(error, null) : callback(null, socket!);
      });
    },
  });

  /**
   * `cancel`: aborting it cuts the attempt short. The timeout aborts the same controller (its
   * reason a TimeoutError): one signal per attempt, where AbortSignal.timeout joined to the
   * caller's by AbortSignal.any made three and a few percent of a busy worker's time.
   * `workspaceId`: whose lookup slots resolving the host takes.
   */
  async function send(
    url: string,
    headers: Record<string, string>,
    body: string,
    cancel = new AbortController(),
    workspaceId?: string,
  ): Promise<AttemptResult> {
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);
    const failed = ([kind, error]: [AttemptKind, string]): AttemptResult => ({
      kind,
      ok: false,
      statusCode: null,
      durationMs: elapsed(),
      error,
      responseBody: null,
    });
    let target: URL;
    try {
      target = new URL(url);
    } catch {
      return failed(['network', 'invalid URL']);
    }
    const literal = target.hostname.replace(/^\[|\]$/g, '');
    if (!options.allowPrivateTargets && isIP(literal) && isForbiddenAddress(literal)) {
      return failed(['refused', `refused: ${literal} is not a public address`]);
    }
    // Resolving counts toward the attempt's time: its timeout starts before.
    const timer = setTimeout(
      () => cancel.abort(new DOMException('no complete response in time', 'TimeoutError')),
      options.timeoutMs,
    );
    const host = isIP(literal) === 0 ? normalName(literal) : undefined;
    if (host !== undefined) {
      try {
        pin(host, await resolver.resolve(host, { workspaceId, signal: cancel.signal }));
      } catch (error) {
        clearTimeout(timer);
        return failed(describeError(error, options.timeoutMs));
      }
    }
    try {
      const response = await request(target, {
        method: 'POST',
        headers,
        body,
        dispatcher: agent,
        signal: cancel.signal,
      });
      const responseBody = await readPrefix(response.body);
      const statusCode = response.statusCode;
      const ok = statusCode >= 200 && statusCode < 300;
      const retryAfter = statusCode === 429 || statusCode === 503 ? header(response.headers['retry-after']) : undefined;
      return {
        kind: ok ? 'success' : 'http_error',
        ok,
        statusCode,
        durationMs: elapsed(),
        error: ok ? null : statusError(statusCode),
        responseBody,
        retryAfterMs: parseRetryAfter(retryAfter),
      };
    } catch (error) {
      return failed(describeError(error, options.timeoutMs));
    } finally {
      clearTimeout(timer);
      if (host !== undefined) unpin(host);
    }
  }

  return {
    send,
    close: async () => {
      await agent.close();
      resolver.close();
    },
  };
}

export type Sender = ReturnType<typeof createSender>;

/** The metrics label of an attempt's outcome: few values, so dashboards stay cheap. */
export function attemptOutcome(result: Pick<AttemptResult, 'kind' | 'statusCode'>): string {
  if (result.kind === 'http_error' && result.statusCode !== null)
    return `http_${Math.floor(result.statusCode / 100)}xx`;
  return result.kind;
}

function header(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function statusError(status: number): string {
  if (status >= 300 && status < 400) return `HTTP ${status}: redirects are not followed`;
  return `HTTP ${status}`;
}

async function readPrefix(body: AsyncIterable<Buffer> & { destroy: () => void }): Promise<string | null> {
  const kept: Buffer[] = [];
  let keptBytes = 0;
  let total = 0;
  for await (const chunk of body) {
    if (keptBytes < RECORDED_BODY_BYTES) {
      kept.push(chunk.subarray(0, RECORDED_BODY_BYTES - keptBytes));
      keptBytes += Math.min(chunk.length, RECORDED_BODY_BYTES - keptBytes);
    }
    total += chunk.length;
    if (total > DRAINED_BODY_BYTES) {
      body.destroy();
      break;
    }
  }
  if (keptBytes === 0) return null;
  // PostgreSQL text cannot hold NUL; a cut multi-byte character becomes U+FFFD.
  return Buffer.concat(kept).toString('utf8').replaceAll('\u0000', '');
}

function describeError(error: unknown, timeoutMs: number): [AttemptKind, string] {
  const err = error as { name?: string; code?: string; message?: string; cause?: unknown };
  if (err instanceof ForbiddenTargetError || err.cause instanceof ForbiddenTargetError) {
    return ['refused', (err instanceof ForbiddenTargetError ? err : (err.cause as Error)).message];
  }
  const dnsError = err instanceof DnsError ? err : err.cause instanceof DnsError ? err.cause : undefined;
  if (dnsError) return [dnsError.outcome === 'timeout' ? 'timeout' : 'network', dnsError.message];
  if (
    err.name === 'TimeoutError' ||
    err instanceof errors.HeadersTimeoutError ||
    err instanceof errors.BodyTimeoutError ||
    err instanceof errors.ConnectTimeoutError
  ) {
    return ['timeout', `timeout: no complete response within ${timeoutMs} ms`];
  }
  const code = err.code ?? (err.cause as { code?: string } | undefined)?.code;
  switch (code) {
    case 'ECONNREFUSED':
      return ['network', 'connection refused'];
    case 'ECONNRESET':
    case 'UND_ERR_SOCKET':
      return ['network', 'connection reset by the receiver'];
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return ['network', 'host name did not resolve'];
    case 'CERT_HAS_EXPIRED':
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'ERR_TLS_CERT_ALTNAME_INVALID':
      return ['network', `TLS error: ${code}`];
    default:
      return ['network', code ? `network error: ${code}` : 'network error'];
  }
}

type LookupCallback = (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;
