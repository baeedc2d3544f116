import { API_KEY_REVOKED } from '../db/channels.js';
import type { Listener } from '../db/listener.js';
import type { Pool } from '../db/sql.js';

export type LiveStream = {
  /** Aborts when the key is revoked; the reason is a KeyRevoked. */
  signal: AbortSignal;
  close: () => void;
};

/** Why a stream ended: its API key was revoked. */
export class KeyRevoked extends Error {}

/**
 * The subscriptions open in this process: at most `perKey` for each API key, its dashboard
 * sessions' counted with its own, and all of an owner's streams (a key's, or a session's)
 * end when it is revoked or signed out, on whichever instance.
 * Revocations arrive by NOTIFY on the process's listener; each time it listens (again),
 * the keys of open streams are checked once, since notices sent while it was away are lost.
 */
export function createLiveStreams(sql: Pool, options: { perKey: number; listener: Listener }) {
  const open = new Map<string, Set<AbortController>>();
  // Streams per API key, its sessions' included: what `perKey` bounds.
  const perKey = new Map<string, number>();
  let listening: Promise<unknown> | undefined;

  const end = (keyId: string) => {
    for (const stream of open.get(keyId) ?? []) stream.abort(new KeyRevoked('The API key was revoked'));
    open.delete(keyId);
  };
  const recheck = async () => {
    if (open.size === 0) return;
    // A stream's owner is an API key or a dashboard session (sessions/), which ends like a revoked key.
    const owners = [...open.keys()];
    const revoked = await sql<{ id: string }[]>`/* api-keys.revoked */
      select id from api_keys where id = any(${owners}::text[]) and revoked_at is not null
      union all
      select id from dashboard_sessions where id = any(${owners}::text[]) and ended_at is not null`;
    for (const { id } of revoked) end(id);
  };
  const ensureListening = () => {
    listening ??= options.listener.subscribe(API_KEY_REVOKED, {
      onNotify: end,
      // Should this fail too, the next (re)listen checks again.
      onListen: () => void recheck().catch(() => {}),
    });
    return listening;
  };

  return {
    /** Whether the API key `keyId` (its sessions' streams counted with its own) may open another stream here. */
    hasRoom: (keyId: string) => (perKey.get(keyId) ?? 0) < options.perKey,
    /**
     * Registers a stream of `ownerId` (an API key, or a session), counted against the API
     * key `keyId` (itself, or the key that made the session); its signal aborts when the
     * owner is revoked or signed out, or at `endsAt` (a dashboard session's expiry).
     */
    async open(ownerId: string, keyId: string, endsAt?: Date): Promise<LiveStream> {
      const controller = new AbortController();
      const expiry = endsAt
        ? setTimeout(
            () => controller.abort(new KeyRevoked('The dashboard session expired')),
            Math.min(Math.max(0, endsAt.getTime() - Date.now()), 2 ** 31 - 1),
          )
        : undefined;
      expiry?.unref();
      const streams = open.get(ownerId) ?? new Set();
      streams.add(controller);
      open.set(ownerId, streams);
      perKey.set(keyId, (perKey.get(keyId) ?? 0) + 1);
      let closed = false;
      const close = () => {
        if (closed) return;
        closed = true;
        clearTimeout(expiry);
        streams.delete(controller);
        if (streams.size === 0 && open.get(ownerId) === streams) open.delete(ownerId);
        const left = (perKey.get(keyId) ?? 1) - 1;
        if (left > 0) perKey.set(keyId, left);
        else perKey.delete(keyId);
      };
      try {
        await ensureListening();
      } catch (error) {
        close();
        throw error;
      }
      return { signal: controller.signal, close };
    },
  };
}

export type LiveStreams = ReturnType<typeof createLiveStreams>;

/**
 * A subscription's results that `return()` stops at once. An async generator waiting for
 * the next change cannot be returned from outside until that change comes; clients that
 * stop one operation on a shared connection (graphql-sse's single-connection mode, a
 * DELETE) do exactly that. `return()` aborts the generator's signal first, so it wakes,
 * ends cleanly (frees its slot), and the connection's other operations go on.
 */
export function stoppable<T>(
  start: (stopped: AbortSignal) => AsyncGenerator<T>,
  onStop: () => void = () => {},
): AsyncGenerator<T> {
  const controller = new AbortController();
  const inner = start(controller.signal);
  // `onStop` too: a generator stopped before its first read never runs its own `finally`.
  const outer: AsyncGenerator<T> = {
    next: (...args) => inner.next(...args),
    return: (value) => {
      controller.abort();
      onStop();
      return inner.return(value);
    },
    throw: (error) => {
      controller.abort();
      onStop();
      return inner.throw(error);
    },
    [Symbol.asyncIterator]: () => outer,
  };
  return outer;
}
