import type { IncomingMessage } from 'node:http';
import type { Plugin } from 'graphql-yoga';
import { hasValidChecksum } from '../auth/api-keys.js';
import type { ApiKeyCache } from '../auth/key-cache.js';
import { createBuckets } from '../auth/use-rate-limit.js';
import { refuse } from '../graphql/use-http-guards.js';
import { sessionCredentials } from './caller.js';

export type RequestRateOptions = {
  /** Requests per second to the GraphQL endpoint per live API key, and its burst; 0 turns it off. */
  perKey: { perSecond: number; burst: number };
  /**
   * Requests per second per client address from callers no key vouches for: no key, or a
   * key that is malformed, known not to be live, or not yet looked up and without a valid
   * checksum. 0 turns it off.
   */
  perAddress: { perSecond: number; burst: number };
  /** The GraphQL endpoint's path: other paths (the dashboard, /health, /metrics) are not counted. */
  endpoint: string;
};

/**
 * Every request to the GraphQL endpoint is counted at the door, before its body is read or
 * parsed: against its API key when memory knows the key live (auth/key-cache.ts answers
 * without a lookup), else against the address it came from. A refused request is counted
 * too (the bucket goes into debt, at most one burst deep), so a client that ignores
 * Retry-After and resends the moment it is refused keeps getting this cheap 429 instead
 * of making the server parse, validate and refuse each request again.
 *
 * Not counted here: a key with a valid checksum not yet looked up (a fresh real key must
 * get through a flood of made-up ones: the checked lookup lane bounds those), and
 * dashboard sessions (they resolve later, and a session's page sends a handful).
 */
export function useRequestRate(options: RequestRateOptions, apiKeys: ApiKeyCache): Plugin {
  const now = () => performance.now();
  const byKey = createBuckets(options.perKey.perSecond, options.perKey.burst, now);
  const byAddress = createBuckets(options.perAddress.perSecond, options.perAddress.burst, now);

  /** Seconds to wait, or 0 when the request may pass. */
  const knock = (
    request: Request,
    address: string | undefined,
  ): { retryAfter: number; limit?: number; per?: string } => {
    const apiKey = request.headers.get('x-api-key')?.trim();
    if (apiKey) {
      const known = apiKeys.cached(apiKey);
      if (known) {
        if (options.perKey.perSecond <= 0) return { retryAfter: 0 };
        keyOf.set(request, known.keyId);
        return { retryAfter: byKey.knock(known.keyId), limit: options.perKey.perSecond, per: 'per API key' };
      }
      if (known === undefined && hasValidChecksum(apiKey)) return { retryAfter: 0 };
    } else if (sessionCredentials(request)) {
      return { retryAfter: 0 };
    }
    // Without a socket (an in-process `yoga.fetch`) there is no address to count against.
    if (options.perAddress.perSecond <= 0 || !address) return { retryAfter: 0 };
    return {
      retryAfter: byAddress.knock(address),
      limit: options.perAddress.perSecond,
      per: 'per client address without a valid API key',
    };
  };

  // The live key each request was counted against, to charge its refusals when they are known.
  const keyOf = new WeakMap<Request, string>();

  return {
    onRequest({ request, url, serverContext, endResponse }) {
      if (url.pathname !== options.endpoint) return;
      // Node's request, when served over a socket (main.ts); yoga.fetch in-process has none.
      const address = (serverContext as { req?: IncomingMessage } | undefined)?.req?.socket.remoteAddress;
      const { retryAfter, limit, per } = knock(request, address);
      if (retryAfter === 0) return;
      // Answered after a pause: a client that resends the moment it is refused (ignoring
      // Retry-After) then sends one request a second per connection, not one per round trip.
      return pause(REFUSAL_DELAY_MS).then(() =>
        endResponse(
          refuse(
            429,
            'RATE_LIMITED',
            `Rate limit exceeded: at most ${limit} requests per second ${per}; retry after ${retryAfter} s`,
            { 'retry-after': String(retryAfter) },
          ),
        ),
      );
    },
    // A request refused after all (errors and no data: invalid, too costly, over a budget)
    // costs the key REFUSAL_WEIGHT requests: only a key refused over and over reaches its limit.
    onResultProcess({ request, result }) {
      const keyId = keyOf.get(request);
      if (keyId && !Array.isArray(result) && isRefusal(result)) byKey.knock(keyId, REFUSAL_WEIGHT - 1);
    },
  };
}

function isRefusal(result: unknown): boolean {
  if (!result || typeof result !== 'object' || !('errors' in result)) return false;
  const { errors, data } = result as { errors?: unknown[]; data?: unknown };
  return (errors?.length ?? 0) > 0 && data == null;
}

/** What a refused request costs, in requests, against its key's REQUEST_RATE_LIMIT. */
export const REFUSAL_WEIGHT = 10;

/** How long a refusal at the door is held before it is answered. */
export const REFUSAL_DELAY_MS = 1_000;

const pause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
