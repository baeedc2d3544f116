import type { Sql } from '../db/sql.js';

/** As stored in webhooks.retired_secrets (jsonb): the sealed secret in base64, and when it stops signing. */
export type RetiredSecret = { sealed: string; expiresAt: string };

/** A delivery a worker holds: everything needed to send it without another query. */
export type ClaimedDelivery = {
  id: string;
  workspaceId: string;
  createdAt: Date;
  claimToken: string;
  webhookId: string;
  eventId: string;
  attemptCount: number;
  /** Set when the webhook orders by conversation: the chain whose next delivery waits for this one. */
  conversationId: string | null;
  /** When it came due (before the claim moved `next_attempt_at` on by the lease). */
  dueAt: Date;
  /** Not before this: the delivery's slot in its webhook's rate limit (null when unlimited). */
  sendAt: Date | null;
  url: string;
  payload: string;
  secretEncrypted: Buffer;
  /** Secrets rotated out, newest first, each with its own expiry (see webhooks/store.ts rotateSecret). */
  retiredSecrets: RetiredSecret[];
  /** The event's publish span (W3C traceparent), when it was published with tracing on. */
  traceparent: string | null;
  /** The webhook's custom request headers, sealed; null: none. */
  headersEncrypted: Buffer | null;
  /** Dotted paths removed from the payload's data before it is signed (worker/excluded-fields.ts). */
  excludedFields: string[];
  /** How many of the webhook's deliveries this worker may have in flight at once (its part of the workspace's share). */
  share: number;
};

/**
 * What this worker already holds (in flight, or claimed ahead and waiting), by webhook, so a
 * claim tops each share up rather than past it. `ahead`: the webhook's attempts come back
 * quickly and well, so the claim may hold one more share of it (see worker/prefetch-buffer.ts).
 * `aside`: of `count`, attempts set aside (waiting long on their endpoint, worker/slots.ts):
 * they count against the webhook's share but not the workspace's.
 */
export type InFlightCounts = Map<string, { workspaceId: string; count: number; ahead?: boolean; aside?: number }>;

export type ClaimOptions = {
  /** Free slots: claim at most this many. */
  limit: number;
  /** Attempts in flight to one webhook, from this worker; less when more of its workspace's webhooks share the workspace's slots. */
  perWebhook: number;
  /** Attempts in flight for one workspace, from this worker. */
  perWorkspace: number;
  inFlight: InFlightCounts;
  leaseMs: number;
  claimToken: string;
};

/**
 * Each webhook's oldest claimable delivery (webhook_id, next_attempt_at): a skip scan of
 * deliveries_due, one index descent per webhook with something pending, however long its
 * queue. For `with recursive heads as (…)`.
 */
export const queueHeads = (sql: Sql) => sql`
      (select d.webhook_id, d.next_attempt_at from deliveries d
       where d.status = 'pending' and not d.held and not d.waiting
       order by d.webhook_id, d.next_attempt_at limit 1)
      union all
      select n.webhook_id, n.next_attempt_at
      from heads h cross join lateral (
        select d.webhook_id, d.next_attempt_at from deliveries d
        where d.status = 'pending' and not d.held and not d.waiting and d.webhook_id > h.webhook_id
        order by d.webhook_id, d.next_attempt_at limit 1
      ) n
    `;

/**
 * Claims due deliveries fairly: each webhook is a queue, and the free slots are dealt out
 * round robin, first across workspaces, then across each workspace's webhooks, so a
 * workspace with thousands of deliveries due to broken endpoints takes no more than its
 * share and never stands in front of another's one delivery.
 *
 * Per webhook, at most `perWebhook` in flight from this worker, and two limits that hold
 * across every worker because they live on the webhook's row:
 *  - circuit open (the endpoint keeps failing): one probe at a time, after `next_probe_at`;
 *  - `rate_limit_per_second`: a schedule of slots one interval apart (`rate_next_at`, a
 *    GCRA without a burst). A claim takes the slots up to a second ahead, and the worker
 *    sends each delivery at its slot (`sendAt`).
 * Both are taken optimistically: the webhook's row is updated only if those columns still
 * hold what this claim read, so two workers cannot both spend the same allowance.
 *
 * A claim pushes `next_attempt_at` forward by the lease; a worker that dies leaves its
 * claims to come due again. SKIP LOCKED lets workers claim at once without waiting on
 * each other, and the due check is re-evaluated on the row as locked.
 * What is claimed ahead starts later, within the same shares: worker/prefetch-buffer.ts.
 */
