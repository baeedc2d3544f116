import { type DeliveryChange, ERASED_PER_NOTICE, EVENTS_ERASED } from '../db/channels.js';
import { retryRaces } from '../db/retry.js';
import type { Pool, Sql } from '../db/sql.js';
import { releaseChains } from '../queue/conversations.js';
import { announceDue } from '../queue/enqueue.js';

/** What an erasure deleted. */
export type Erased = { events: number; deliveries: number };

/** Which events to erase: one conversation's, or one event. Always within one workspace. */
export type ErasureTarget = { conversationId: string } | { eventId: string };

/**
 * Deletes a workspace's events (one conversation's, or one), their deliveries and those
 * deliveries' attempts, in one transaction. After the commit no worker can claim any of
 * them, and workers drop what they claimed of them and have not sent (the EVENTS_ERASED
 * notice, worker/worker.ts); a request already under way may finish, and its outcome
 * then finds nothing to record (queue/record.ts writes only where the delivery still
 * exists). Nothing found is nothing erased: a second call returns zeros.
 *
 * Locks are taken in one order, events then deliveries, each sorted by id, before
 * anything is deleted. Retention (worker/retention.ts) takes events with SKIP LOCKED and
 * then only its own events' deliveries; claims take deliveries with SKIP LOCKED; so
 * neither can wait on an erasure that waits on it. Writers that lock deliveries in another
 * order (an outcome batch releasing a conversation's next delivery, a paused backlog being
 * held) can still meet one in a cycle; PostgreSQL then ends one side, and ours is tried again.
 */
export async function eraseEvents(pool: Pool, workspaceId: string, target: ErasureTarget): Promise<Erased> {
  const { released, ...erased } = await retryRaces(() => pool.begin((tx) => eraseIn(tx, workspaceId, target)));
  // After the commit (see announceDue); lost, the released deliveries wait for the workers' poll.
  await announceDue(pool, released).catch(() => {});
  return erased;
}

async function eraseIn(
  tx: Sql,
  workspaceId: string,
  target: ErasureTarget,
): Promise<Erased & { released: DeliveryChange[] }> {
  const events = await tx<{ id: string }[]>`/* events.erase-lock */
    select id from events
    where workspace_id = ${workspaceId}
      and ${'conversationId' in target ? tx`conversation_id = ${target.conversationId}` : tx`id = ${target.eventId}`}
    order by id
    for update`;
  if (events.length === 0) return { events: 0, deliveries: 0, released: [] };
  const eventIds = events.map((event) => event.id);
  const [erased] = await tx<(Erased & { chainWebhooks: string[]; chainConversations: string[] })[]>`
    /* deliveries.erase */
    with doomed as materialized (
      select id, webhook_id, conversation_id, status from deliveries
      where event_id = any(${eventIds}::text[])
      order by id
      for update
    ), gone as (
      -- Their attempts go with them (the statement trigger of migration 0014).
      delete from deliveries d where d.id = any(array(select id from doomed)) returning d.id
    ), events_gone as (
      delete from events e where e.id = any(${eventIds}::text[]) returning e.id
    ), chains as (
      select distinct webhook_id, conversation_id from doomed where status = 'pending' and conversation_id is not null
    )
    select (select count(*) from events_gone)::int as events, (select count(*) from gone)::int as deliveries,
      array(select webhook_id from chains order by webhook_id, conversation_id) as chain_webhooks,
      array(select conversation_id from chains order by webhook_id, conversation_id) as chain_conversations`;
  const { chainWebhooks, chainConversations, ...counts } = erased as Erased & {
    chainWebhooks: string[];
    chainConversations: string[];
  };
  // Heard at the commit by every worker, which drops what it claimed of these and has not sent.
  const notices: string[] = [];
  for (let i = 0; i < eventIds.length; i += ERASED_PER_NOTICE) {
    notices.push(JSON.stringify(eventIds.slice(i, i + ERASED_PER_NOTICE)));
  }
  await tx`/* events.erased-notify */
    select pg_notify(${EVENTS_ERASED}, payload) from unnest(${notices}::text[]) as n(payload)`;
  // A pending delivery erased from a conversation chain (ordering CONVERSATION) may have been
  // the one the next waits for: its chain moves on, as if it had ended.
  const released = await releaseChains(
    tx,
    chainWebhooks.map((webhookId, i) => ({ webhookId, conversationId: chainConversations[i] as string })),
  );
  return { ...counts, released };
}
