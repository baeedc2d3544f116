import { isDeepStrictEqual } from 'node:util';
import type { DeliveryChange } from '../db/channels.js';
import { DEADLOCK, retryRaces } from '../db/retry.js';
import type { Pool, Sql } from '../db/sql.js';
import { newId } from '../lib/ids.js';
import { announceDue, enqueueDeliveries, enqueueManualDelivery, type FanOutEvent } from '../queue/enqueue.js';
import { eventPayload, jsonbCanHold, payloadWithData, TEST_EVENT_DATA } from './payload.js';
import { type EventRecord, eventColumns } from './reads.js';

export const IDEMPOTENCY_WINDOW_HOURS = 24;

/**
 * What a concurrent transaction that has now ended can make a publish fail with; tried
 * again, it sees that transaction's work. Another request's event under the same new key
 * (the retry finds and returns it), a webhook deleted while its delivery was written (its
 * foreign key; the retry no longer fans out to it), or a deadlock.
 */
const UNIQUE_VIOLATION = '23505';
const FOREIGN_KEY_VIOLATION = '23503';
const RACES = new Set([UNIQUE_VIOLATION, FOREIGN_KEY_VIOLATION, DEADLOCK]);
/** Each retry follows another transaction's commit: a batch meets at most one per key it shares. */
const MAX_TRIES = 5;

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
 * its own idempotency key (one already used in the last 24 hours returns that event), as
 * if the events were published one after another: a key used twice in the batch returns
 * the first one's event the second time, or is a conflict if the two differ.
 */
export async function publishEvents(pool: Pool, inputs: NewEvent[]): Promise<Published[]> {
  const published = await retryRaces(() => pool.begin((tx) => publishIn(tx, inputs)), RACES, MAX_TRIES);
  await announceCommitted(pool, published);
  return published;
}

/** What an idempotency key stands for: a repeat must describe the same event. */
type Described = { agentId: string; conversationId: string | null; type: string; data: unknown };

/**
 * Key order aside, the same request describes the same event. Data is compared as it is
 * stored (through JSON), so -0 and 0, or two spellings of one number, are the same value.
 */
const sameEvent = (a: Described, b: Described) =>
  a.agentId === b.agentId &&
  a.conversationId === b.conversationId &&
  a.type === b.type &&
  isDeepStrictEqual(asStored(a.data), asStored(b.data));

const asStored = (data: unknown): unknown => JSON.parse(JSON.stringify(data));

/** Keys are per workspace; workspace ids hold no space. */
const keyOf = (workspaceId: string, idempotencyKey: string) => `${workspaceId} ${idempotencyKey}`;

type NewRow = FanOutEvent & {
  payload: string;
  createdAt: Date;
  idempotencyKey: string | null;
  traceparent: string | null;
};

/**
 * The whole batch in a fixed number of statements, whatever its size: one idempotency
 * lookup (and one update freeing expired keys), one events insert, the conversations'
 * locks and one deliveries insert.
 */
async function publishIn(tx: Sql, inputs: NewEvent[]): Promise<Published[]> {
  const stored = await findByIdempotencyKeys(tx, inputs);
  const records = new Map(stored.map(({ event }) => [event.id, event]));
  const known = new Map<string, Described & { id: string }>(
    stored.map(({ key, described, event }) => [key, { ...described, id: event.id }]),
  );
  const rows: NewRow[] = [];
  // Each input either repeats a known event (stored, or earlier in this batch) or is a new one.
  const answers = inputs.map((input, index) => {
    const key = input.idempotencyKey ? keyOf(input.workspaceId, input.idempotencyKey) : null;
    const described = { ...input, conversationId: input.conversationId ?? null };
    const repeated = key === null ? undefined : known.get(key);
    if (repeated) {
      if (!sameEvent(repeated, described)) throw new IdempotencyConflict(index);
      return { id: repeated.id, created: false };
    }
    const row = newRow(input);
    rows.push(row);
    if (key !== null) known.set(key, { ...described, id: row.id });
    return { id: row.id, created: true };
  });

  for (const event of await insertEvents(tx, rows)) {
    records.set(event.id, event);
  }
  const deliveries = new Map(rows.map((row) => [row.id, [] as DeliveryChange[]]));
  for (const { id, workspaceId, webhookId, eventId } of await enqueueDeliveries(tx, rows)) {
    deliveries.get(eventId)?.push({ workspaceId, webhookId, deliveryId: id });
  }
  return answers.map(({ id, created }) => {
    const event = records.get(id) as EventRecord;
    const mine = (created && deliveries.get(id)) || [];
    return { event, created, webhooks: mine.length, deliveries: mine };
  });
}

