import type { Pool, Sql } from '../db/sql.js';

/** Wakes delivery workers: sent when deliveries become due. */
export const WAKE_CHANNEL = 'deliveries_due';
/** Carries delivery changes to live subscriptions on every instance. */
export const UPDATES_CHANNEL = 'delivery_updates';

/** Which delivery changed, and whose it is; the subscriber reads the rest from the database. */
export type DeliveryChange = { workspaceId: string; webhookId: string; deliveryId: string };

// NOTIFY payloads must stay under 8000 bytes; a change takes about 70.
const CHANGES_PER_NOTIFY = 100;
// A subscriber that falls this far behind loses its oldest changes rather than the process its memory.
const MAX_QUEUED_PER_SUBSCRIBER = 50_000;

/**
 * Announces delivery changes to every instance: whichever process made the change,
 * `NOTIFY` reaches all that `LISTEN`, and each passes it to its own subscribers. Sent in
 * the writer's transaction, so a subscriber never hears of a change it cannot read yet.
 */
export async function announceChanges(sql: Sql, changes: DeliveryChange[]): Promise<void> {
  for (let i = 0; i < changes.length; i += CHANGES_PER_NOTIFY) {
    const chunk = changes.slice(i, i + CHANGES_PER_NOTIFY).map((c) => [c.workspaceId, c.webhookId, c.deliveryId]);
    await sql`/* deliveries.announce */ select pg_notify(${UPDATES_CHANNEL}, ${JSON.stringify(chunk)})`;
  }
}

type Subscriber = { accepts: (change: DeliveryChange) => boolean; queue: string[]; wake?: () => void };

/**
 * One LISTEN connection per process, fanned out to the subscriptions of this process.
 * Each subscriber gets the ids of changed deliveries in batches: everything that arrived
 * while it was busy, each id once, so a slow consumer reads many changes with one query.
 */
export function createDeliveryFeed(sql: Pool) {
  const subscribers = new Set<Subscriber>();
  let listening: Promise<{ unlisten: () => Promise<void> }> | undefined;
  const ensureListening = () => {
    listening ??= sql.listen(UPDATES_CHANNEL, (payload) => {
      for (const [workspaceId, webhookId, deliveryId] of JSON.parse(payload) as [string, string, string][]) {
        const change = { workspaceId, webhookId, deliveryId };
        for (const subscriber of subscribers) {
          if (!subscriber.accepts(change)) continue;
          subscriber.queue.push(deliveryId);
          if (subscriber.queue.length > MAX_QUEUED_PER_SUBSCRIBER) subscriber.queue.shift();
          subscriber.wake?.();
        }
      }
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
      await (await listening)?.unlisten().catch(() => {});
    },
  };
}

export type DeliveryFeed = ReturnType<typeof createDeliveryFeed>;
