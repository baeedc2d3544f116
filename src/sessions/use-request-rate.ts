import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { Plugin } from 'graphql-yoga';
import { hasValidChecksum } from '../auth/api-keys.js';
import { type Crowding, createCrowding } from '../auth/crowding.js';
import type { ApiKeyCache } from '../auth/key-cache.js';
import { createKeyTurns, type KeyTurnsOptions } from '../auth/key-turns.js';
import { createBuckets } from '../auth/use-rate-limit.js';
import { requestPath } from '../lib/request-path.js';
import { sessionCredentials } from './caller.js';
import { isTokenShaped, SESSION_TOKEN_PREFIX } from './store.js';

export type RequestRateOptions = {
  /** Requests per second to the GraphQL endpoint per live API key, and its burst; 0 turns it off. */
  perKey: { perSecond: number; burst: number };
  /**
   * Requests per second per client address from callers no key vouches for: no key, or a
   * key that is malformed, known not to be live, or not yet looked up and without a valid
   * checksum, or session credentials that are not a session token's shape. 0 turns it off.
   */
  perAddress: { perSecond: number; burst: number };
  /** Each live key's requests answered at once, and waiting their turn (auth/key-turns.ts). */
  turns?: Omit<KeyTurnsOptions, 'crowding'>;
  /** Told of every live key's request; turns are shared while it says crowded. Default: congested always. */
  crowding?: Crowding;
  /** The GraphQL endpoint's path: other paths (the dashboard, /health, /metrics) are not counted. */
  endpoint: string;
};

/**
 * Every request to the GraphQL endpoint is counted at the door, in Node's request
 * listener, before a Request is built or its body read: against its API key when memory
 * knows the key live (auth/key-cache.ts answers without a lookup), else against the
 * address it came from. A refusal is answered there, with a few bytes written straight to
 * the socket: a flood of made-up keys costs an HTTP parse each, not a trip through the
 * GraphQL server. A refused request is counted too (the bucket goes into debt, at most
 * one burst deep), so a client that ignores Retry-After and resends the moment it is
 * refused keeps getting this cheap 429 instead of making the server parse, validate and
 * refuse each request again.
 *
 * Not counted here: a key with a valid checksum not yet looked up (a fresh real key must
 * get through a flood of made-up ones: the checked lookup lane bounds those), and
 * dashboard sessions (they resolve later, and a session's page sends a handful).
 * In-process calls (`yoga.fetch`, in tests) have no socket and pass the door uncounted.
 */
export function createRequestDoor(
  options: RequestRateOptions,
  apiKeys: ApiKeyCache,
  waitingGauge?: { inc(): void; dec(): void },
) {
  const now = () => performance.now();
  const byKey = createBuckets(options.perKey.perSecond, options.perKey.burst, now);
  const byAddress = createBuckets(options.perAddress.perSecond, options.perAddress.burst, now);
  // The live key each request was counted against, to charge its refusals when they are known.
  const keyOf = new WeakMap<IncomingMessage, string>();
  const keyOfRequest = new WeakMap<Request, string>();
  const crowding = options.crowding ?? createCrowding();
  const turns = createKeyTurns({ shared: 0, alone: 0, waiting: 0, ...options.turns, crowding }, waitingGauge);

  /** Seconds to wait, or 0 when the request may pass. */
  const knock = (req: IncomingMessage): { retryAfter: number; limit?: number; per?: string } => {
    const apiKey = header(req, 'x-api-key')?.trim();
    if (apiKey) {
      const known = apiKeys.cached(apiKey);
      if (known) {
        keyOf.set(req, known.keyId);
        if (options.perKey.perSecond <= 0) return { retryAfter: 0 };
        return { retryAfter: byKey.knock(known.keyId), limit: options.perKey.perSecond, per: 'per API key' };
      }
      if (known === undefined && hasValidChecksum(apiKey)) return { retryAfter: 0 };
    } else {
      // A session's token is looked up in its own bounded lane (sessions/session-cache.ts);
      // anything else in its place is counted with the anonymous.
      const session = sessionCredentials({ headers: { get: (name) => header(req, name) } });
      if (session && isTokenShaped(session.token, SESSION_TOKEN_PREFIX)) return { retryAfter: 0 };
    }
    const address = req.socket.remoteAddress;
    if (options.perAddress.perSecond <= 0 || !address) return { retryAfter: 0 };
    return {
      retryAfter: byAddress.knock(address),
      limit: options.perAddress.perSecond,
      per: 'per client address without a valid API key',
    };
  };

  return {
    /** `handler` behind the door: what it refuses never reaches it. */
    guard(handler: RequestListener): RequestListener {
      return (req, res) => {
        if (requestPath(req.url) !== options.endpoint) return handler(req, res);
        const { retryAfter, limit, per } = knock(req);
        if (retryAfter > 0) {
          return refuse(
            res,
            retryAfter,
            `Rate limit exceeded: at most ${limit} requests per second ${per}; retry after ${retryAfter} s`,
          );
        }
        const keyId = keyOf.get(req);
        if (!keyId) return handler(req, res);
        crowding.seen(keyId);
        if (turns.admit(keyId, res, () => handler(req, res))) return;
        refuse(
          res,
          1,
          `Too many requests at once for this API key (${options.turns?.waiting} waiting for their turn): send fewer at a time`,
        );
      };
    },
    /**
     * A request refused after all (errors and no data: invalid, too costly, over a budget)
     * costs the key REFUSAL_WEIGHT requests: only a key refused over and over reaches its limit.
     */
    plugin: {
      onRequest({ request, serverContext }) {
        const req = (serverContext as { req?: IncomingMessage } | undefined)?.req;
        const keyId = req && keyOf.get(req);
        if (keyId) keyOfRequest.set(request, keyId);
      },
      onResultProcess({ request, result }) {
        const keyId = keyOfRequest.get(request);
        if (keyId && options.perKey.perSecond > 0 && !Array.isArray(result) && isRefusal(result))
          byKey.knock(keyId, REFUSAL_WEIGHT - 1);
      },
    } satisfies Plugin,
  };
}

/**
 * A 429 written straight to the socket, after a pause: a client that resends the moment it
 * is refused (ignoring Retry-After) then sends one request a second per connection, not one
 * per round trip. Node discards the unread body once the answer is written.
 */
function refuse(res: ServerResponse, retryAfter: number, message: string) {
  const body = JSON.stringify({ errors: [{ message, extensions: { code: 'RATE_LIMITED' } }] });
  setTimeout(() => {
    if (res.destroyed || res.headersSent) return;
    res.writeHead(429, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(body),
      'retry-after': String(retryAfter),
      // Readable by a browser client on any origin, as the API's own answers are.
      'access-control-allow-origin': '*',
      'access-control-expose-headers': 'retry-after',
    });
    res.end(body);
  }, REFUSAL_DELAY_MS);
}

const header = (req: IncomingMessage, name: string): string | null => {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(', ') : (value ?? null);
};

function isRefusal(result: unknown): boolean {
  if (!result || typeof result !== 'object' || !('errors' in result)) return false;
  const { errors, data } = result as { errors?: unknown[]; data?: unknown };
  return (errors?.length ?? 0) > 0 && data == null;
}

/**
 * What a refused request costs, in requests, against its key's REQUEST_RATE_LIMIT: a
 * refusal (parsed, validated, refused) costs the server about as much as fifty answers
 * from memory, so a key resending them in a loop reaches its limit fifty times sooner.
 */
export const REFUSAL_WEIGHT = 50;

/** How long a refusal at the door is held before it is answered. */
export const REFUSAL_DELAY_MS = 1_000;
