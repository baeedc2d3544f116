import { createPubSub, filter, pipe } from 'graphql-yoga';
import type { Pool, Sql } from '../db/sql.js';

/** Wakes delivery workers: sent when deliveries become due. */
export const WAKE_CHANNEL = 'deliveries_due';
/** Carries delivery changes to live subscriptions on every instance. */
export const UPDATES_CHANNEL = 'delivery_updates';

/** Which delivery changed, and whose it is; the subscriber reads the rest from the database. */
export type DeliveryChange = { workspaceId: string; webhookId: string; deliveryId: string };

// NOTIFY payloads must stay under 8000 bytes; a change takes about 70.
const CHANGES_PER_NOTIFY = 100;

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

/** One LISTEN connection per process, fanned out to the subscriptions of this process. */
export function createDeliveryFeed(sql: Pool) {
  const pubsub = createPubSub<{ change: [DeliveryChange] }>();
  let listening: Promise<{ unlisten: () => Promise<void> }> | undefined;
  const ensureListening = () => {
    listening ??= sql.listen(UPDATES_CHANNEL, (payload) => {
      for (const [workspaceId, webhookId, deliveryId] of JSON.parse(payload) as [string, string, string][]) {
        pubsub.publish('change', { workspaceId, webhookId, deliveryId });
      }
    });
    return listening;
  };
  return {
    /** Changes to deliveries of `workspaceId`, optionally only of one webhook. */
    async subscribe(workspaceId: string, webhookId?: string | null): Promise<AsyncIterable<DeliveryChange>> {
      await ensureListening();
      return pipe(
        pubsub.subscribe('change'),
        filter((c: DeliveryChange) => c.workspaceId === workspaceId && (!webhookId || c.webhookId === webhookId)),
      );
    },
    async close() {
      await (await listening)?.unlisten().catch(() => {});
    },
  };
}

export type DeliveryFeed = ReturnType<typeof createDeliveryFeed>;
