import { type AgentScope, deliveryAgentFilter } from '../db/agent-filter.js';
import { countRows } from '../db/count.js';
import { type PageWindow, pageMicros, windowFilter, windowOrder } from '../db/keyset.js';
import type { Sql } from '../db/sql.js';
import { announceDue, probeNow } from '../queue/enqueue.js';
import { type Attempt, DELIVERY_STATUSES, type DeliveryStatus } from '../queue/record.js';

export type { Attempt, DeliveryStatus };

export type Delivery = {
  id: string;
  workspaceId: string;
  eventId: string;
  webhookId: string;
  status: DeliveryStatus;
  attemptCount: number;
  nextAttemptAt: Date | null;
  /** Behind an earlier delivery of its conversation (ordered webhooks): no attempt is scheduled yet. */
  waiting: boolean;
  createdAt: Date;
  updatedAt: Date;
  pageMicros: string;
};

const columns = (sql: Sql) => sql`
  id, workspace_id, event_id, webhook_id, status, attempt_count, next_attempt_at, waiting, created_at, updated_at,
  ${pageMicros(sql)}`;

export async function findDelivery(
  sql: Sql,
  workspaceId: string,
  id: string,
  agents?: AgentScope,
): Promise<Delivery | null> {
  const [row] = await sql<Delivery[]>`/* deliveries.find */
    select ${columns(sql)} from deliveries
    where workspace_id = ${workspaceId} and id = ${id} ${deliveryAgentFilter(sql, workspaceId, agents)}`;
  return row ?? null;
}

/** Several deliveries of one workspace, in the order of `ids`; missing ones are left out. */
export async function findDeliveries(
  sql: Sql,
  workspaceId: string,
  ids: string[],
  agents?: AgentScope,
): Promise<Delivery[]> {
  const rows = await sql<Delivery[]>`/* deliveries.find-many */
    select ${columns(sql)} from deliveries
    where workspace_id = ${workspaceId} and id = any(${ids}::text[]) ${deliveryAgentFilter(sql, workspaceId, agents)}`;
  const byId = new Map(rows.map((row) => [row.id, row]));
  return ids.flatMap((id) => byId.get(id) ?? []);
}

/** Whose deliveries a page lists: a webhook's or an event's. */
export type DeliveryParent = 'webhook' | 'event';

const parentColumn = { webhook: 'webhook_id', event: 'event_id' } as const;

/**
 * One page of deliveries for each of several webhooks (or events) in one statement: up
 * to `limit` rows of the window each, in its reading order, keyed by parent id.
 */
export async function listDeliveriesOf(
  sql: Sql,
  workspaceId: string,
  parent: DeliveryParent,
  parentIds: readonly string[],
  filter: { status?: DeliveryStatus | null; agentIds?: AgentScope },
  window: PageWindow,
  limit: number,
): Promise<Map<string, Delivery[]>> {
  const rows = await sql<(Delivery & { parentId: string })[]>`/* deliveries.list */
    select p.id as parent_id, d.*
    from unnest(${parentIds as string[]}::text[]) with ordinality as p(id, position)
    cross join lateral (
      select ${columns(sql)} from deliveries
      where workspace_id = ${workspaceId} and ${sql(parentColumn[parent])} = p.id
        ${filter.status ? sql`and status = ${filter.status}` : sql``}
        ${deliveryAgentFilter(sql, workspaceId, filter.agentIds)}
        ${windowFilter(sql, window)}
      order by ${windowOrder(sql, window)}
      limit ${limit}
    ) d
    order by p.position, ${windowOrder(sql, window, 'd')}`;
  const pages = new Map<string, Delivery[]>();
  for (const { parentId, ...delivery } of rows) {
    const page = pages.get(parentId) ?? [];
    page.push(delivery);
    pages.set(parentId, page);
  }
  return pages;
}

/**
 * How many deliveries each of several webhooks (or events) has, in one statement; with
 * `atMost`, each parent's are counted no further than that.
 */
export async function countDeliveriesOf(
  sql: Sql,
  workspaceId: string,
  parent: DeliveryParent,
  parentIds: readonly string[],
  filter: { status?: DeliveryStatus | null; agentIds?: AgentScope },
  atMost?: number,
): Promise<Map<string, number>> {
  if (atMost !== undefined) {
    const bounded = await sql<{ parentId: string; count: number }[]>`/* deliveries.count-bounded */
      select p.id as parent_id, c.count
      from unnest(${parentIds as string[]}::text[]) as p(id)
      cross join lateral (${countRows(
        sql,
        sql`deliveries where workspace_id = ${workspaceId} and ${sql(parentColumn[parent])} = p.id
          ${filter.status ? sql`and status = ${filter.status}` : sql``}
          ${deliveryAgentFilter(sql, workspaceId, filter.agentIds)}`,
        atMost,
      )}) c`;
    return new Map(bounded.map((row) => [row.parentId, row.count]));
  }
  const rows = await sql<{ parentId: string; count: number }[]>`/* deliveries.count */
    select ${sql(parentColumn[parent])} as parent_id, count(*)::int as count from deliveries
    where workspace_id = ${workspaceId} and ${sql(parentColumn[parent])} = any(${parentIds as string[]}::text[])
      ${filter.status ? sql`and status = ${filter.status}` : sql``}
      ${deliveryAgentFilter(sql, workspaceId, filter.agentIds)}
    group by 1`;
  return new Map(rows.map((row) => [row.parentId, row.count]));
}

