import { isDeepStrictEqual } from 'node:util';
import type { DeliveryChange } from '../db/channels.js';
import { type PageWindow, pageMicros, windowFilter, windowOrder } from '../db/keyset.js';
import type { Pool, Sql } from '../db/sql.js';
import { newId } from '../lib/ids.js';
import { announceDue, enqueueDeliveries } from '../queue/enqueue.js';

export const IDEMPOTENCY_WINDOW_HOURS = 24;

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

export type NewEvent = {
  workspaceId: string;
  agentId: string;
  /** Wire name: conversation_started, …, or webhook.test. */
  type: string;
  data: unknown;
  /** Deliveries to webhooks that order by conversation go one at a time per conversation. */
  conversationId?: string | null;
  idempotencyKey?: string | null;
  /** The publish span's W3C traceparent, when tracing is on: its delivery attempts link to it. */
  traceparent?: string | null;
};

/** An idempotency key reused for a different event; `index` is its place in a batch. */
export class IdempotencyConflict extends Error {
  constructor(readonly index = 0) {
    super('idempotency key reused for a different event');
  }
}

const columns = (sql: Sql) => sql`
  id, workspace_id, agent_id, conversation_id, type, created_at,
  ${pageMicros(sql)}`;

/** The body receivers get, in a fixed key order; built once so every retry signs the same bytes. */
export function eventPayload(
  event: {
    id: string;
    type: string;
    createdAt: Date;
    workspaceId: string;
    agentId: string;
    conversationId?: string | null;
  },
  data: unknown,
) {
  return JSON.stringify({
    id: event.id,
    type: event.type,
    timestamp: event.createdAt.toISOString(),
    workspaceId: event.workspaceId,
    agentId: event.agentId,
    // Only when published with one: payloads without it stay as they always were.
    ...(event.conversationId ? { conversationId: event.conversationId } : {}),
    data,
  });
}

export type Published = {
  event: EventRecord;
  created: boolean;
  /** The webhooks it is delivered to (none when an idempotency key matched an earlier event). */
  webhooks: number;
  /** Its new deliveries, announced once the transaction has committed. */
  deliveries: DeliveryChange[];
};

/** Wakes the workers and tells subscribers, after the commit; a failure here loses nothing (the workers poll). */
async function announceCommitted(pool: Pool, published: Published[]): Promise<void> {
  await announceDue(
    pool,
    published.flatMap((p) => p.deliveries),
  ).catch(() => {});
}

/**
 * Stores an event and one pending delivery per active webhook of the workspace's agent
 * subscribed to its type, in one transaction (see enqueueDeliveries). With an idempotency key seen
 * in the last 24 hours, returns that event instead and delivers nothing new.
 */
export async function publishEvent(pool: Pool, input: NewEvent): Promise<Published> {
  const [published] = await publishEvents(pool, [input]);
  return published as Published;
}

/**
 * Publishes several events in one transaction, in order: all of them or none. Each keeps
 * its own idempotency key (one already used in the last 24 hours returns that event).
 */
export async function publishEvents(pool: Pool, inputs: NewEvent[]): Promise<Published[]> {
  const publishAll = (tx: Sql) => sequentially(inputs, (input, index) => publishIn(tx, input, index));
  let published: Published[];
  try {
    published = await pool.begin(publishAll);
  } catch (error) {
    // Two requests with the same new key raced; the loser now finds the winner's event.
    if ((error as { code?: string }).code !== '23505' || !inputs.some((input) => input.idempotencyKey)) throw error;
    published = await pool.begin(publishAll);
  }
  await announceCommitted(pool, published);
  return published;
}

async function sequentially<T, R>(items: T[], run: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = [];
  for (const [index, item] of items.entries()) results.push(await run(item, index));
  return results;
}

