import postgres from 'postgres';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Logger } from '../lib/logger.js';
import type { Pool } from './sql.js';

/** What a subscriber is told when its channel is (again) listened to. */
export type Resync = {
  /** True after a lost connection came back: notices sent meanwhile were lost. */
  reconnected: boolean;
  /** When the connection was lost (this process's clock); undefined on the first LISTEN. */
  lostAt: number | undefined;
};

export type Subscriber = {
  /** Each notice on the channel, with its payload. */
  onNotify: (payload: string) => void;
  /**
   * After every LISTEN that takes effect, the first included: re-read whatever the notices
   * would have said. It also runs once when subscribing to a channel already listened to.
   */
  onListen?: (resync: Resync) => void;
};

export type ListenerHealth = {
  /** Every channel subscribed to is listened to: no notice is being missed. */
  connected: boolean;
  /** Times the session was lost and listened again. */
  reconnects: number;
};

/**
 * The one listening connection of this process, shared by every user of LISTEN/NOTIFY
 * (the key cache, stream revocation, the live feed, the worker's wake-ups).
 *
 * It is a dedicated session on the direct URL (DATABASE_DIRECT_URL): LISTEN lives in a
 * session, so through a transaction pooler it would be lost as soon as the statement ends.
 * postgres.js's own `sql.listen` drops a channel for good when its re-LISTEN after a
 * disconnect fails (say, while the database restarts); here every loss is retried (after
 * 100 ms, then every second), and once LISTEN is back each subscriber's `onListen` runs,
 * since notices sent while it was away are not replayed.
 */
