import { afterKey, type PageKey, pageMicros } from '../db/keyset.js';
import type { Pool, Sql } from '../db/sql.js';
import { announceChanges, WAKE_CHANNEL } from './updates.js';

export type DeliveryStatus = 'pending' | 'succeeded' | 'failed';

export type Delivery = {
  id: string;
  workspaceId: string;
  eventId: string;
  webhookId: string;
  status: DeliveryStatus;
  attemptCount: number;
  nextAttemptAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
  pageMicros: string;
};

export type Attempt = {
  attemptedAt: Date;
  statusCode: number | null;
  durationMs: number;
  error: string | null;
  responseBody: string | null;
};

/** A delivery a worker holds: everything needed to send it without another query. */
export type ClaimedDelivery = {
  id: string;
  workspaceId: string;
  createdAt: Date;
  claimToken: string;
  webhookId: string;
  eventId: string;
  attemptCount: number;
  /** When it came due (before the claim moved `next_attempt_at` on by the lease). */
  dueAt: Date;
  url: string;
  payload: string;
  secretEncrypted: Buffer;
  previousSecretEncrypted: Buffer | null;
  previousSecretExpiresAt: Date | null;
};

/** What one attempt led to, to be written with others in one batch. */
export type Outcome = {
  deliveryId: string;
  workspaceId: string;
  claimToken: string;
  webhookId: string;
  attempt: Attempt;
  /** null: succeeded or failed for good. */
  nextAttemptAt: Date | null;
  status: DeliveryStatus;
  /** The receiver answered 410 Gone: turn the webhook off. */
  gone: boolean;
};

const columns = (sql: Sql) => sql`
  id, workspace_id, event_id, webhook_id, status, attempt_count, next_attempt_at, created_at, updated_at,
  ${pageMicros(sql)}`;

/**
 * Claims due deliveries: oldest first, and per webhook no more than `perWebhook` minus
 * what this worker already has in flight to it (`inFlight`); only for active webhooks
 * unless a person asked for the delivery. A claim pushes `next_attempt_at` forward by the
 * lease; a worker that dies leaves them to come due again.
 * SKIP LOCKED lets several workers claim at once without waiting on each other, and
 * the due check in the locking select is re-evaluated on the locked row, so a row
 * another worker claimed a moment ago is not taken twice.
 */
export async function claimDueDeliveries(
  sql: Sql,
  options: {
    limit: number;
    perWebhook: number;
    leaseMs: number;
    claimToken: string;
    inFlight: Map<string, number>;
    /** Start the walk of the due index here instead of at its oldest end. */
    walkFrom?: Date;
  },
): Promise<ClaimedDelivery[]> {
  const busy = [...options.inFlight];
  const saturated = busy.filter(([, n]) => n >= options.perWebhook).map(([id]) => id);
  return sql<ClaimedDelivery[]>`/* deliveries.claim */
    with candidates as materialized (
      -- Walks the due index oldest first and stops after a few batches' worth of rows.
      -- Paused webhooks' deliveries are held out of this index (see migrations/0004).
      select d.id, d.webhook_id, d.next_attempt_at
      from deliveries d
      where d.status = 'pending' and not d.held
        and d.next_attempt_at between coalesce(${options.walkFrom ?? null}::timestamptz, '-infinity') and now()
        and d.webhook_id <> all(${saturated}::text[])
      order by d.next_attempt_at
      limit ${options.limit * 4}
    ), ranked as materialized (
      select c.id, c.next_attempt_at
      from (
        select *, row_number() over (partition by webhook_id order by next_attempt_at) as rank from candidates
      ) c
      left join unnest(${busy.map(([id]) => id)}::text[], ${busy.map(([, n]) => n)}::int[]) as b(webhook_id, in_flight)
        on b.webhook_id = c.webhook_id
      where c.rank <= ${options.perWebhook} - coalesce(b.in_flight, 0)
    ), picked as (
      -- One primary-key lookup per candidate, oldest first, until the batch is full. The
      -- locking subquery holds only the key condition and is never flattened, so stale
      -- statistics (a queue's are always stale) cannot turn it into a walk of an index.
      -- The checks run on the row as locked: one another worker claimed a moment ago is
      -- no longer due.
      select l.id, c.next_attempt_at as due_at
      from (select * from ranked order by next_attempt_at) c
      cross join lateral (
        select d.id, d.webhook_id, d.status, d.held, d.manual, d.next_attempt_at from deliveries d
        where d.id = c.id
        limit 1 -- (a subquery with a limit keeps its conditions to itself)
        for update skip locked
      ) l
      join webhooks w on w.id = l.webhook_id
      where l.status = 'pending' and not l.held and l.next_attempt_at <= now() and (w.active or l.manual)
      order by c.next_attempt_at
      limit ${options.limit}
    )
    update deliveries d
    set next_attempt_at = now() + ${options.leaseMs} * interval '1 millisecond', claim_token = ${options.claimToken}, updated_at = now()
    from picked, webhooks w, events e
    where d.id = picked.id and w.id = d.webhook_id and e.id = d.event_id
    returning d.id, d.workspace_id, d.created_at, d.claim_token, d.webhook_id, d.event_id, d.attempt_count,
      picked.due_at, w.url, e.payload,
      w.secret_encrypted, w.previous_secret_encrypted, w.previous_secret_expires_at`;
}

