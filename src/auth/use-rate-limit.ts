import { GraphQLError, getOperationAST } from 'graphql';
import type { Plugin } from 'graphql-yoga';

export type RateLimitOptions = {
  /** Sustained mutations per second per API key; 0 turns the limit off. */
  perSecond: number;
  /** How many may come at once before the sustained rate applies. */
  burst: number;
};

// Keys seen recently; a full map forgets its oldest entries (a forgotten key starts with a full bucket).
const MAX_TRACKED_KEYS = 10_000;

/**
 * A token bucket per API key for mutations, in this process's memory: with N instances
 * behind a load balancer a key gets up to N times the rate. Refused operations answer
 * HTTP 429, `RATE_LIMITED`, and a Retry-After in seconds.
 */
export function useMutationRateLimit(options: RateLimitOptions, now = () => performance.now()): Plugin {
  const buckets = new Map<string, { tokens: number; at: number }>();
  return {
    onExecute({ args }) {
      if (options.perSecond <= 0) return;
      const keyId = (args.contextValue as { apiKeyId?: string }).apiKeyId;
      if (!keyId || getOperationAST(args.document, args.operationName)?.operation !== 'mutation') return;
      const t = now();
      const bucket = buckets.get(keyId) ?? { tokens: options.burst, at: t };
      bucket.tokens = Math.min(options.burst, bucket.tokens + ((t - bucket.at) / 1000) * options.perSecond);
      bucket.at = t;
      buckets.delete(keyId);
      buckets.set(keyId, bucket);
      if (buckets.size > MAX_TRACKED_KEYS) buckets.delete(buckets.keys().next().value as string);
      if (bucket.tokens >= 1) {
        bucket.tokens -= 1;
        return;
      }
      const retryAfter = Math.max(1, Math.ceil((1 - bucket.tokens) / options.perSecond));
      throw new GraphQLError(`Rate limit exceeded: at most ${options.perSecond} mutations per second per API key`, {
        extensions: { code: 'RATE_LIMITED', http: { status: 429, headers: { 'Retry-After': String(retryAfter) } } },
      });
    },
  };
}