export function createListener(source: string | Pool, options: { log?: Logger; retryMs?: number } = {}) {
  const log = options.log;
  const retryMs = options.retryMs ?? 1_000;
  const channels = new Map<string, Set<Subscriber>>();
  const listened = new Set<string>(); // channels LISTENed on the current session
  let connected = false;
  let everConnected = false;
  // When the session was first lost since every channel was last listened to; undefined when it was not.
  let lostAt: number | undefined;
  let sessionsLost = 0;
  let reconnects = 0;
  let failing = false;
  let closed = false;
  let retry: NodeJS.Timeout | undefined;
  let listening: Promise<void> | undefined;

  const settings = {
    max: 1,
    idle_timeout: null,
    max_lifetime: null,
    fetch_types: false,
    connect_timeout: 5,
    onnotice: () => {},
    // No statement_timeout: LISTEN must never be cancelled, and this session runs nothing else.
    connection: { application_name: 'convo-hooks listener' },
    onnotify: (channel: string, payload: string) => {
      for (const subscriber of channels.get(channel) ?? []) {
        try {
          subscriber.onNotify(payload);
        } catch (error) {
          log?.error({ err: error, channel }, 'a LISTEN subscriber failed on a notice');
        }
      }
    },
    onclose: () => {
      sessionsLost++;
      if (everConnected) lostAt ??= Date.now();
      connected = false;
      listened.clear();
      listenSoon(100);
    },
  };
  const client =
    typeof source === 'string'
      ? postgres(source, settings as unknown as postgres.Options<Record<string, never>>)
      : // The pool's own connection settings (postgres.js's listen does the same), on one session.
        postgres({ ...source.options, ...settings } as unknown as postgres.Options<Record<string, never>>);

  const resync = (subscribers: Iterable<Subscriber>, reconnected: boolean) => {
    for (const subscriber of subscribers) {
      try {
        subscriber.onListen?.({ reconnected, lostAt });
      } catch (error) {
        log?.error({ err: error }, 'a LISTEN subscriber failed to resync');
      }
    }
  };

  /** LISTENs every channel not yet listened on this session; one attempt at a time. */
  const listenAll = (): Promise<void> => {
    listening ??= (async () => {
      try {
        for (;;) {
          const pending = [...channels.keys()].filter((channel) => !listened.has(channel));
          if (pending.length === 0 || closed) break;
          const lostBefore = sessionsLost;
          for (const channel of pending) {
            await client`/* listener.listen */ listen ${client(channel)}`;
            listened.add(channel);
          }
          // Lost again meanwhile: listen again to what that session had, then resync.
          if (sessionsLost !== lostBefore) continue;
          const reconnected = lostAt !== undefined;
          if (reconnected) reconnects++;
          if (reconnected || failing) log?.info({ channels: [...listened] }, 'listening again');
          connected = true;
          everConnected = true;
          failing = false;
          // After a loss every subscriber may have missed something; else only the new ones start.
          const starting = reconnected ? [...channels.keys()] : pending;
          resync(
            starting.flatMap((channel) => [...(channels.get(channel) ?? [])]),
            reconnected,
          );
          lostAt = undefined;
        }
      } catch (error) {
        connected = false;
        // The database itself is gone (dropped): nothing will ever be heard again.
        if ((error as { code?: unknown }).code === '3D000') return;
        // Once per outage, not once per retry.
        if (!closed && !failing) {
          log?.warn({ err: error }, 'LISTEN failed; notices are missed until it is back (retrying every second)');
        }
        failing = true;
        listenSoon(retryMs);
      } finally {
        listening = undefined;
      }
    })();
    return listening;
  };
  const listenSoon = (ms: number) => {
    if (closed || retry || channels.size === 0) return;
    retry = setTimeout(() => {
      retry = undefined;
      void listenAll();
    }, ms);
    retry.unref();
  };

  return {
    /**
     * Hands every notice on `channel` to `subscriber`, from now until `unsubscribe`.
     * Resolves once the channel is listened to, or when the first attempt failed (the
     * listener keeps trying; `onListen` tells when it succeeds).
     */
    async subscribe(channel: string, subscriber: Subscriber): Promise<{ unsubscribe: () => Promise<void> }> {
      const subscribers = channels.get(channel) ?? new Set();
      channels.set(channel, subscribers);
      subscribers.add(subscriber);
      const unsubscribe = async () => {
        subscribers.delete(subscriber);
        if (subscribers.size > 0 || channels.get(channel) !== subscribers) return;
        channels.delete(channel);
        if (listened.delete(channel)) await client`/* listener.unlisten */ unlisten ${client(channel)}`.catch(() => {});
      };
      if (listened.has(channel)) resync([subscriber], false);
      else await listenAll();
      return { unsubscribe };
    },
    /**
     * For /metrics and tests: whether every channel subscribed to is listened to now (true
     * when none is: nothing is being missed), and how often the session came back.
     */
    health: (): ListenerHealth => ({
      connected: (connected || channels.size === 0) && listened.size === channels.size,
      reconnects,
    }),
    async close() {
      closed = true;
      clearTimeout(retry);
      channels.clear();
      await client.end({ timeout: 1 }).catch(() => {});
    },
  };
}

export type Listener = ReturnType<typeof createListener>;

/** The listener's health in /metrics: whether notices are heard now, and how often the session was lost and came back. */
export function registerListenerMetrics(registry: Registry, listener: Listener) {
  new Gauge({
    name: 'database_listener_connected',
    help: "1 while this process's LISTEN session (DATABASE_DIRECT_URL) hears every channel it needs, else 0: revocations, live updates and worker wake-ups are missed meanwhile.",
    // Across the API processes of one machine: 0 when any of them is deaf.
    aggregator: 'min',
    registers: [registry],
    collect() {
      this.set(listener.health().connected ? 1 : 0);
    },
  });
  let counted = 0;
  new Counter({
    name: 'database_listener_reconnects_total',
    help: "Times this process's LISTEN session was lost and listened again (each time its subscribers re-read what they may have missed).",
    registers: [registry],
    collect() {
      const { reconnects } = listener.health();
      this.inc(reconnects - counted);
      counted = reconnects;
    },
  });
}