/**
 * Writes a batch of attempt outcomes in one round trip: the attempt rows, the delivery
 * states (only where the claim is still ours), and each webhook's health: any success
 * clears its failure streak; a 410, or failures for longer than `disableAfterMs`, turn
 * it off with a reason.
 */
export async function recordOutcomes(pool: Pool, outcomes: Outcome[], disableAfterMs: number): Promise<void> {
  if (outcomes.length === 0) return;
  // One transaction: a batch retried after a failure must not log its attempts twice.
  await pool.begin(async (sql) => {
    const col = <T>(pick: (o: Outcome) => T) => outcomes.map(pick);
    await sql`/* deliveries.record */
    with input as (
      select * from unnest(
        ${col((o) => o.deliveryId)}::text[], ${col((o) => o.claimToken)}::text[],
        ${col((o) => o.attempt.attemptedAt.toISOString())}::timestamptz[], ${col((o) => o.attempt.statusCode)}::int[],
        ${col((o) => o.attempt.durationMs)}::int[], ${col((o) => o.attempt.error)}::text[],
        ${col((o) => o.attempt.responseBody)}::text[], ${col((o) => o.status)}::text[],
        ${col((o) => o.nextAttemptAt?.toISOString() ?? null)}::timestamptz[]
      ) as i(delivery_id, claim_token, attempted_at, status_code, duration_ms, error, response_body, status, next_attempt_at)
    ), attempts as (
      insert into delivery_attempts (delivery_id, attempted_at, status_code, duration_ms, error, response_body)
      select i.delivery_id, i.attempted_at, i.status_code, i.duration_ms, i.error, i.response_body
      from input i join deliveries d on d.id = i.delivery_id
    )
    update deliveries d
    set status = i.status, next_attempt_at = i.next_attempt_at, attempt_count = d.attempt_count + 1,
        claim_token = null, manual = false, held = i.status = 'pending' and not w.active, updated_at = now()
    from input i, webhooks w
    where d.id = i.delivery_id and d.claim_token = i.claim_token and w.id = d.webhook_id`;
    await announceChanges(
      sql,
      outcomes.map((o) => ({ workspaceId: o.workspaceId, webhookId: o.webhookId, deliveryId: o.deliveryId })),
    );

    const health = new Map<string, { succeeded: boolean; gone: boolean }>();
    for (const o of outcomes) {
      const h = health.get(o.webhookId) ?? { succeeded: false, gone: false };
      h.succeeded ||= o.status === 'succeeded';
      h.gone ||= o.gone;
      health.set(o.webhookId, h);
    }
    const ids = [...health.keys()];
    const succeeded = ids.map((id) => health.get(id)?.succeeded ?? false);
    const gone = ids.map((id) => health.get(id)?.gone ?? false);
    await sql`/* webhooks.health */
    update webhooks w
    set failing_since = case when h.succeeded then null else coalesce(w.failing_since, now()) end,
        active = case
          when h.gone then false
          when not h.succeeded and now() - w.failing_since >= ${disableAfterMs} * interval '1 millisecond' then false
          else w.active end,
        disabled_reason = case
          when h.gone then 'The endpoint answered 410 Gone on ' || to_char(now() at time zone 'utc', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
          when not h.succeeded and w.active and now() - w.failing_since >= ${disableAfterMs} * interval '1 millisecond'
            then 'Every delivery attempt failed since ' || to_char(w.failing_since at time zone 'utc', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
          else w.disabled_reason end,
        updated_at = case when h.gone or (not h.succeeded and w.active and now() - w.failing_since >= ${disableAfterMs} * interval '1 millisecond')
          then now() else w.updated_at end
    from unnest(${ids}::text[], ${sql.array(succeeded)}::bool[], ${sql.array(gone)}::bool[]) as h(webhook_id, succeeded, gone)
    -- A success on a healthy webhook (the common case) changes nothing: skip the write.
    where w.id = h.webhook_id and (h.gone or not h.succeeded or w.failing_since is not null)`;
  });
}

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

