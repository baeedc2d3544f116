import type { PageKey } from '../db/keyset.js';
import type { Pool } from '../db/sql.js';
import { releaseChainHeads } from './conversations.js';
import { announceDue, probeNow } from './enqueue.js';

type Recovered = { id: string; pageMicros: string; conversationId: string | null };

/** Deliveries recovered per transaction: a million failed ones never make one giant statement. */
export const RECOVER_BATCH = 1000;

/**
 * Gives every FAILED delivery of a webhook created in [since, until) a new attempt now,
 * oldest first, in batches of their own transactions; returns how many. Calling it twice
 * is safe: recovered deliveries are pending, no longer failed. They follow the webhook's
 * state like any other: held while it is paused, one probe at a time while its circuit
 * is open (the first probe goes at once, as for a manual retry). The attempt count keeps
 * growing, so a recovered delivery that fails again has used its schedule and fails for
 * good. In an ordered webhook, recovered deliveries rejoin their conversation's chain in
 * publish order.
 */
export async function recoverFailedDeliveries(
  pool: Pool,
  workspaceId: string,
  webhookId: string,
  since: Date,
  until: Date,
): Promise<number> {
  let recovered = 0;
  // Keyset walk, oldest first, on (created_at, id) in exact microseconds.
  let after: PageKey | undefined;
  for (;;) {
    const rows = await pool.begin(async (tx): Promise<Recovered[]> => {
      // The webhook's row first, then its deliveries: the order a delete (and updateWebhook)
      // takes them in. Deliveries first, a delete waiting on them held the row probeNow
      // needs: a deadlock. Deleted meanwhile: nothing left to recover.
      const [webhook] = await tx`/* webhooks.lock-for-recover */
        select 1 from webhooks where id = ${webhookId} and workspace_id = ${workspaceId} for no key update`;
      if (!webhook) return [];
      const batch = await tx<Recovered[]>`/* deliveries.recover */
        with batch as (
          select id from deliveries
          where webhook_id = ${webhookId} and workspace_id = ${workspaceId} and status = 'failed'
            and created_at >= ${since} and created_at < ${until}
            ${after ? tx`and (created_at, id) > (timestamptz 'epoch' + ${after.micros}::bigint * interval '1 microsecond', ${after.id})` : tx``}
          order by created_at, id
          limit ${RECOVER_BATCH}
          for update skip locked
        )
        update deliveries d
        set status = 'pending', next_attempt_at = now(), claim_token = null, manual = false, held = not w.active,
          -- Ordered conversations: wait in the chain; its first pending delivery is released below.
          waiting = d.conversation_id is not null, updated_at = now()
        from batch b, webhooks w
        where d.id = b.id and w.id = d.webhook_id
        returning d.id, d.conversation_id, (extract(epoch from d.created_at) * 1000000)::bigint::text as page_micros`;
      if (batch.length === 0) return batch;
      await releaseChainHeads(
        tx,
        batch.filter((d) => d.conversationId !== null).map((d) => d.id),
      );
      await probeNow(tx, webhookId);
      await announceDue(
        tx,
        batch.map((d) => ({ workspaceId, webhookId, deliveryId: d.id })),
      );
      return batch;
    });
    recovered += rows.length;
    if (rows.length < RECOVER_BATCH) return recovered;
    // The batch's newest, by the same order the walk uses.
    const last = rows.reduce((a, b) =>
      BigInt(a.pageMicros) > BigInt(b.pageMicros) || (a.pageMicros === b.pageMicros && a.id > b.id) ? a : b,
    );
    after = { micros: last.pageMicros, id: last.id };
  }
}
