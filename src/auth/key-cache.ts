import { API_KEY_REVOKED } from '../db/channels.js';
import { createListener, type Listener } from '../db/listener.js';
import type { Pool } from '../db/sql.js';
import type { Logger } from '../lib/logger.js';
import { createLookupLane } from '../lib/lookup-lane.js';
import {
  type AuthenticatedKey,
  apiKeyDigestHex,
  findLiveKey,
  hasValidChecksum,
  isApiKeyShaped,
  recordKeyUse,
} from './api-keys.js';

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

type Entry = AuthenticatedKey & { at: number };

/**
 * API keys resolved in memory, so authenticating a request costs no round trip.
 *
 * Revocation is pushed: every instance LISTENs on API_KEY_REVOKED (through the process's
 * listener, db/listener.ts, which retries every second while it is down) and forgets the
 * key at once. Notices sent while it is away are lost, so each (re)listen clears the cache; while it
 * is down, and before the first LISTEN, entries are trusted for `unheardMaxAgeMs` (1 s)
 * only; and a key is trusted for at most `maxAgeMs` (60 s) before it is looked up again,
 * a last bound on any notice missed in a way we cannot see.
 *
 * Against floods of made-up keys: a key not of the `chk_` + 40 base62 shape is refused
 * without a lookup; digests found to match no live key go to a separate bounded map (an
 * unknown key cannot become valid: keys are random and revocation is final), so they
 * never evict a live key; concurrent lookups of one digest share one query; and lookups
 * of uncached keys run `maxLookups` at a time with at most `maxWaiting` queued, past which
 * the request is refused (LookupsBusy → 503), rather than queueing on the pool that every
 * other request needs. Keys whose checksum does not hold (made up, or older than the
 * checksum) and that this process has not seen live have a lane of their own
 * (`maxUncheckedLookups`, `maxUncheckedWaiting`), so a flood of them never delays a real key.
 *
 * `lastUsedAt` is noted in memory and written for all keys used in one statement every
 * `flushMs` (60 s), and on close: it may trail the last request by about a minute, and a
 * crash loses at most that minute.
 */
