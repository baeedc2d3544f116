import type { Pool } from '../db/sql.js';

/**
 * Pausing or resuming a webhook holds or releases its backlog (a trigger, see
 * migrations/0004). A delivery published in the same instant as a pause can miss it and
 * stay in the due index; this puts any such stragglers right. Returns how many it moved.
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
