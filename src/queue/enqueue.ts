import {
  CHANGES_PER_NOTICE,
  DELIVERIES_DUE,
  DELIVERY_UPDATES,
  type DeliveryChange,
  encodeChanges,
} from '../db/channels.js';
import type { Sql } from '../db/sql.js';

/** A published event, as fan-out needs it. */
export type FanOutEvent = {
  id: string;
  workspaceId: string;
  agentId: string;
  /** Wire name: conversation_started, …. */
  type: string;
  conversationId: string | null;
  /**
   * Whether PostgreSQL's jsonb can hold its data (not with a NUL or an unpaired surrogate in
   * a string or a key). When it cannot, the event meets no condition: only webhooks
   * without conditions get it.
   */
  dataFitsJsonb: boolean;
};

/**
 * The way published events' deliveries enter the queue: one pending delivery per active
 * webhook of each event's agent subscribed to its type, due now, for a whole batch in one
 * statement, in the caller's transaction (the events and their deliveries commit
 * together). The publisher announces them after its commit (see announceDue). Returns the
 * new deliveries.
 *
 * A webhook that orders by conversation gets each conversation as a chain: a delivery
 * behind a pending one of its chain (from an earlier publish, or an earlier event of this
 * batch) is stored waiting, and positions follow the events' order.
 *
 * A webhook with conditions (webhooks/conditions.ts) gets a delivery only when its compiled
 * predicate holds for the event's data, decided here in the same statement. The data is
 * read from the event's stored payload (inserted earlier in the caller's transaction) and
 * parsed once per event, only when its agent has a webhook with conditions.
 */
export async function enqueueDeliveries(
  tx: Sql,
  events: readonly FanOutEvent[],
): Promise<{ id: string; workspaceId: string; webhookId: string; eventId: string }[]> {
  const [first] = events;
  if (!first) return [];
  const workspaceId = first.workspaceId;
  // A batch is one caller's, so one workspace's (see the join below).
  if (events.some((event) => event.workspaceId !== workspaceId)) throw new Error('a batch spans workspaces');
  await lockConversations(tx, events);
  const column = <K extends keyof FanOutEvent>(key: K) => events.map((event) => event[key]);
  return tx<{ id: string; workspaceId: string; webhookId: string; eventId: string }[]>`/* deliveries.enqueue-fan-out */
    insert into deliveries (id, workspace_id, event_id, webhook_id, next_attempt_at,
      conversation_id, conversation_position, waiting)
    with e as materialized (
      -- Materialized: each event's data is parsed here once, not once per webhook joined below.
      select u.id, u.workspace_id, u.agent_id, u.type, u.conversation_id, u.position,
        case when u.fits_jsonb and exists (
          select 1 from webhooks c
          where c.workspace_id = ${workspaceId} and c.agent_id = u.agent_id and c.conditions_match is not null
        ) then (select p.payload::jsonb -> 'data' from events p where p.id = u.id) end as data
      from unnest(${column('id')}::text[], ${column('workspaceId')}::text[], ${column('agentId')}::text[],
        ${column('type')}::text[], ${column('conversationId')}::text[], ${tx.array(column('dataFitsJsonb'))}::bool[])
        with ordinality as u(id, workspace_id, agent_id, type, conversation_id, fits_jsonb, position)
    )
    select random_id('dlv_'), workspace_id, event_id, webhook_id, now(), conversation_id,
      -- Taken row by row in the events' order (the subquery is sorted), under the conversations' locks.
      case when conversation_id is not null then nextval('deliveries_conversation_position') end,
      waiting
    from (
      select w.workspace_id, e.id as event_id, w.id as webhook_id, o.conversation_id,
        o.conversation_id is not null and (
          -- Behind an earlier event of the same chain in this batch,
          row_number() over (partition by w.id, o.conversation_id order by e.position) > 1
          -- or behind a delivery of the chain still pending from an earlier publish.
          or exists (
            select 1 from deliveries p
            where p.webhook_id = w.id and p.conversation_id = o.conversation_id
              and p.status = 'pending' and p.conversation_id is not null)
        ) as waiting
      from e
      -- The workspace as a value, not a column of the unnest: the planner then sees whose
      -- webhooks these are and walks webhooks_agent_page. Joined on the unnested column, it
      -- could not, and hashed every workspace's webhooks: one tenant with 60,000 made another's
      -- publish five times slower.
      join webhooks w on w.workspace_id = ${workspaceId} and w.agent_id = e.agent_id and w.active
        and e.type = any(w.events)
        -- Unknown (a missing path, values of different types) is not true: no delivery.
        and (w.conditions_match is null or jsonb_path_match(e.data, w.conditions_match, w.conditions_vars, true))
      -- Chains only for webhooks that order by conversation.
      cross join lateral (
        select case when w.ordering = 'conversation' then e.conversation_id end as conversation_id
      ) o
      order by e.position
    ) fan_out
    returning id, workspace_id, webhook_id, event_id`;
}

