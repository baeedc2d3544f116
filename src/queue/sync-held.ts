import type { Pool } from '../db/sql.js';

/** Deliveries held or released per statement: each batch is short, whatever the backlog. */
const BATCH = 5_000;

/**
 * Holds or releases the backlogs of webhooks paused or resumed since the last call
 * (marked by a trigger, see migrations/0021), in set-based batches of their own
 * statements, so a switch costs its request one row and no worker a long transaction,
 * however many webhooks were switched at once. A webhook is marked done only when nothing
 * of its backlog is left to move; one switched again meanwhile is marked anew by the
 * trigger. Returns how many deliveries it moved.
 *
 * It never waits for a row another transaction holds: it skips it, and the next call (a
 * second or so later) moves it. Waiting, it took rows in its own order while a delete's
 * cascade, or updateWebhook releasing conversation chains, took them in theirs: a deadlock,
 * and PostgreSQL chose the request as often as this.
 */
export async function syncSwitchedBacklogs(sql: Pool): Promise<number> {
  let moved = 0;
  for (;;) {
    const batch = await sql`/* deliveries.hold-batch */
      update deliveries d set held = not w.active
      from webhooks w
      where w.id = d.webhook_id and d.id in (
        select p.id from webhooks s join deliveries p on p.webhook_id = s.id
        where not s.backlog_synced and p.status = 'pending' and not p.manual and p.held = s.active
        limit ${BATCH}
        for update of p skip locked)`;
    moved += batch.count;
    if (batch.count < BATCH) break;
  }
  await sql`/* webhooks.backlog-synced */
    update webhooks set backlog_synced = true
    where id in (
      select w.id from webhooks w
      where not w.backlog_synced and not exists (
        select 1 from deliveries d
        where d.webhook_id = w.id and d.status = 'pending' and not d.manual and d.held = w.active)
      -- No key changes: the weakest lock an update needs, so notices never step over it.
      for no key update skip locked)`;
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
    // Rows another transaction holds are skipped, as above: the next sweep puts them right.
    const result = await tx`/* deliveries.sync-held */
      update deliveries d set held = not w.active
      from webhooks w
      where w.id = d.webhook_id and d.id in (
        select p.id from deliveries p join webhooks s on s.id = p.webhook_id
        where p.status = 'pending' and not p.manual and p.held = s.active
        for update of p skip locked)`;
    return result.count;
  });
}
