import type { Pool } from '../db/sql.js';

/** Deliveries held or released per statement: each batch is short, whatever the backlog. */
const BATCH = 5_000;

/**
 * Holds or releases the backlogs of webhooks paused or resumed since the last call
 * (marked by a trigger, see migrations/0021), in batches of its own statements, so a
 * switch costs its request one row and no worker a long transaction. A webhook switched
 * again meanwhile stays marked for the next call. Returns how many deliveries it moved.
 */
export async function syncSwitchedBacklogs(sql: Pool): Promise<number> {
  let moved = 0;
  const switched = await sql<{ id: string; active: boolean }[]>`/* webhooks.backlog-unsynced */
    select id, active from webhooks where not backlog_synced limit 100`;
  for (const webhook of switched) {
    for (;;) {
      const batch = await sql`/* deliveries.hold-batch */
        update deliveries set held = ${!webhook.active}
        where id in (
          select id from deliveries
          where webhook_id = ${webhook.id} and status = 'pending' and not manual and held = ${webhook.active}
          limit ${BATCH})`;
      moved += batch.count;
      if (batch.count < BATCH) break;
    }
    await sql`/* webhooks.backlog-synced */
      update webhooks set backlog_synced = true where id = ${webhook.id} and active = ${webhook.active}`;
  }
  return moved;
}

/**
 * A delivery published in the same instant as a pause can miss it and stay in the due
 * index; this puts any such stragglers right. Returns how many it moved.
 */
export async function syncHeldDeliveries(sql: Pool): Promise<number> {
  return sql.begin(async (tx) => {
    // A sweep over every pending delivery: longer than a request may take, and rare.
    await tx`/* deliveries.sync-held-no-timeout */ set local statement_timeout = 0`;
    const result = await tx`/* deliveries.sync-held */
      update deliveries d set held = not w.active
      from webhooks w
      where w.id = d.webhook_id and d.status = 'pending' and not d.manual and d.held = w.active`;
    return result.count;
  });
}