/**
 * Publishes of one conversation take turns, so each sees the one before it committed and
 * queues behind it (a concurrent pair would otherwise both find the chain empty). A
 * batch takes all its conversations' locks at once, in one fixed order, so two batches
 * sharing conversations cannot deadlock.
 */
async function lockConversations(tx: Sql, events: readonly FanOutEvent[]): Promise<void> {
  const ordered = events.filter((event) => event.conversationId !== null);
  if (ordered.length === 0) return;
  await tx`/* events.conversation-lock */
    select pg_advisory_xact_lock(key) from (
      select distinct hashtextextended(workspace_id || '/' || conversation_id, 0) as key
      from unnest(${ordered.map((e) => e.workspaceId)}::text[], ${ordered.map((e) => e.conversationId)}::text[])
        as c(workspace_id, conversation_id)
      order by key
    ) conversations`;
}

/**
 * One delivery to one webhook, even paused and whatever it subscribes to: a person asked
 * for it (a test event). Announced with its transaction.
 */
export async function enqueueManualDelivery(
  tx: Sql,
  event: { id: string; workspaceId: string },
  webhookId: string,
): Promise<string> {
  const [delivery] = await tx<{ id: string }[]>`/* deliveries.enqueue-one */
    insert into deliveries (id, workspace_id, event_id, webhook_id, next_attempt_at, manual)
    values (random_id('dlv_'), ${event.workspaceId}, ${event.id}, ${webhookId}, now(), true)
    returning id`;
  const id = (delivery as { id: string }).id;
  await probeNow(tx, webhookId);
  await announceDue(tx, [{ workspaceId: event.workspaceId, webhookId, deliveryId: id }]);
  return id;
}

/**
 * The deliveries of operational notices (events/notices.ts), any number in one
 * statement, in the caller's transaction: every active webhook of the notice's workspace
 * subscribed to its type, whatever its agent, except the webhook the notice is about.
 * A recipient being deleted is stepped over (only a delete holds a webhook FOR UPDATE):
 * its foreign key would otherwise fail the worker's whole outcome batch, every workspace's
 * outcomes in it, once the delete commits.
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
    join lateral (
      select w.id, w.workspace_id from webhooks w
      where w.workspace_id = n.workspace_id and w.active and n.type = any(w.events) and w.id <> n.about_webhook_id
      for key share of w skip locked
    ) w on true
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
  await notify(tx, [[DELIVERIES_DUE, ''], ...changeNotices(changes)]);
}

/**
 * Announces delivery changes to every instance: whichever process made the change,
 * NOTIFY reaches all that LISTEN, and each passes it to its own subscribers.
 */
export async function announceChanges(sql: Sql, changes: DeliveryChange[]): Promise<void> {
  if (changes.length === 0) return;
  await notify(sql, changeNotices(changes));
}

function changeNotices(changes: DeliveryChange[]): [string, string][] {
  const notices: [string, string][] = [];
  for (let i = 0; i < changes.length; i += CHANGES_PER_NOTICE) {
    notices.push([DELIVERY_UPDATES, encodeChanges(changes.slice(i, i + CHANGES_PER_NOTICE))]);
  }
  return notices;
}

/**
 * Sends notices in order, in one statement: on the pool each statement commits by itself,
 * and each such commit takes the notification lock through its WAL flush (a batch of
 * 1,000 deliveries made 11 of them, one after another).
 */
async function notify(sql: Sql, notices: [channel: string, payload: string][]): Promise<void> {
  await sql`/* deliveries.announce */
    select pg_notify(channel, payload)
    from unnest(${notices.map(([channel]) => channel)}::text[], ${notices.map(([, payload]) => payload)}::text[])
      as n(channel, payload)`;
}
