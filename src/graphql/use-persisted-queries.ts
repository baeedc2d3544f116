import { createHash } from 'node:crypto';
import { createGraphQLError, type Plugin } from 'graphql-yoga';
import { createLru } from '../lib/lru.js';

export type PersistedQueryLimits = {
  /** Queries kept at once; the least recently used goes first. */
  maxEntries: number;
  /** Total characters of the queries kept. */
  maxChars: number;
};

/**
 * Apollo's automatic persisted queries: a client sends only the query's SHA-256; when the
 * server does not know it (`PersistedQueryNotFound`, code PERSISTED_QUERY_NOT_FOUND), the
 * client sends hash and query together and the server keeps the query under its hash.
 *
 * Only a caller with a live API key teaches the store, and each key has its own entries:
 * an anonymous caller can neither fill the store nor probe which queries others use. The
 * store is bounded in entries and in characters: filling it evicts, it never grows.
 */
export function usePersistedQueries(
  limits: PersistedQueryLimits,
  keyOf: (request: Request) => Promise<string | null>,
): Plugin {
  const store = createBoundedStore(limits);
  return {
    async onParams({ params, request, setParams }) {
      const persisted = params.extensions?.persistedQuery as { version?: unknown; sha256Hash?: unknown } | undefined;
      if (persisted?.version !== 1 || typeof persisted.sha256Hash !== 'string') return;
      // Not a query's text: Yoga's own check of the parameters (after this) answers 400.
      if (params.query != null && typeof params.query !== 'string') return;
      const keyId = await keyOf(request);
      const entry = keyId ? `${keyId}:${persisted.sha256Hash}` : null;
      if (params.query == null) {
        const query = entry ? store.get(entry) : null;
        if (query == null) throw persistedQueryError('PersistedQueryNotFound', 'PERSISTED_QUERY_NOT_FOUND', 404);
        setParams({ ...params, query });
        return;
      }
      if (createHash('sha256').update(params.query).digest('hex') !== persisted.sha256Hash) {
        throw persistedQueryError('PersistedQueryMismatch', 'PERSISTED_QUERY_MISMATCH', 400);
      }
      if (entry) store.set(entry, params.query);
    },
  };
}

function persistedQueryError(message: string, code: string, status: number) {
  return createGraphQLError(message, { extensions: { code, http: { status } } });
}

/** Queries by hash, least recently used out first, bounded in entries and in total characters. */
export function createBoundedStore({ maxEntries, maxChars }: PersistedQueryLimits) {
  // A query larger than the whole store is still executed, just not kept.
  return createLru<string, string>({ maxEntries, maxWeight: maxChars, weigh: (query) => query.length });
}