/** What Query.deliveries filters on; every part is optional. */
export type DeliverySearch = {
  status?: DeliveryStatus | null;
  webhookId?: string | null;
  since?: Date | null;
  until?: Date | null;
  /** The caller's agents (a portal session's), by the webhook delivered to; null or absent: every agent. */
  agentIds?: AgentScope;
};

function searchSql(sql: Sql, workspaceId: string, search: DeliverySearch) {
  return sql`workspace_id = ${workspaceId}
    ${search.status ? sql`and status = ${search.status}` : sql``}
    ${search.webhookId ? sql`and webhook_id = ${search.webhookId}` : sql``}
    ${search.since ? sql`and created_at >= ${search.since}` : sql``}
    ${search.until ? sql`and created_at < ${search.until}` : sql``}
    ${deliveryAgentFilter(sql, workspaceId, search.agentIds)}`;
}

/**
 * A page of a workspace's deliveries: up to `limit` rows of the window, in its reading
 * order. With a status or a webhook the read walks one index in order
 * (deliveries_workspace_status_page, deliveries_webhook_page or, for FAILED,
 * deliveries_webhook_failed_page). Without either, each status's range of the status
 * index is read in order, at most `limit` rows each, and the three merged: the first page
 * costs three short index walks at any size of table, and no index on (workspace_id,
 * created_at) has to be kept up at every change of every delivery.
 */
export async function searchDeliveries(
  sql: Sql,
  workspaceId: string,
  search: DeliverySearch,
  window: PageWindow,
  limit: number,
): Promise<Delivery[]> {
  if (search.status || search.webhookId) {
    return sql<Delivery[]>`/* deliveries.search */
      select ${columns(sql)} from deliveries
      where ${searchSql(sql, workspaceId, search)} ${windowFilter(sql, window)}
      order by ${windowOrder(sql, window)}
      limit ${limit}`;
  }
  const perStatus = DELIVERY_STATUSES.map(
    (status) => sql`(
      select ${columns(sql)} from deliveries
      where ${searchSql(sql, workspaceId, { ...search, status })} ${windowFilter(sql, window)}
      order by ${windowOrder(sql, window)}
      limit ${limit})`,
  ).reduce((union, part) => sql`${union} union all ${part}`);
  return sql<Delivery[]>`/* deliveries.search-all */
    select * from (${perStatus}) d
    order by ${windowOrder(sql, window)}
    limit ${limit}`;
}

/** How many deliveries match; with `atMost`, counted no further than that. */
export async function countSearchedDeliveries(
  sql: Sql,
  workspaceId: string,
  search: DeliverySearch,
  atMost?: number,
): Promise<number> {
  const [row] = await sql<{ count: number }[]>`/* deliveries.search-count */
    ${countRows(sql, sql`deliveries where ${searchSql(sql, workspaceId, search)}`, atMost)}`;
  return row?.count ?? 0;
}

/** The last `last` attempts of each delivery, oldest first, in one statement. */
export async function listAttemptsOf(
  sql: Sql,
  deliveryIds: readonly string[],
  last: number,
): Promise<Map<string, Attempt[]>> {
  const rows = await sql<(Attempt & { deliveryId: string; id: string })[]>`/* deliveries.attempts */
    select a.* from unnest(${deliveryIds as string[]}::text[]) as p(id)
    cross join lateral (
      select delivery_id, id, attempted_at, status_code, duration_ms, error, response_body
      from delivery_attempts where delivery_id = p.id order by id desc limit ${last}
    ) a
    order by a.delivery_id, a.id`;
  const attempts = new Map<string, Attempt[]>();
  for (const { deliveryId, id: _id, ...attempt } of rows) {
    const list = attempts.get(deliveryId) ?? [];
    list.push(attempt);
    attempts.set(deliveryId, list);
  }
  return attempts;
}

/**
 * A new attempt now, also for a delivery that already failed or succeeded: it becomes
 * pending and due, sent even if the webhook is paused. The attempt count keeps growing,
 * so the retry schedule continues from where it was if this attempt fails too.
 */
export async function retryDelivery(sql: Sql, workspaceId: string, id: string): Promise<Delivery | null> {
  const [row] = await sql<Delivery[]>`/* deliveries.retry */
    update deliveries set status = 'pending', next_attempt_at = now(), claim_token = null, manual = true, held = false,
      waiting = false, updated_at = now()
    where workspace_id = ${workspaceId} and id = ${id}
    returning ${columns(sql)}`;
  if (row) {
    await probeNow(sql, row.webhookId);
    await announceDue(sql, [{ workspaceId, webhookId: row.webhookId, deliveryId: row.id }]);
  }
  return row ?? null;
}