export async function claimDueDeliveries(sql: Sql, options: ClaimOptions): Promise<ClaimedDelivery[]> {
  const busy = [...options.inFlight];
  return sql<ClaimedDelivery[]>`/* deliveries.claim */
    with recursive heads as (${queueHeads(sql)}    ), busy as (
      select * from unnest(${busy.map(([id]) => id)}::text[], ${busy.map(([, b]) => b.workspaceId)}::text[],
        ${busy.map(([, b]) => b.count)}::int[], ${sql.array(busy.map(([, b]) => b.ahead ?? false))}::bool[],
        ${busy.map(([, b]) => b.aside ?? 0)}::int[])
        as b(webhook_id, workspace_id, in_flight, ahead, aside)
    ), due as (
      select w.id, w.workspace_id, h.next_attempt_at as head_due, w.rate_limit_per_second, w.rate_next_at,
        w.circuit_opened_at, w.next_probe_at, w.probe_delivery_id
      from heads h join webhooks w on w.id = h.webhook_id
      where h.next_attempt_at <= now()
    ), sharing as (
      -- Who shares each workspace's slots: its webhooks with something due or held (in flight or
      -- ahead), and what they hold against its share (not what is set aside). An open circuit
      -- waiting for its probe takes nothing, so it does not thin the others' shares.
      select workspace_id, count(*) as webhooks, sum(in_flight) as in_flight, bool_or(ahead) as ahead
      from (
        select coalesce(d.id, b.webhook_id) as webhook_id, coalesce(d.workspace_id, b.workspace_id) as workspace_id,
          coalesce(b.in_flight - b.aside, 0) as in_flight, coalesce(b.ahead, false) as ahead
        from (select * from due where circuit_opened_at is null or next_probe_at <= now()) d
        full join busy b on b.webhook_id = d.id
      ) s
      group by workspace_id
    ), ready as materialized (
      -- Webhooks with something due, and how many each may take now (as read; the
      -- cross-worker limits are taken for real below).
      select d.id as webhook_id, d.workspace_id, d.head_due,
        d.rate_limit_per_second as rate, d.rate_next_at as seen_rate_next_at, r.rate_base,
        d.circuit_opened_at is not null as circuit_open, d.probe_delivery_id as seen_probe_id,
        -- Held ahead: a second share's worth, which waits in the worker for the first's slots.
        ${options.perWorkspace} * (case when s.ahead then 2 else 1 end) - s.in_flight as workspace_room,
        sh.share,
        least(
          sh.share * (case when b.ahead and d.circuit_opened_at is null and d.rate_limit_per_second is null
            then 2 else 1 end) - coalesce(b.in_flight, 0),
          case
            when d.circuit_opened_at is null then ${options.perWebhook}
            when d.next_probe_at <= now() and not exists (
              select 1 from deliveries p
              where p.id = d.probe_delivery_id and p.status = 'pending' and p.claim_token is not null
                and p.next_attempt_at > now()
            ) then 1
            else 0
          end,
          case
            when d.rate_limit_per_second is null then ${options.perWebhook}
            -- The slots from rate_base, one interval apart, up to a second ahead.
            else greatest(0, floor(extract(epoch from now() + interval '1 second' - r.rate_base) * d.rate_limit_per_second) + 1)
          end
        )::int as allowance
      from due d
      join sharing s on s.workspace_id = d.workspace_id
      left join busy b on b.webhook_id = d.id
      -- The rate limit's next free slot: its schedule, or now when that has fallen behind.
      -- Sends keep strictly to the slots; the documented burst (a tenth of a second's worth)
      -- is headroom for a send that goes late and one that goes on time.
      cross join lateral (select greatest(d.rate_next_at, now()) as rate_base) r
      -- Its part of the workspace's share, split over the webhooks sharing it, so slow or
      -- hung endpoints hold no more than their part; at most perWebhook.
      cross join lateral (
        select least(${options.perWebhook}, greatest(1, ceil(${options.perWorkspace}::numeric / s.webhooks)))::int as share
      ) sh
    ), served as materialized (
      -- The queues served this round: each workspace's longest-waiting first, up to its
      -- room, workspaces interleaved; no more queues than free slots, so a thousand ready
      -- queues cost a thousand reads only when there are a thousand slots to fill.
      select * from (
        select *, row_number() over (partition by workspace_id order by head_due, webhook_id) as first_turn
        from ready where allowance > 0 and workspace_room > 0
      ) r
      where first_turn <= workspace_room
      order by first_turn, head_due
      limit ${options.limit}
    ), dealt as materialized (
      -- The round robin: every served queue's first delivery before anyone's second;
      -- within a workspace the longest-waiting queue first; workspaces interleaved by
      -- that position, each up to its room.
      select * from (
        select c.id, c.webhook_id, c.next_attempt_at, c.position, r.rate, r.seen_rate_next_at, r.rate_base,
          -- A rate-limited delivery is sent at its slot (the worker waits for it).
          case when r.rate is not null
            then greatest(now(), r.rate_base + (c.position - 1) * interval '1 second' / r.rate) end as send_at,
          r.circuit_open, r.seen_probe_id, r.workspace_room, r.share,
          row_number() over (partition by r.workspace_id order by c.position, r.head_due, r.webhook_id) as turn
        from (select *, count(*) over () as ready_count from served) r
        cross join lateral (
          select d.id, d.webhook_id, d.next_attempt_at, row_number() over (order by d.next_attempt_at) as position
          from deliveries d
          where d.webhook_id = r.webhook_id and d.status = 'pending' and not d.held and not d.waiting and d.next_attempt_at <= now()
          order by d.next_attempt_at
          -- No more than a fair share of the batch: with many queues ready, one each.
          limit least(r.allowance, ceil(${options.limit}::numeric / r.ready_count))
        ) c
      ) dealt
      where turn <= workspace_room
      order by turn, next_attempt_at
      limit ${options.limit}
    ), gates as (
      select webhook_id, bool_or(circuit_open) as circuit_open, min(rate) as rate,
        min(seen_rate_next_at) as seen_rate_next_at, min(rate_base) as rate_base, min(seen_probe_id) as seen_probe_id,
        (array_agg(id order by position))[1] as first_id,
        case when bool_or(circuit_open) then 1 else count(*) end as taken
      from dealt
      where circuit_open or rate is not null
      group by webhook_id
    ), unlocked_gates as (
      -- Never wait for another worker: a webhook whose row is busy is skipped this round.
      select w.id from webhooks w join gates g on g.webhook_id = w.id
      order by w.id
      for no key update of w skip locked
    ), gated as (
      -- Circuit and rate limit, spent on the webhook's row, but only if no other worker
      -- spent them since this claim read it.
      update webhooks w
      set probe_delivery_id = case when g.circuit_open then g.first_id else w.probe_delivery_id end,
          rate_next_at = case when g.rate is null then w.rate_next_at
            else g.rate_base + g.taken * interval '1 second' / g.rate end
      from gates g join unlocked_gates u on u.id = g.webhook_id
      where w.id = g.webhook_id
        and w.probe_delivery_id is not distinct from g.seen_probe_id
        and w.rate_next_at is not distinct from g.seen_rate_next_at
      returning w.id as webhook_id, g.taken
    ), picked as (
      -- One primary-key lookup per dealt delivery, until the batch is full. The locking
      -- subquery holds only the key condition and is never flattened, so stale statistics
      -- (a queue's are always stale) cannot turn it into a walk of an index. The checks run
      -- on the row as locked: one another worker claimed a moment ago is no longer due.
      select l.id, c.next_attempt_at as due_at, c.send_at, c.share
      from dealt c
      left join gated g on g.webhook_id = c.webhook_id
      cross join lateral (
        select d.id, d.webhook_id, d.status, d.held, d.waiting, d.manual, d.next_attempt_at from deliveries d
        where d.id = c.id
        limit 1 -- (a subquery with a limit keeps its conditions to itself)
        for update skip locked
      ) l
      join webhooks w on w.id = l.webhook_id
      where (not c.circuit_open and c.rate is null or c.position <= g.taken)
        and l.status = 'pending' and not l.held and not l.waiting and l.next_attempt_at <= now() and (w.active or l.manual)
    )
    update deliveries d
    set next_attempt_at = now() + ${options.leaseMs} * interval '1 millisecond', claim_token = ${options.claimToken}, updated_at = now()
    from picked, webhooks w, events e
    where d.id = picked.id and w.id = d.webhook_id and e.id = d.event_id
    returning d.id, d.workspace_id, d.created_at, d.claim_token, d.webhook_id, d.event_id, d.attempt_count, d.conversation_id,
      picked.due_at, picked.send_at, picked.share, w.url, e.payload,
      w.secret_encrypted, w.retired_secrets, e.traceparent, w.headers_encrypted, w.excluded_fields`;
}
