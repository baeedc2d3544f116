import { createCredentialMemory } from '../auth/credential-memory.js';
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

/**
 * Dashboard sessions resolved in memory, as API keys are (auth/credential-memory.ts): a
 * request costs no round trip. A session's end, and the revocation of the key that made
 * it, arrive on the revocation channel (the session's id, the key's id) and end it in
 * every instance at once; expiry is checked on every use. Tokens not of the session shape
 * are refused without a lookup; lookups of unknown tokens run a few at a time, so a flood
 * of made-up tokens cannot take the pool.
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
  const memory = createCredentialMemory<SessionRecord>({
    ...o,
    revokedBy: (session) => [session.id, session.createdByKeyId],
  });
  const lane = createLookupLane(o.maxLookups, o.maxWaiting);
  const live = (session: SessionRecord | null) => (session && session.expiresAt.getTime() > now() ? session : null);

  return {
    /**
     * The live session of a session token, or null (malformed, unknown, ended, expired, or
     * its key revoked): at once when memory decides, else a promise (LookupsBusy when too
     * many unknown tokens are being looked up).
     */
    authenticate(token: string): SessionRecord | null | Promise<SessionRecord | null> {
      if (!isTokenShaped(token, SESSION_TOKEN_PREFIX)) return null;
      const digest = tokenDigest(token).toString('hex');
      const remembered = memory.recall(digest);
      if (remembered !== undefined) return live(remembered);
      return memory.lookUp(digest, lane, () => findLiveSession(sql, Buffer.from(digest, 'hex'))).then(live);
    },
    /** Ends a session everywhere (sign-out); this instance forgets it at once. */
    async end(session: SessionRecord): Promise<void> {
      await endSession(sql, session.id);
      memory.forget(session.id);
    },
    close: memory.close,
    size: memory.size,
  };
}

export type SessionCache = ReturnType<typeof createSessionCache>;