async function publishIn(tx: Sql, input: NewEvent, index = 0): Promise<Published> {
  if (input.idempotencyKey) {
    const [existing] = await tx<(EventRecord & { fresh: boolean })[]>`/* events.idempotent-find */
      select ${columns(tx)}, payload, created_at > now() - make_interval(hours => ${IDEMPOTENCY_WINDOW_HOURS}) as fresh
      from events where workspace_id = ${input.workspaceId} and idempotency_key = ${input.idempotencyKey}
      for update`;
    if (existing?.fresh) {
      const { fresh: _fresh, ...event } = existing;
      // Key order aside, the same request must describe the same event.
      const same =
        event.agentId === input.agentId &&
        event.conversationId === (input.conversationId ?? null) &&
        event.type === input.type &&
        isDeepStrictEqual((JSON.parse(event.payload ?? '{}') as { data: unknown }).data, input.data);
      if (!same) throw new IdempotencyConflict(index);
      return { event, created: false, webhooks: 0, deliveries: [] };
    }
    if (existing) {
      // Older than the window: the key is free again.
      await tx`/* events.idempotency-expire */ update events set idempotency_key = null where id = ${existing.id}`;
    }
  }

  const id = newId('event');
  const createdAt = new Date();
  const conversationId = input.conversationId ?? null;
  const payload = eventPayload(
    { id, type: input.type, createdAt, workspaceId: input.workspaceId, agentId: input.agentId, conversationId },
    input.data,
  );
  const [event] = await tx<EventRecord[]>`/* events.insert */
    insert into events (id, workspace_id, agent_id, conversation_id, type, payload, idempotency_key, created_at, traceparent)
    values (${id}, ${input.workspaceId}, ${input.agentId}, ${conversationId}, ${input.type}, ${payload},
      ${input.idempotencyKey ?? null}, ${createdAt}, ${input.traceparent ?? null})
    returning ${columns(tx)}, payload`;
  const deliveries = await enqueueDeliveries(
    tx,
    { id, workspaceId: input.workspaceId, agentId: input.agentId, conversationId },
    { subscribedTo: input.type },
  );
  return {
    event: event as EventRecord,
    created: true,
    webhooks: deliveries.length,
    deliveries: deliveries.map((d) => ({ workspaceId: input.workspaceId, webhookId: d.webhookId, deliveryId: d.id })),
  };
}

/** The data of every `webhook.test` event. */
export const TEST_EVENT_DATA = {
  message: 'This is a test event. If you can read it, your endpoint receives and can verify deliveries.',
};

/** A test event for one webhook, sent even when it is not subscribed to anything like it, or paused. */
export async function publishTestEvent(
  pool: Pool,
  webhook: { id: string; workspaceId: string; agentId: string },
  traceparent?: string | null,
) {
  return pool.begin(async (tx) => {
    const id = newId('event');
    const createdAt = new Date();
    const data = TEST_EVENT_DATA;
    const payload = eventPayload(
      { id, type: 'webhook.test', createdAt, workspaceId: webhook.workspaceId, agentId: webhook.agentId },
      data,
    );
    await tx`/* events.insert-test */
      insert into events (id, workspace_id, agent_id, type, payload, created_at, traceparent)
      values (${id}, ${webhook.workspaceId}, ${webhook.agentId}, 'webhook.test', ${payload}, ${createdAt}, ${traceparent ?? null})`;
    const [delivery] = await enqueueDeliveries(
      tx,
      { id, workspaceId: webhook.workspaceId, agentId: webhook.agentId },
      { webhookId: webhook.id },
    );
    return (delivery as { id: string }).id;
  });
}

export async function findEvent(sql: Sql, workspaceId: string, id: string): Promise<EventRecord | null> {
  const [row] = await sql<EventRecord[]>`/* events.find */
    select ${columns(sql)} from events where workspace_id = ${workspaceId} and id = ${id}`;
  return row ?? null;
}

/** Several events of one workspace by id, in one statement; missing ones are left out. */
export async function findEvents(sql: Sql, workspaceId: string, ids: readonly string[]): Promise<EventRecord[]> {
  return sql<EventRecord[]>`/* events.find-many */
    select ${columns(sql)} from events where workspace_id = ${workspaceId} and id = any(${ids as string[]}::text[])`;
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
};

function searchSql(sql: Sql, workspaceId: string, search: EventSearch) {
  return sql`workspace_id = ${workspaceId}
    ${search.agentId != null ? sql`and agent_id = ${search.agentId}` : sql``}
    ${search.type != null ? sql`and type = ${search.type}` : sql``}
    ${search.since ? sql`and created_at >= ${search.since}` : sql``}
    ${search.until ? sql`and created_at < ${search.until}` : sql``}`;
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
    select ${columns(sql)} from events
    where ${searchSql(sql, workspaceId, search)} ${windowFilter(sql, window)}
    order by ${windowOrder(sql, window)}
    limit ${limit}`;
}

export async function countSearchedEvents(sql: Sql, workspaceId: string, search: EventSearch): Promise<number> {
  const [row] = await sql<{ count: number }[]>`/* events.search-count */
    select count(*)::int as count from events where ${searchSql(sql, workspaceId, search)}`;
  return row?.count ?? 0;
}
