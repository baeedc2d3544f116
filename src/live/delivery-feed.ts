import { DELIVERY_CHANGES, type DeliveryChange, decodeChanges } from '../db/channels.js';
import type { Pool } from '../db/sql.js';

// A subscriber that falls this far behind loses its oldest changes rather than the process its memory.
const MAX_QUEUED_PER_SUBSCRIBER = 50_000;

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
    listening ??= sql.listen(DELIVERY_CHANGES, (payload) => {
      for (const change of decodeChanges(payload)) {
        for (const subscriber of subscribers) {
          if (!subscriber.accepts(change)) continue;
          subscriber.queue.push(change.deliveryId);
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
