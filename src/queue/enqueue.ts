import {
  CHANGES_PER_NOTICE,
  DELIVERIES_DUE,
  DELIVERY_CHANGES,
  type DeliveryChange,
  encodeChanges,
} from '../db/channels.js';
import type { Sql } from '../db/sql.js';

/** Who gets deliveries of an event. */
export type Recipients =
  /** Every active webhook of the event's agent subscribed to its type. */
  | { subscribedTo: string }
  /** One webhook, even paused and whatever it subscribes to: a person asked for it. */
  | { webhookId: string };

/**
 * The one way deliveries enter the queue: inserts them due now, in the caller's
 * transaction (the event and its deliveries commit together), then wakes the workers and
 * tells live subscriptions. Returns the new deliveries.
 */
export async function enqueueDeliveries(
  tx: Sql,
  event: { id: string; workspaceId: string; agentId: string; conversationId?: string | null },
  to: Recipients,
): Promise<{ id: string; webhookId: string }[]> {
  const conversationId = event.conversationId ?? null;
  // Publishes of one conversation take turns, so each sees the one before it committed
  // and queues behind it (a concurrent pair would otherwise both find the chain empty).
  if (conversationId !== null && !('webhookId' in to)) {
    await tx`/* events.conversation-lock */
      select pg_advisory_xact_lock(hashtextextended(${event.workspaceId} || '/' || ${conversationId}, 0))`;
  }
  const created =
    'webhookId' in to
      ? await tx<{ id: string; webhookId: string }[]>`/* deliveries.enqueue-one */
          insert into deliveries (id, workspace_id, event_id, webhook_id, next_attempt_at, manual)
          values (random_id('dlv_'), ${event.workspaceId}, ${event.id}, ${to.webhookId}, now(), true)
          returning id, webhook_id`
      : await tx<{ id: string; webhookId: string }[]>`/* deliveries.enqueue-fan-out */
          insert into deliveries (id, workspace_id, event_id, webhook_id, next_attempt_at,
            conversation_id, conversation_position, waiting)
          select random_id('dlv_'), w.workspace_id, ${event.id}, w.id, now(),
            o.conversation_id, case when o.conversation_id is not null then nextval('deliveries_conversation_position') end,
            -- Behind an earlier delivery of the same conversation still pending: wait for it.
            o.conversation_id is not null and exists (
              select 1 from deliveries p
              where p.webhook_id = w.id and p.conversation_id = o.conversation_id
                and p.status = 'pending' and p.conversation_id is not null)
          from webhooks w
          -- Chains only for webhooks that order by conversation.
          cross join lateral (
            select case when w.ordering = 'conversation' then ${conversationId}::text end as conversation_id
          ) o
          where w.workspace_id = ${event.workspaceId} and w.agent_id = ${event.agentId} and w.active
            and ${to.subscribedTo} = any(w.events)
          returning id, webhook_id`;
  if ('webhookId' in to) {
    await probeNow(tx, to.webhookId);
    // A person's one delivery: announced with its transaction. A fan-out is announced by
    // the publisher after its commit (see announceDue).
    await announceDue(
      tx,
      created.map((d) => ({ workspaceId: event.workspaceId, webhookId: d.webhookId, deliveryId: d.id })),
    );
  }
  return [...created];
}

/**
 * The deliveries of operational notices (events/notices.ts), any number in one
 * statement, in the caller's transaction: every active webhook of the notice's workspace
 * subscribed to its type, whatever its agent, except the webhook the notice is about.
 */
export async function enqueueNoticeDeliveries(
  tx: Sql,
  notices: readonly { eventId: string; workspaceId: string; type: string; aboutWebhookId: string }[],
): Promise<void> {
  if (notices.length === 0) return;
  const created = await tx<{ id: string; webhookId: string; workspaceId: string }[]>`/* deliveries.enqueue-notices */
    insert into deliveries (id, workspace_id, event_id, webhook_id, next_attempt_at)
    select random_id('dlv_'), w.workspace_id, n.event_id, w.id, now()
    from unnest(${notices.map((n) => n.eventId)}::text[], ${notices.map((n) => n.workspaceId)}::text[],
      ${notices.map((n) => n.type)}::text[], ${notices.map((n) => n.aboutWebhookId)}::text[])
      as n(event_id, workspace_id, type, about_webhook_id)
    -- Stored notices only (those with a recipient when stored).
    join events e on e.id = n.event_id
    join webhooks w on w.workspace_id = n.workspace_id and w.active and n.type = any(w.events)
      and w.id <> n.about_webhook_id
    returning id, webhook_id, workspace_id`;
  await announceDue(
    tx,
    created.map((d) => ({ workspaceId: d.workspaceId, webhookId: d.webhookId, deliveryId: d.id })),
  );
}

/**
 * A person asked for an attempt (a test event, a retry): if the webhook's circuit is
 * open, its next probe goes now instead of at its scheduled time. Its success closes the
 * circuit, which is usually what the person is checking.
 */
export async function probeNow(tx: Sql, webhookId: string): Promise<void> {
  await tx`/* webhooks.probe-now */
    update webhooks set next_probe_at = now() where id = ${webhookId} and circuit_opened_at is not null`;
}

/**
 * Deliveries became due (new, or retried by hand): wake the workers and tell subscribers.
 * Publishing calls it after its transaction commits, on the pool: a commit that carries
 * a NOTIFY holds PostgreSQL's notification lock through its WAL flush, so publishes that
 * notified inside their transactions committed one at a time. Outside, a lost wake-up
 * (a crash between the two) costs at most the workers' 1-second poll.
 */
export async function announceDue(tx: Sql, changes: DeliveryChange[]): Promise<void> {
  if (changes.length === 0) return;
  await tx`/* deliveries.wake */ select pg_notify(${DELIVERIES_DUE}, '')`;
  await announceChanges(tx, changes);
}

/**
 * Announces delivery changes to every instance: whichever process made the change,
 * NOTIFY reaches all that LISTEN, and each passes it to its own subscribers.
 */
export async function announceChanges(sql: Sql, changes: DeliveryChange[]): Promise<void> {
  if (changes.length === 0) return;
  const notices: string[] = [];
  for (let i = 0; i < changes.length; i += CHANGES_PER_NOTICE) {
    notices.push(encodeChanges(changes.slice(i, i + CHANGES_PER_NOTICE)));
  }
  // However many notices, one statement (a round trip for each cost a busy worker more than its writes).
  await sql`/* deliveries.announce */ select pg_notify(${DELIVERY_CHANGES}, n) from unnest(${notices}::text[]) n`;
}
