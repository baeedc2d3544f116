import { API_KEY_REVOKED } from '../db/channels.js';
import type { Listener } from '../db/listener.js';
import type { Pool } from '../db/sql.js';
import type { Logger } from '../lib/logger.js';
import { createLookupLane } from '../lib/lookup-lane.js';
import {
  endSession,
  findLiveSession,
  isTokenShaped,
  SESSION_TOKEN_PREFIX,
  type SessionRecord,
  tokenDigest,
} from './store.js';

export type SessionCacheOptions = {
  listener: Listener;
  log?: Logger;
  now?: () => number;
  /** Live sessions remembered (least recently used forgotten first), and unknown tokens apart. */
  size?: number;
  unknownSize?: number;
  /** How long a cached session is trusted while endings are heard, and while they are not. */
  maxAgeMs?: number;
  unheardMaxAgeMs?: number;
  /** Database lookups of tokens not in memory at once, and waiting; past that LookupsBusy (503). */
  maxLookups?: number;
  maxWaiting?: number;
};

type Entry = { session: SessionRecord; at: number };

/**
 * Dashboard sessions resolved in memory, as the key cache (auth/key-cache.ts) does for API
 * keys: a request costs no round trip. A session's end, and the revocation of the key that
 * made it, arrive on the revocation channel (the session's id, the key's id): every
 * instance forgets it at once; each (re)listen clears the cache, entries are trusted for
 * `unheardMaxAgeMs` while notices are not heard and `maxAgeMs` at most, and expiry is
 * checked on every use. Tokens not of the session shape are refused without a lookup;
 * lookups of unknown tokens run a few at a time, so a flood of made-up tokens cannot take
 * the pool.
 */
export function createSessionCache(sql: Pool, options: SessionCacheOptions) {
  const o = {
    size: 10_000,
    unknownSize: 10_000,
    maxAgeMs: 60_000,
    unheardMaxAgeMs: 1_000,
    maxLookups: 4,
    maxWaiting: 256,
    ...options,
  };
  const now = options.now ?? Date.now;
  const known = new Map<string, Entry>(); // token digest (hex) → session, least recently used first
  const unknown = new Map<string, true>();
  const inFlight = new Map<string, Promise<SessionRecord | null>>();
  let epoch = 0;
  let subscribed = false;

  // A notice names a session that ended or a key that was revoked: forget whatever it touches.
  const forget = (id: string) => {
    epoch++;
    for (const [digest, { session }] of known) {
      if (session.id === id || session.createdByKeyId === id) known.delete(digest);
    }
  };
  let subscription: Promise<{ unsubscribe: () => Promise<void> }> | undefined;
  const ensureListening = () => {
    subscription ??= o.listener.subscribe(API_KEY_REVOKED, {
      onNotify: forget,
      onListen: () => {
        epoch++;
        known.clear();
        subscribed = true;
      },
    });
  };
  const hearing = () => subscribed && o.listener.health().connected;
  const lane = createLookupLane(o.maxLookups, o.maxWaiting);

  const remember = (digest: string, session: SessionRecord) => {
    known.delete(digest);
    known.set(digest, { session, at: now() });
    if (known.size > o.size) known.delete(known.keys().next().value as string);
  };
  const lookUp = (digest: string): Promise<SessionRecord | null> => {
    const pending = inFlight.get(digest);
    if (pending) return pending;
    const startedIn = epoch;
    const lookup = lane(() => findLiveSession(sql, Buffer.from(digest, 'hex')))
      .then((session) => {
        if (startedIn === epoch) {
          if (session) remember(digest, session);
          else {
            unknown.set(digest, true);
            if (unknown.size > o.unknownSize) unknown.delete(unknown.keys().next().value as string);
          }
        }
        return session;
      })
      .finally(() => inFlight.delete(digest));
    inFlight.set(digest, lookup);
    return lookup;
  };
  const live = (session: SessionRecord | null) => (session && session.expiresAt.getTime() > now() ? session : null);

  return {
    /**
     * The live session of a session token, or null (malformed, unknown, ended, expired, or
     * its key revoked): at once when memory decides, else a promise (LookupsBusy when too
     * many unknown tokens are being looked up).
     */
    authenticate(token: string): SessionRecord | null | Promise<SessionRecord | null> {
      if (!isTokenShaped(token, SESSION_TOKEN_PREFIX)) return null;
      ensureListening();
      const digest = tokenDigest(token).toString('hex');
      const entry = known.get(digest);
      if (entry && now() - entry.at < (hearing() ? o.maxAgeMs : o.unheardMaxAgeMs)) {
        known.delete(digest);
        known.set(digest, entry);
        return live(entry.session);
      }
      if (unknown.has(digest)) return null;
      return lookUp(digest).then(live);
    },
    /** Ends a session everywhere (sign-out); this instance forgets it at once. */
    async end(session: SessionRecord): Promise<void> {
      await endSession(sql, session.id);
      forget(session.id);
    },
    async close() {
      await (await subscription)?.unsubscribe();
    },
    size: () => ({ known: known.size, unknown: unknown.size, listening: hearing() }),
  };
}

export type SessionCache = ReturnType<typeof createSessionCache>;
