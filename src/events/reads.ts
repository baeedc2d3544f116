import { type AgentScope, agentFilter } from '../db/agent-filter.js';
import { countRows } from '../db/count.js';
import { type PageWindow, pageMicros, windowFilter, windowOrder } from '../db/keyset.js';
import type { Sql } from '../db/sql.js';

export type EventRecord = {
  id: string;
  workspaceId: string;
  agentId: string;
  conversationId: string | null;
  type: string;
  /**
   * The exact JSON body deliveries send: up to 256 KiB, so reads leave it out (see
   * findPayloads) and only the event just written or matched by its idempotency key has it.
   */
  payload?: string;
  createdAt: Date;
  pageMicros: string;
};

export const eventColumns = (sql: Sql) => sql`
  id, workspace_id, agent_id, conversation_id, type, created_at,
  ${pageMicros(sql)}`;

export async function findEvent(
  sql: Sql,
  workspaceId: string,
  id: string,
  agents?: AgentScope,
): Promise<EventRecord | null> {
  const [row] = await sql<EventRecord[]>`/* events.find */
    select ${eventColumns(sql)} from events where workspace_id = ${workspaceId} and id = ${id} ${agentFilter(sql, agents)}`;
  return row ?? null;
}

/** Several events of one workspace by id, in one statement; missing ones are left out. */
export async function findEvents(
  sql: Sql,
  workspaceId: string,
  ids: readonly string[],
  agents?: AgentScope,
): Promise<EventRecord[]> {
  return sql<EventRecord[]>`/* events.find-many */
    select ${eventColumns(sql)} from events
    where workspace_id = ${workspaceId} and id = any(${ids as string[]}::text[]) ${agentFilter(sql, agents)}`;
}

/** The payloads of several events of one workspace, by id, in one statement. */
export async function findPayloads(
  sql: Sql,
  workspaceId: string,
  ids: readonly string[],
): Promise<Map<string, string>> {
  const rows = await sql<{ id: string; payload: string }[]>`/* events.payloads */
    select id, payload from events where workspace_id = ${workspaceId} and id = any(${ids as string[]}::text[])`;
  return new Map(rows.map((row) => [row.id, row.payload]));
}

/** What Query.events filters on; every part is optional. */
export type EventSearch = {
  agentId?: string | null;
  /** Wire name: conversation_started, …. */
  type?: string | null;
  since?: Date | null;
  until?: Date | null;
  /** The caller's agents (a portal session's); null or absent: every agent. */
  agentIds?: AgentScope;
};

function searchSql(sql: Sql, workspaceId: string, search: EventSearch) {
  return sql`workspace_id = ${workspaceId}
    ${search.agentId != null ? sql`and agent_id = ${search.agentId}` : sql``}
    ${search.type != null ? sql`and type = ${search.type}` : sql``}
    ${search.since ? sql`and created_at >= ${search.since}` : sql``}
    ${search.until ? sql`and created_at < ${search.until}` : sql``}
    ${agentFilter(sql, search.agentIds)}`;
}

/**
 * A page of a workspace's events: up to `limit` rows of the window, in its reading order,
 * walking events_workspace_page, events_agent_page (an agent's, its type checked inside
 * the index) or events_type_page in order, so the first page costs the same at any size.
 */
export async function searchEvents(
  sql: Sql,
  workspaceId: string,
  search: EventSearch,
  window: PageWindow,
  limit: number,
): Promise<EventRecord[]> {
  return sql<EventRecord[]>`/* events.search */
    select ${eventColumns(sql)} from events
    where ${searchSql(sql, workspaceId, search)} ${windowFilter(sql, window)}
    order by ${windowOrder(sql, window)}
    limit ${limit}`;
}

/** How many events match; with `atMost`, counted no further than that. */
export async function countSearchedEvents(
  sql: Sql,
  workspaceId: string,
  search: EventSearch,
  atMost?: number,
): Promise<number> {
  const [row] = await sql<{ count: number }[]>`/* events.search-count */
    ${countRows(sql, sql`events where ${searchSql(sql, workspaceId, search)}`, atMost)}`;
  return row?.count ?? 0;
}
