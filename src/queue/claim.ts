import type { Sql } from '../db/sql.js';

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