export function createApiKeyCache(sql: Pool, options: ApiKeyCacheOptions = {}) {
  const o = { ...API_KEY_CACHE_DEFAULTS, ...options };
  const now = options.now ?? Date.now;
  const known = new Map<string, Entry>(); // digest (hex) → key, in least-recently-used order
  const digestOfKey = new Map<string, string>(); // key id → digest, to forget a revoked key
  const unknown = new Map<string, true>();
  const inFlight = new Map<string, Promise<AuthenticatedKey | null>>();
  const used = new Map<string, number>(); // key id → when last used, not yet written
  // Bumped by every revocation and reconnect: a lookup that started before one does not
  // cache its answer (it may predate the revocation), though it still serves its request.
  let epoch = 0;

  const forgetKey = (keyId: string) => {
    epoch++;
    const digest = digestOfKey.get(keyId);
    if (digest === undefined) return;
    digestOfKey.delete(keyId);
    known.delete(digest);
  };
  const clear = () => {
    epoch++;
    known.clear();
    digestOfKey.clear();
  };

  // Revocations come through the process's listening session (db/listener.ts), which
  // reconnects by itself and says when it listens again: whatever was revoked while it was
  // away was not heard, so the cache starts over.
  const ownListener = options.listener ? undefined : createListener(sql, { log: o.log });
  const listener = options.listener ?? (ownListener as Listener);
  let subscription: Promise<{ unsubscribe: () => Promise<void> }> | undefined;
  let subscribed = false;
  const ensureListening = () => {
    subscription ??= listener.subscribe(API_KEY_REVOKED, {
      onNotify: forgetKey,
      onListen: () => {
        clear();
        subscribed = true;
        o.log?.info('listening for API key revocations (key cache cleared)');
      },
    });
  };
  /** Whether revocations are being heard right now. */
  const hearing = () => subscribed && listener.health().connected;

  const remember = (digest: string, key: AuthenticatedKey) => {
    known.delete(digest);
    known.set(digest, { ...key, at: now() });
    digestOfKey.set(key.keyId, digest);
    if (known.size > o.size) {
      const [oldest, entry] = known.entries().next().value as [string, Entry];
      known.delete(oldest);
      if (digestOfKey.get(entry.keyId) === oldest) digestOfKey.delete(entry.keyId);
    }
  };
  const rememberUnknown = (digest: string) => {
    unknown.set(digest, true);
    if (unknown.size > o.unknownSize) unknown.delete(unknown.keys().next().value as string);
  };

  const checkedLane = createLookupLane(o.maxLookups, o.maxWaiting);
  const uncheckedLane = createLookupLane(o.maxUncheckedLookups, o.maxUncheckedWaiting);

  const lookUp = (digest: string, checked: boolean): Promise<AuthenticatedKey | null> => {
    const pending = inFlight.get(digest);
    if (pending) return pending;
    const startedIn = epoch;
    // A key seen live here before (its entry expired) is as good as a checked one.
    const lane = checked || known.has(digest) ? checkedLane : uncheckedLane;
    const lookup = lane(() => findLiveKey(sql, Buffer.from(digest, 'hex')))
      .then((key) => {
        if (startedIn === epoch) {
          if (key) remember(digest, key);
          else rememberUnknown(digest);
        }
        return key;
      })
      .finally(() => inFlight.delete(digest));
    inFlight.set(digest, lookup);
    return lookup;
  };

  const flush = async () => {
    if (used.size === 0) return;
    const batch = new Map(used);
    used.clear();
    try {
      await recordKeyUse(sql, batch);
    } catch (error) {
      // Kept for the next flush, unless a later use has been noted since.
      for (const [keyId, at] of batch) if ((used.get(keyId) ?? 0) < at) used.set(keyId, at);
      o.log?.warn({ err: error }, 'recording when API keys were last used failed; trying again later');
    }
  };
  const flushTimer = setInterval(() => void flush(), o.flushMs);
  flushTimer.unref();

  /** Notes the use of a live key (for lastUsedAt) and answers a copy of it. */
  const noteUse = (key: AuthenticatedKey | null): AuthenticatedKey | null => {
    if (!key) return null;
    used.set(key.keyId, now());
    return { keyId: key.keyId, workspaceId: key.workspaceId };
  };

  /** What memory says of a digest: the key, null (known to match no live key), or undefined (ask the database). */
  const remembered = (digest: string): AuthenticatedKey | null | undefined => {
    const key = known.get(digest);
    if (key && now() - key.at < (hearing() ? o.maxAgeMs : o.unheardMaxAgeMs)) {
      // Most recently used last: the map's first entry is the one to forget.
      known.delete(digest);
      known.set(digest, key);
      return key;
    }
    return unknown.has(digest) ? null : undefined;
  };

  /**
   * As `authenticate`, but answers at once when memory decides (every request of a key
   * but about one a minute), so the request need not wait for a promise's turn;
   * undefined when the key must be looked up: then ask `authenticate`.
   */
  const cached = (apiKey: string): AuthenticatedKey | null | undefined => {
    if (!isApiKeyShaped(apiKey)) return null;
    ensureListening();
    const key = remembered(apiKeyDigestHex(apiKey));
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
    pendingUse(keyId: string): Date | null {
      const at = used.get(keyId);
      return at === undefined ? null : new Date(at);
    },
    /** Forgets a key at once (this process revoked it; the notice reaches the others). */
    forget: forgetKey,
    /** Writes the pending `lastUsedAt` times now. */
    flush,
    /** Stops listening and writes what is pending. */
    async close() {
      clearInterval(flushTimer);
      await flush();
      await (await subscription)?.unsubscribe();
      await ownListener?.close();
    },
    /** For tests and metrics: what is held, and whether revocations are being heard. */
    size: () => ({ known: known.size, unknown: unknown.size, pendingUses: used.size, listening: hearing() }),
  };
}

export type ApiKeyCache = ReturnType<typeof createApiKeyCache>;
