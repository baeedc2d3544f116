import { createListener, type Listener } from '../db/listener.js';
import type { Pool } from '../db/sql.js';
import type { Logger } from '../lib/logger.js';
import { createLookupLane } from '../lib/lookup-lane.js';
import { type AuthenticatedKey, apiKeyDigestHex, findLiveKey, hasValidChecksum, isApiKeyShaped } from './api-keys.js';
import { createCredentialMemory } from './credential-memory.js';
import { createKeyUsage } from './key-usage.js';

export type ApiKeyCacheOptions = {
  /** Live keys remembered per process (least recently used forgotten first). */
  size?: number;
  /** Digests known to match no live key, kept apart so they can never evict a live key. */
  unknownSize?: number;
  /** How long a cached key is trusted while revocations are being heard. */
  maxAgeMs?: number;
  /** How long while they are not (LISTEN not yet, or no longer, established). */
  unheardMaxAgeMs?: number;
  /** How often `lastUsedAt` is written: one statement per interval for every key used. */
  flushMs?: number;
  /** Database lookups for keys not in the cache, at once; more wait, up to `maxWaiting`. */
  maxLookups?: number;
  maxWaiting?: number;
  /**
   * The same for keys without a valid checksum (made up, or issued before keys carried
   * one): a lane of their own, so they never queue ahead of real keys.
   */
  maxUncheckedLookups?: number;
  maxUncheckedWaiting?: number;
  log?: Logger;
  now?: () => number;
  /** The process's listening session; by default one of the cache's own, on the pool's settings. */
  listener?: Listener;
};

export const API_KEY_CACHE_DEFAULTS = {
  size: 10_000,
  unknownSize: 10_000,
  maxAgeMs: 60_000,
  unheardMaxAgeMs: 1_000,
  flushMs: 60_000,
  maxLookups: 4,
  maxWaiting: 256,
  maxUncheckedLookups: 1,
  maxUncheckedWaiting: 16,
} satisfies ApiKeyCacheOptions;

/**
 * API keys resolved in memory (credential-memory.ts: revocations pushed, entries trusted
 * 60 s at most, 1 s while revocations are not heard), with their uses written in batches
 * (key-usage.ts).
 *
 * Against floods of made-up keys: a key not of the `chk_` + 40 base62 shape is refused
 * without a lookup; digests that match no live key are remembered apart, so they never
 * evict a live key; and lookups of uncached keys run `maxLookups` at a time with at most
 * `maxWaiting` queued, past which the request is refused (LookupsBusy → 503) rather than
 * queue on the pool every other request needs. Keys whose checksum does not hold (made
 * up, or older than the checksum) and that this process has not seen live have a lane of
 * their own (`maxUncheckedLookups`, `maxUncheckedWaiting`), so a flood of them never
 * delays a real key.
 */
export function createApiKeyCache(sql: Pool, options: ApiKeyCacheOptions = {}) {
  const o = { ...API_KEY_CACHE_DEFAULTS, ...options };
  const ownListener = options.listener ? undefined : createListener(sql, { log: o.log });
  const memory = createCredentialMemory<AuthenticatedKey>({
    ...o,
    listener: options.listener ?? (ownListener as Listener),
    revokedBy: (key) => [key.keyId],
    onListen: () => o.log?.info('listening for API key revocations (key cache cleared)'),
  });
  const usage = createKeyUsage(sql, o);
  const checkedLane = createLookupLane(o.maxLookups, o.maxWaiting);
  const uncheckedLane = createLookupLane(o.maxUncheckedLookups, o.maxUncheckedWaiting);

  const lookUp = (digest: string, checked: boolean) => {
    // A key seen live here before (its entry expired) is as good as a checked one.
    const lane = checked || memory.seenLive(digest) ? checkedLane : uncheckedLane;
    return memory.lookUp(digest, lane, () => findLiveKey(sql, Buffer.from(digest, 'hex')));
  };

  /** Notes the use of a live key (for lastUsedAt) and answers a copy of it. */
  const noteUse = (key: AuthenticatedKey | null): AuthenticatedKey | null => {
    if (!key) return null;
    usage.note(key.keyId);
    return { keyId: key.keyId, workspaceId: key.workspaceId };
  };

  /**
   * As `authenticate`, but answers at once when memory decides (every request of a key
   * but about one a minute), so the request need not wait for a promise's turn;
   * undefined when the key must be looked up: then ask `authenticate`.
   */
  const cached = (apiKey: string): AuthenticatedKey | null | undefined => {
    if (!isApiKeyShaped(apiKey)) return null;
    const key = memory.recall(apiKeyDigestHex(apiKey));
    return key === undefined ? undefined : noteUse(key);
  };

  return {
    /** The live key and its workspace, or null for a malformed, unknown or revoked key. */
    async authenticate(apiKey: string): Promise<AuthenticatedKey | null> {
      const known = cached(apiKey);
      // A miss hashes the key a second time: about one request a minute per key.
      return known !== undefined ? known : noteUse(await lookUp(apiKeyDigestHex(apiKey), hasValidChecksum(apiKey)));
    },
    cached,
    /** When this process last saw the key used, if not written yet. */
    pendingUse: usage.pending,
    /** Forgets a key at once (this process revoked it; the notice reaches the others). */
    forget: memory.forget,
    /** Writes the pending `lastUsedAt` times now. */
    flush: usage.flush,
    /** Stops listening and writes what is pending. */
    async close() {
      await usage.close();
      await memory.close();
      await ownListener?.close();
    },
    /** For tests and metrics: what is held, and whether revocations are being heard. */
    size: () => {
      const { known, unknown, listening } = memory.size();
      return { known, unknown, pendingUses: usage.size(), listening };
    },
  };
}

export type ApiKeyCache = ReturnType<typeof createApiKeyCache>;
