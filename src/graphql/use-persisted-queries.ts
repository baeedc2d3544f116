import { type APQStore, useAPQ } from '@graphql-yoga/plugin-apq';
import type { Plugin } from 'graphql-yoga';

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
 * Anyone may teach the store (before authentication, as with Apollo Server), so it is
 * bounded in entries and in characters: filling it evicts, it never grows.
 */
export function usePersistedQueries(limits: PersistedQueryLimits): Plugin {
  return useAPQ({ store: createBoundedStore(limits) });
}

/** A least-recently-used map bounded by entries and total characters (a Map keeps insertion order). */
export function createBoundedStore({ maxEntries, maxChars }: PersistedQueryLimits): APQStore {
  const queries = new Map<string, string>();
  let chars = 0;
  return {
    get(hash) {
      const query = queries.get(hash);
      if (query === undefined) return null;
      queries.delete(hash);
      queries.set(hash, query);
      return query;
    },
    set(hash, query) {
      // A query larger than the whole store is still executed, just not kept.
      if (query.length > maxChars) return;
      const previous = queries.get(hash);
      if (previous !== undefined) {
        queries.delete(hash);
        chars -= previous.length;
      }
      queries.set(hash, query);
      chars += query.length;
      for (const [oldest, text] of queries) {
        if (queries.size <= maxEntries && chars <= maxChars) break;
        queries.delete(oldest);
        chars -= text.length;
      }
    },
  };
}
