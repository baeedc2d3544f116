import { DELIVERY_CHANGES, type DeliveryChange, decodeChanges } from '../db/channels.js';
import type { Listener, Resync } from '../db/listener.js';
import type { Pool } from '../db/sql.js';
import type { Logger } from '../lib/logger.js';

// A subscriber that falls this far behind loses its oldest changes rather than the process its memory.
const MAX_QUEUED_PER_SUBSCRIBER = 50_000;
// After a lost LISTEN session, changes since this long before the loss are read again: a
// margin for the notices in flight then and for the database's clock against ours.
const RESYNC_MARGIN_MS = 10_000;
// At most this many changed deliveries are replayed after one loss (the newest).
const RESYNC_LIMIT = 10_000;

type Subscriber = {
  workspaceId: string;
  accepts: (change: DeliveryChange) => boolean;
  queue: string[];
  wake?: () => void;
};

/**
 * The process's listening session (db/listener.ts), fanned out to the subscriptions of this
 * process. Each subscriber gets the ids of changed deliveries in batches: everything that
 * arrived while it was busy, each id once, so a slow consumer reads many changes with one query.
 * Notices sent while the session was lost are not replayed: when it listens again, the
 * deliveries of the subscribed workspaces updated since shortly before the loss are read
 * and handed out as changes.
 */
export function createDeliveryFeed(sql: Pool, options: { listener: Listener; log?: Logger }) {
  const subscribers = new Set<Subscriber>();
  let listening: Promise<{ unsubscribe: () => Promise<void> }> | undefined;
  const handOut = (changes: DeliveryChange[]) => {
    for (const change of changes) {
      for (const subscriber of subscribers) {
        if (!subscriber.accepts(change)) continue;
        subscriber.queue.push(change.deliveryId);
        if (subscriber.queue.length > MAX_QUEUED_PER_SUBSCRIBER) subscriber.queue.shift();
        subscriber.wake?.();
      }
    }
  };
  const resync = async ({ reconnected, lostAt }: Resync) => {
    const workspaces = [...new Set([...subscribers].map((s) => s.workspaceId))];
    if (!reconnected || lostAt === undefined || workspaces.length === 0) return;
    const since = new Date(lostAt - RESYNC_MARGIN_MS);
    const changed = await sql<DeliveryChange[]>`/* deliveries.changed-since */
      select workspace_id, webhook_id, id as delivery_id from deliveries
      where workspace_id = any(${workspaces}::text[]) and updated_at >= ${since}
      order by updated_at desc limit ${RESYNC_LIMIT}`;
    handOut(changed);
  };
  const ensureListening = () => {
    listening ??= options.listener.subscribe(DELIVERY_CHANGES, {
      onNotify: (payload) => handOut(decodeChanges(payload)),
      onListen: (state) =>
        void resync(state).catch((error: unknown) =>
          options.log?.warn({ err: error }, 'reading the deliveries changed while LISTEN was lost failed'),
        ),
    });
    return listening;
  };

  return {
    /**
     * Batches of ids of changed deliveries of `workspaceId`, optionally of one webhook only,
     * until `signal` aborts: then the stream ends with the signal's reason.
     */
    async *subscribe(workspaceId: string, webhookId: string | null, signal: AbortSignal): AsyncGenerator<string[]> {
      const subscriber: Subscriber = {
        workspaceId,
        accepts: (c) => c.workspaceId === workspaceId && (!webhookId || c.webhookId === webhookId),
        queue: [],
      };
      const onAbort = () => subscriber.wake?.();
      signal.addEventListener('abort', onAbort);
      subscribers.add(subscriber);
      try {
        await ensureListening();
        for (;;) {
          signal.throwIfAborted();
          if (subscriber.queue.length === 0) {
            await new Promise<void>((resolve) => {
              subscriber.wake = resolve;
            });
            subscriber.wake = undefined;
            signal.throwIfAborted();
          }
          const batch = [...new Set(subscriber.queue.splice(0))];
          if (batch.length > 0) yield batch;
        }
      } finally {
        signal.removeEventListener('abort', onAbort);
        subscribers.delete(subscriber);
      }
    },
    async close() {
      await (await listening)?.unsubscribe();
    },
  };
}

export type DeliveryFeed = ReturnType<typeof createDeliveryFeed>;