/** A new event's row: its id, time and payload bytes are fixed here, once. */
function newRow(input: NewEvent): NewRow {
  const id = newId('event');
  const createdAt = new Date();
  const conversationId = input.conversationId ?? null;
  const { workspaceId, agentId, type } = input;
  const dataJson = JSON.stringify(input.data);
  return {
    id,
    workspaceId,
    agentId,
    type,
    conversationId,
    createdAt,
    dataFitsJsonb: jsonbCanHold(dataJson),
    payload: payloadWithData({ id, type, createdAt, workspaceId, agentId, conversationId }, dataJson),
    idempotencyKey: input.idempotencyKey ?? null,
    traceparent: input.traceparent ?? null,
  };
}

/**
 * The events the batch's idempotency keys were used for in the last 24 hours, locked
 * until the commit, in key order (whatever order the batch gives them in: two batches
 * sharing keys then never hold one each that the other needs). A key older than that is
 * freed here: it names a new event again.
 */
async function findByIdempotencyKeys(
  tx: Sql,
  inputs: NewEvent[],
): Promise<{ key: string; described: Described; event: EventRecord }[]> {
  const keyed = inputs.filter((input) => input.idempotencyKey);
  if (keyed.length === 0) return [];
  const found = await tx<(EventRecord & { payload: string; idempotencyKey: string; fresh: boolean })[]>`
    /* events.idempotent-find */
    select ${eventColumns(tx)}, payload, idempotency_key,
      created_at > now() - make_interval(hours => ${IDEMPOTENCY_WINDOW_HOURS}) as fresh
    from events
    where (workspace_id, idempotency_key) in (
      select * from unnest(${keyed.map((i) => i.workspaceId)}::text[], ${keyed.map((i) => i.idempotencyKey as string)}::text[]))
    order by workspace_id, idempotency_key
    for update`;
  const expired = found.filter((row) => !row.fresh).map((row) => row.id);
  if (expired.length > 0) {
    await tx`/* events.idempotency-expire */ update events set idempotency_key = null where id = any(${expired}::text[])`;
  }
  return found
    .filter((row) => row.fresh)
    .map(({ fresh: _fresh, idempotencyKey, ...event }) => ({
      key: keyOf(event.workspaceId, idempotencyKey),
      described: { ...event, data: (JSON.parse(event.payload) as { data: unknown }).data },
      event,
    }));
}

/** Keys grouped by workspace, in code unit order; events without a key last. */
const byIdempotencyKey = (a: NewRow, b: NewRow) => {
  const [x, y] = [a.idempotencyKey, b.idempotencyKey];
  if (x === null || y === null) return x === y ? 0 : x === null ? 1 : -1;
  const [p, q] = [keyOf(a.workspaceId, x), keyOf(b.workspaceId, y)];
  return p < q ? -1 : p > q ? 1 : 0;
};

/**
 * The new events, in one statement; answered with their records, payloads included.
 * Inserted in idempotency key order: each new key's index entry is a lock another batch
 * with the same key waits on, so all batches take them in one order.
 */
async function insertEvents(tx: Sql, unsorted: NewRow[]): Promise<EventRecord[]> {
  if (unsorted.length === 0) return [];
  const rows = [...unsorted].sort(byIdempotencyKey);
  const column = <K extends keyof NewRow>(key: K) => rows.map((row) => row[key]);
  const inserted = await tx<EventRecord[]>`/* events.insert */
    insert into events (id, workspace_id, agent_id, conversation_id, type, payload, idempotency_key, created_at, traceparent)
    select * from unnest(${column('id')}::text[], ${column('workspaceId')}::text[], ${column('agentId')}::text[],
      ${column('conversationId')}::text[], ${column('type')}::text[], ${column('payload')}::text[],
      ${column('idempotencyKey')}::text[], ${rows.map((row) => row.createdAt.toISOString())}::timestamptz[],
      ${column('traceparent')}::text[])
    returning ${eventColumns(tx)}`;
  // The payloads are ours already: not sent back over the wire.
  const payloads = new Map(rows.map((row) => [row.id, row.payload]));
  return inserted.map((event) => ({ ...event, payload: payloads.get(event.id) }));
}

/**
 * A test event for one webhook, sent even when it is not subscribed to anything like it, or
 * paused. Returns its delivery as `read` finds it before the transaction ends, so a delete
 * that commits right after cannot take it from under the caller. Null when the webhook was
 * deleted meanwhile (nothing is written).
 */
export async function publishTestEvent<Delivery>(
  pool: Pool,
  webhook: { id: string; workspaceId: string; agentId: string },
  traceparent: string | null | undefined,
  read: (tx: Sql, deliveryId: string) => Promise<Delivery | null>,
): Promise<Delivery | null> {
  // postgres.js's types unwrap a generic result into something else: it is `read`'s.
  const published = pool.begin(async (tx) => {
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
    const deliveryId = await enqueueManualDelivery(tx, { id, workspaceId: webhook.workspaceId }, webhook.id);
    return read(tx, deliveryId);
  }) as Promise<Delivery | null>;
  return published.catch((error: unknown) => {
    if ((error as { code?: unknown }).code === FOREIGN_KEY_VIOLATION) return null;
    throw error;
  });
}
