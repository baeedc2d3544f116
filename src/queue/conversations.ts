import type { Sql } from '../db/sql.js';

/**
 * Per-conversation ordering keeps each chain (a webhook's deliveries of one conversation,
 * in publish order) to one delivery on its way at a time: the others wait, out of the
 * due index. When a delivery ends, or failed ones are recovered, the chains they belong
 * to move on here: a chain whose first pending delivery is waiting has it released, due
 * now (returns how many). If that first one is already on its way (a manual retry of an older delivery),
 * nothing is, and the chain moves on when it ends. Runs in the caller's transaction, so
 * no crash can leave a chain stuck or let two of its deliveries go at once.
 */
export async function releaseChainHeads(sql: Sql, deliveryIds: string[]): Promise<number> {
  if (deliveryIds.length === 0) return 0;
  const released = await sql`/* deliveries.release-chain-heads */
    ${releaseFirstWaiting(
      sql,
      sql`(select distinct webhook_id, conversation_id from deliveries
        where id = any(${deliveryIds}::text[]) and conversation_id is not null)`,
    )}
    returning n.id`;
  // Waking the workers is the caller's, after its commit (see announceDue).
  return released.count;
}

/**
 * The given chains move on (releaseChainHeads, by chain rather than by a delivery of it):
 * for an erasure, whose deliveries are gone. Returns the deliveries released, due now.
 */
export async function releaseChains(
  sql: Sql,
  chains: readonly { webhookId: string; conversationId: string }[],
): Promise<{ workspaceId: string; webhookId: string; deliveryId: string }[]> {
  if (chains.length === 0) return [];
  return sql<{ workspaceId: string; webhookId: string; deliveryId: string }[]>`/* deliveries.release-chains */
    ${releaseFirstWaiting(
      sql,
      sql`unnest(${chains.map((c) => c.webhookId)}::text[], ${chains.map((c) => c.conversationId)}::text[])`,
    )}
    returning n.workspace_id, n.webhook_id, n.id as delivery_id`;
}

/** Releases the first pending delivery of each chain in `chains` (rows of webhook_id, conversation_id) when it waits. */
function releaseFirstWaiting(sql: Sql, chains: ReturnType<Sql>) {
  return sql`
    update deliveries n
    set waiting = false, next_attempt_at = now(), held = not w.active, updated_at = now()
    from ${chains} as c(webhook_id, conversation_id)
    cross join lateral (
      select x.id from deliveries x
      where x.webhook_id = c.webhook_id and x.conversation_id = c.conversation_id
        and x.status = 'pending' and x.conversation_id is not null
      order by x.conversation_position
      limit 1
    ) first_pending, webhooks w
    where n.id = first_pending.id and n.waiting and w.id = n.webhook_id`;
}
