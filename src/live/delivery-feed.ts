import { DELIVERY_CHANGES, type DeliveryChange, decodeChanges } from '../db/channels.js';
import type { Pool } from '../db/sql.js';

/** Changed deliveries a subscriber may have waiting; past that it is closed, not its queue grown. */
export const MAX_PENDING_CHANGES = 1_000;
/** Ids read in one statement: a burst of changes is read in pages, never in one read. */
export const FEED_PAGE = 100;

/** Why a feed ended: its subscriber fell further behind than MAX_PENDING_CHANGES. */
export class FellBehind extends Error {}

type Subscriber = {
  accepts: (change: DeliveryChange) => boolean;
  /** Ids waiting, each once, oldest first. */
  queue: Set<string>;
  behind: boolean;
  /** Aborted when it falls behind: whatever it waits for (its read rate) ends at once. */
  lagging: AbortController;
  wake?: () => void;
};

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
          if (subscriber.behind || !subscriber.accepts(change)) continue;
          subscriber.queue.add(change.deliveryId);
          if (subscriber.queue.size > MAX_PENDING_CHANGES) {
            subscriber.behind = true;
            subscriber.queue.clear();
            subscriber.lagging.abort();
          }
          subscriber.wake?.();
        }
      }
    });
    return listening;
  };

  return {
    /**
     * Pages of at most FEED_PAGE ids of changed deliveries of `workspaceId`, optionally of
     * one webhook only, each id once per page, until `signal` aborts: then the stream ends
     * with the signal's reason. A subscriber that lets more than MAX_PENDING_CHANGES pile
     * up (it reads too slowly, or a fan-out changed more than anyone could follow) ends
     * with FellBehind: it must re-read what it needs and subscribe again. `pace` is awaited
     * before each page (the key's read rate); it must end when its signal aborts.
     */
    async *subscribe(
      workspaceId: string,
      webhookId: string | null,
      signal: AbortSignal,
      pace: (signal: AbortSignal) => Promise<void> = async () => {},
    ): AsyncGenerator<string[]> {
      const subscriber: Subscriber = {
        accepts: (c) => c.workspaceId === workspaceId && (!webhookId || c.webhookId === webhookId),
        queue: new Set(),
        behind: false,
        lagging: new AbortController(),
      };
      const paceUntil = AbortSignal.any([signal, subscriber.lagging.signal]);
      const onAbort = () => subscriber.wake?.();
      signal.addEventListener('abort', onAbort);
      subscribers.add(subscriber);
      try {
        await ensureListening();
        for (;;) {
          signal.throwIfAborted();
          if (subscriber.queue.size === 0 && !subscriber.behind) {
            await new Promise<void>((resolve) => {
              subscriber.wake = resolve;
            });
            subscriber.wake = undefined;
            signal.throwIfAborted();
          }
          await pace(paceUntil);
          signal.throwIfAborted();
          if (subscriber.behind) {
            throw new FellBehind(
              `This subscription fell more than ${MAX_PENDING_CHANGES} changes behind and was closed: read the deliveries you need (Query.deliveries with since) and subscribe again`,
            );
          }
          const page: string[] = [];
          for (const id of subscriber.queue) {
            subscriber.queue.delete(id);
            page.push(id);
            if (page.length === FEED_PAGE) break;
          }
          if (page.length > 0) yield page;
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
