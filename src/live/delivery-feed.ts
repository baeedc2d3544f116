import { DELIVERY_UPDATES, type DeliveryChange, decodeChanges } from '../db/channels.js';
import type { Listener, Resync } from '../db/listener.js';
import type { Pool } from '../db/sql.js';
import type { Logger } from '../lib/logger.js';

/** Changed deliveries a subscriber may have waiting; past that it is closed, not its queue grown. */
export const MAX_PENDING_CHANGES = 1_000;
/** Ids read in one statement: a burst of changes is read in pages, never in one read. */
export const FEED_PAGE = 100;
// After a lost LISTEN session, changes since this long before the loss are read again: a
// margin for the notices in flight then and for the database's clock against ours.
const RESYNC_MARGIN_MS = 10_000;
// At most this many changed deliveries are replayed after one loss (the newest); a
// subscriber that cannot take them all falls behind like any other.
const RESYNC_LIMIT = MAX_PENDING_CHANGES + 1;

/** Why a feed ended: its subscriber fell further behind than MAX_PENDING_CHANGES. */
export class FellBehind extends Error {}

type Subscriber = {
  workspaceId: string;
  accepts: (change: DeliveryChange) => boolean;
  /** Ids waiting, each once, oldest first. */
  queue: Set<string>;
  behind: boolean;
  /** Aborted when it falls behind: whatever it waits for (its read rate) ends at once. */
  lagging: AbortController;
  wake?: () => void;
};

/**
 * The process's listening session (db/listener.ts), fanned out to the subscriptions of this
 * process. Each subscriber gets the ids of changed deliveries in pages: what arrived while
 * it was busy, each id once. Notices sent while the session was lost are not replayed:
 * when it listens again, the deliveries of the subscribed workspaces updated since shortly
 * before the loss are read and handed out as changes.
 */
export function createDeliveryFeed(sql: Pool, options: { listener: Listener; log?: Logger }) {
  const subscribers = new Set<Subscriber>();
  let listening: Promise<{ unsubscribe: () => Promise<void> }> | undefined;
  const handOut = (changes: DeliveryChange[]) => {
    for (const change of changes) {
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
    listening ??= options.listener.subscribe(DELIVERY_UPDATES, {
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
     * Pages of at most FEED_PAGE ids of changed deliveries of `workspaceId`, optionally of
     * one webhook only, until `signal` aborts: then the stream ends with the signal's
     * reason. A subscriber that lets more than MAX_PENDING_CHANGES pile up (it reads too
     * slowly, or a fan-out changed more than anyone could follow) ends with FellBehind: it
     * must re-read what it needs and subscribe again. `pace` is awaited before each page
     * (the key's read rate); it must end when its signal aborts.
     */
    async *subscribe(
      workspaceId: string,
      webhookId: string | null,
      signal: AbortSignal,
      pace: (signal: AbortSignal) => Promise<void> = async () => {},
    ): AsyncGenerator<string[]> {
      const subscriber: Subscriber = {
        workspaceId,
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
      await (await listening)?.unsubscribe();
    },
  };
}

export type DeliveryFeed = ReturnType<typeof createDeliveryFeed>;
