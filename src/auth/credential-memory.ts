import { API_KEY_REVOKED } from '../db/channels.js';
import type { Listener } from '../db/listener.js';
import type { LookupLane } from '../lib/lookup-lane.js';
import { createLru } from '../lib/lru.js';

export type CredentialMemoryOptions<T> = {
  /** The process's listening session: revocations arrive on API_KEY_REVOKED. */
  listener: Listener;
  /** The ids a revocation notice may name that end this credential (its own, the key that made it). */
  revokedBy: (credential: T) => readonly string[];
  /** Live credentials remembered (least recently used forgotten first). */
  size: number;
  /** Digests known to match nothing live, kept apart so they can never evict a live credential. */
  unknownSize: number;
  /** How long a remembered credential is trusted while revocations are being heard. */
  maxAgeMs: number;
  /** How long while they are not (LISTEN not yet, or no longer, established). */
  unheardMaxAgeMs: number;
  /** Told each time a (re)listen has cleared the memory. */
  onListen?: () => void;
  now?: () => number;
};

/**
 * Credentials (API keys, dashboard session tokens) remembered by the digest of their
 * secret, so that authenticating a request costs no round trip.
 *
 * Revocation is pushed: a notice on API_KEY_REVOKED names an id, and every credential it
 * ends is forgotten at once. Notices sent while the listener is away are lost, so each
 * (re)listen clears the memory; while it is down, and before the first LISTEN, entries are
 * trusted for `unheardMaxAgeMs` only; and an entry is trusted for at most `maxAgeMs`, a
 * last bound on any notice missed in a way we cannot see. A digest found to match nothing
 * live is remembered apart (secrets are random and revocation is final, so it cannot
 * become valid); concurrent lookups of one digest share one query.
 */
export function createCredentialMemory<T>(o: CredentialMemoryOptions<T>) {
  const now = o.now ?? Date.now;
  const known = createLru<string, { credential: T; at: number }>({ maxEntries: o.size });
  const unknown = createLru<string, true>({ maxEntries: o.unknownSize });
  const inFlight = new Map<string, Promise<T | null>>();
  // Bumped by every revocation and reconnect: a lookup that started before one does not
  // remember its answer (it may predate the revocation), though it still serves its request.
  let epoch = 0;
  let subscribed = false;

  const forget = (id: string) => {
    epoch++;
    for (const [digest, { credential }] of known.entries()) {
      if (o.revokedBy(credential).includes(id)) known.delete(digest);
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
        o.onListen?.();
      },
    });
  };
  /** Whether revocations are being heard right now. */
  const hearing = () => subscribed && o.listener.health().connected;

  return {
    /** What memory says of a digest: the credential, null (matches nothing live), or undefined (ask the database). */
    recall(digest: string): T | null | undefined {
      ensureListening();
      const entry = known.peek(digest);
      if (entry && now() - entry.at < (hearing() ? o.maxAgeMs : o.unheardMaxAgeMs)) {
        known.get(digest); // a use: most recently used last
        return entry.credential;
      }
      return unknown.has(digest) ? null : undefined;
    },
    /** Whether this digest was seen live here (its entry may have expired). */
    seenLive: (digest: string) => known.has(digest),
    /** Looks a digest up in `lane` and remembers the answer, unless a revocation came meanwhile. */
    lookUp(digest: string, lane: LookupLane, find: () => Promise<T | null>): Promise<T | null> {
      const pending = inFlight.get(digest);
      if (pending) return pending;
      const startedIn = epoch;
      const lookup = lane(find)
        .then((credential) => {
          if (startedIn === epoch) {
            if (credential) known.set(digest, { credential, at: now() });
            else unknown.set(digest, true);
          }
          return credential;
        })
        .finally(() => inFlight.delete(digest));
      inFlight.set(digest, lookup);
      return lookup;
    },
    /** Forgets every credential the id ends (this process revoked it; the notice reaches the others). */
    forget,
    hearing,
    async close() {
      await (await subscription)?.unsubscribe();
    },
    size: () => ({ known: known.size, unknown: unknown.size, listening: hearing() }),
  };
}