/** Hands unfinished claims back (graceful stop): due again at once, for any worker. */
export async function releaseClaims(sql: Sql, claims: { id: string; claimToken: string }[]): Promise<void> {
  if (claims.length === 0) return;
  await sql`/* deliveries.release */
    update deliveries d set next_attempt_at = now(), claim_token = null, held = not w.active and not d.manual,
      updated_at = now()
    from unnest(${claims.map((c) => c.id)}::text[], ${claims.map((c) => c.claimToken)}::text[]) as c(id, token), webhooks w
    where d.id = c.id and d.claim_token = c.token and d.status = 'pending' and w.id = d.webhook_id`;
}

export async function findDelivery(sql: Sql, workspaceId: string, id: string): Promise<Delivery | null> {
  const [row] = await sql<Delivery[]>`/* deliveries.find */
    select ${columns(sql)} from deliveries where workspace_id = ${workspaceId} and id = ${id}`;
  return row ?? null;
}

/** Several deliveries of one workspace, in the order of `ids`; missing ones are left out. */
export async function findDeliveries(sql: Sql, workspaceId: string, ids: string[]): Promise<Delivery[]> {
  const rows = await sql<Delivery[]>`/* deliveries.find-many */
    select ${columns(sql)} from deliveries where workspace_id = ${workspaceId} and id = any(${ids}::text[])`;
  const byId = new Map(rows.map((row) => [row.id, row]));
  return ids.flatMap((id) => byId.get(id) ?? []);
}

/** Whose deliveries a page lists: a webhook's or an event's. */
export type DeliveryParent = 'webhook' | 'event';

const parentColumn = { webhook: 'webhook_id', event: 'event_id' } as const;

/**
 * One page of deliveries for each of several webhooks (or events) in one statement:
 * newest first, up to `limit` rows each after the cursor, keyed by parent id.
 */
export async function listDeliveriesOf(
  sql: Sql,
  workspaceId: string,
  parent: DeliveryParent,
  parentIds: readonly string[],
  filter: { status?: DeliveryStatus | null },
  limit: number,
  after?: PageKey,
): Promise<Map<string, Delivery[]>> {
  const rows = await sql<(Delivery & { parentId: string })[]>`/* deliveries.list */
    select p.id as parent_id, d.*
    from unnest(${parentIds as string[]}::text[]) with ordinality as p(id, position)
    cross join lateral (
      select ${columns(sql)} from deliveries
      where workspace_id = ${workspaceId} and ${sql(parentColumn[parent])} = p.id
        ${filter.status ? sql`and status = ${filter.status}` : sql``}
        ${afterKey(sql, after)}
      order by created_at desc, id desc
      limit ${limit}
    ) d
    order by p.position, d.created_at desc, d.id desc`;
  const pages = new Map<string, Delivery[]>();
  for (const { parentId, ...delivery } of rows) {
    const page = pages.get(parentId) ?? [];
    page.push(delivery);
    pages.set(parentId, page);
  }
  return pages;
}

/** How many deliveries each of several webhooks (or events) has, in one statement. */
export async function countDeliveriesOf(
  sql: Sql,
  workspaceId: string,
  parent: DeliveryParent,
  parentIds: readonly string[],
  filter: { status?: DeliveryStatus | null },
): Promise<Map<string, number>> {
  const rows = await sql<{ parentId: string; count: number }[]>`/* deliveries.count */
    select ${sql(parentColumn[parent])} as parent_id, count(*)::int as count from deliveries
    where workspace_id = ${workspaceId} and ${sql(parentColumn[parent])} = any(${parentIds as string[]}::text[])
      ${filter.status ? sql`and status = ${filter.status}` : sql``}
    group by 1`;
  return new Map(rows.map((row) => [row.parentId, row.count]));
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
      updated_at = now()
    where workspace_id = ${workspaceId} and id = ${id}
    returning ${columns(sql)}`;
  if (row) {
    await sql`/* deliveries.wake */ select pg_notify(${WAKE_CHANNEL}, '')`;
    await announceChanges(sql, [{ workspaceId, webhookId: row.webhookId, deliveryId: row.id }]);
  }
  return row ?? null;
}
