import type { Pool, Sql } from '../db/sql.js';
import { releaseChainHeads } from './conversations.js';
import { announceChanges, announceDue } from './enqueue.js';
import { addToRollups } from './rollups.js';

/** Where a delivery stands (migrations/0001 checks the same names in the database). */
export const DELIVERY_STATUSES = ['pending', 'succeeded', 'failed'] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

/** One HTTP request of a delivery, as the attempt log keeps it. */
export type Attempt = {
  attemptedAt: Date;
  statusCode: number | null;
  durationMs: number;
  error: string | null;
  responseBody: string | null;
};

/** What one attempt led to, to be written with others in one batch. */
export type Outcome = {
  deliveryId: string;
  workspaceId: string;
  claimToken: string;
  webhookId: string;
  /** The conversation chain it belongs to (webhooks ordered by conversation), else null. */
  conversationId: string | null;
  attempt: Attempt;
  /** null: succeeded or failed for good. */
  nextAttemptAt: Date | null;
  status: DeliveryStatus;
  /** The receiver answered 410 Gone: turn the webhook off. */
  gone: boolean;
};

/** A webhook a batch's health write turned off (a 410, or failing for too long). */
export type TurnedOff = {
  id: string;
  workspaceId: string;
  agentId: string;
  name: string;
  url: string;
  disabledReason: string;
  turnedOff: boolean;
  /** This batch opened the webhook's circuit, or closed it; null: neither. */
  circuitChange: 'opened' | 'closed' | null;
  circuitReason: string | null;
};

/** What a batch changed that its caller reports (logs, metrics) once it is committed. */
export type Recorded = {
  failedForGood: number;
  circuitChanges: { webhookId: string; workspaceId: string; change: 'opened' | 'closed'; reason: string | null }[];
};

/** A delivery a batch ended as failed for good. */
export type FailedForGood = {
  id: string;
  workspaceId: string;
  webhookId: string;
  agentId: string;
  eventId: string;
  eventType: string;
  attemptCount: number;
  statusCode: number | null;
  error: string | null;
};

/**
 * Told, inside a batch's transaction, what the batch ended, so the notices about it commit
 * with it (the delivery domain passes events/notices.ts's emitOutcomeNotices).
 */
export type OnEnded = (tx: Sql, ended: { turnedOff: TurnedOff[]; failedForGood: FailedForGood[] }) => Promise<void>;

/** When a webhook's circuit opens and how soon it is probed (see config.circuitBreaker). */
export type HealthRules = {
  /** Failing for this long (every attempt) turns a webhook off. */
  disableAfterMs: number;
  /** Consecutive failed attempts that open the circuit. */
  circuitFailures: number;
  /** The first probe's delay after the circuit opens; it doubles with every failed probe, up to 5 minutes. */
  probeIntervalMs: number;
};

/** The longest wait between probes of an open circuit. */
const MAX_PROBE_INTERVAL_MS = 5 * 60_000;

/**
 * Writes a batch of attempt outcomes in one transaction: each webhook's health, then the
 * attempt rows and the delivery states (only where the claim is still ours), then the
 * attempts' per-minute and per-hour statistics.
 * Health: any success clears the failure streak and closes the circuit; a streak of
 * `circuitFailures` opens it (one probe at a time from then on, see claim.ts); a 410, or
 * failures for longer than `disableAfterMs`, turn the webhook off with a reason.
 * What the batch ended (a webhook turned off, a delivery failed for good) goes to `onEnded`
 * in the same transaction, for the notices about it.
 */
export async function recordOutcomes(
  pool: Pool,
  outcomes: Outcome[],
  rules: HealthRules,
  onEnded: OnEnded,
): Promise<Recorded> {
  if (outcomes.length === 0) return { failedForGood: 0, circuitChanges: [] };
  // One transaction: a batch retried after a failure must not log its attempts twice.
  let released = 0;
  let recorded: Recorded = { failedForGood: 0, circuitChanges: [] };
  await pool.begin(async (sql) => {
    // Webhooks first, then their deliveries: the order in which pausing a webhook (its
    // trigger holds the backlog) takes the same locks. The other order deadlocked with a
    // pause of a failing webhook. Both are sent at once (one round trip, not two) and still
    // run one after the other, in this order.
    type Tally = { succeeded: boolean; gone: boolean; failures: number; lastError: string };
    const health = new Map<string, Tally>();
    for (const o of outcomes) {
      const h = health.get(o.webhookId) ?? { succeeded: false, gone: false, failures: 0, lastError: '' };
      h.succeeded ||= o.status === 'succeeded';
      h.gone ||= o.gone;
      if (o.status !== 'succeeded') {
        h.failures++;
        h.lastError = o.attempt.error ?? 'failed';
      }
      health.set(o.webhookId, h);
    }
    const ids = [...health.keys()];
    const tallies = [...health.values()];
    const of = <T>(pick: (h: Tally) => T) => tallies.map(pick);
    const healthQuery = sql<TurnedOff[]>`/* webhooks.health */
    with health as materialized (
      select w.id, h.succeeded, h.gone, w.active as was_active, w.circuit_opened_at is not null as was_open,
        case when h.succeeded then 0 else w.consecutive_failures + h.failures end as streak,
        h.last_error,
        -- The rule, decided once: a 410, or every attempt failing for DELIVERY_DISABLE_AFTER.
        h.gone or (not h.succeeded and w.active and w.failing_since is not null
          and now() - w.failing_since >= ${rules.disableAfterMs} * interval '1 millisecond') as turn_off
      from unnest(${ids}::text[], ${sql.array(of((h) => h.succeeded))}::bool[], ${sql.array(of((h) => h.gone))}::bool[],
        ${of((h) => h.failures)}::int[], ${of((h) => h.lastError)}::text[])
        as h(webhook_id, succeeded, gone, failures, last_error)
      join webhooks w on w.id = h.webhook_id
      -- A success on a healthy webhook (the common case) changes nothing: skip the write.
      where h.gone or not h.succeeded or w.failing_since is not null or w.consecutive_failures > 0
      -- Locked in id order: two batches (two workers) sharing failing webhooks in opposite
      -- orders otherwise each held one the other needed.
      order by w.id
      for no key update of w
    )
    update webhooks w
    set failing_since = case when h.succeeded then null else coalesce(w.failing_since, now()) end,
        consecutive_failures = h.streak,
        circuit_opened_at = case when h.streak >= ${rules.circuitFailures} then coalesce(w.circuit_opened_at, now()) end,
        circuit_reason = case when h.streak >= ${rules.circuitFailures}
          then h.streak || ' consecutive attempts failed, the last with: ' || h.last_error end,
        -- The next probe waits as long as the circuit has been open (at least the probe
        -- interval, at most 5 minutes): the wait doubles with every failed probe.
        next_probe_at = case when h.streak >= ${rules.circuitFailures}
          then now() + least(
            greatest(${rules.probeIntervalMs} * interval '1 millisecond', now() - coalesce(w.circuit_opened_at, now())),
            ${Math.max(MAX_PROBE_INTERVAL_MS, rules.probeIntervalMs)} * interval '1 millisecond') end,
        active = w.active and not h.turn_off,
        disabled_reason = case
          when h.gone then 'The endpoint answered 410 Gone on ' || to_char(now() at time zone 'utc', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
          when h.turn_off then 'Every delivery attempt failed since ' || to_char(w.failing_since at time zone 'utc', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
          else w.disabled_reason end,
        updated_at = case when h.turn_off then now() else w.updated_at end
    from health h
    where w.id = h.id
    returning w.id, w.workspace_id, w.agent_id, w.name, w.url, w.disabled_reason,
      h.was_active and h.turn_off as turned_off,
      case when w.circuit_opened_at is not null and not h.was_open then 'opened'
        when w.circuit_opened_at is null and h.was_open then 'closed' end as circuit_change,
      w.circuit_reason`;
    const col = <T>(pick: (o: Outcome) => T) => outcomes.map(pick);
    const recordQuery = sql<FailedForGood[]>`/* deliveries.record */
    with input as (
      select * from unnest(
        ${col((o) => o.deliveryId)}::text[], ${col((o) => o.claimToken)}::text[],
        ${col((o) => o.attempt.attemptedAt.toISOString())}::timestamptz[], ${col((o) => o.attempt.statusCode)}::int[],
        ${col((o) => o.attempt.durationMs)}::int[], ${col((o) => o.attempt.error)}::text[],
        ${col((o) => o.attempt.responseBody)}::text[], ${col((o) => o.status)}::text[],
        ${col((o) => o.nextAttemptAt?.toISOString() ?? null)}::timestamptz[]
      ) as i(delivery_id, claim_token, attempted_at, status_code, duration_ms, error, response_body, status, next_attempt_at)
    ), locked as materialized (
      -- What the foreign key's check did (migration 0014): a delivery being deleted now either
      -- goes first (no attempt written) or waits for this commit, and its delete then takes the
      -- attempt too. Both writes below read this, so the lock comes before the update (a row
      -- this statement had already updated could not be locked by it). It carries the input
      -- on, so the writes read it alone: joined back to the input, a CTE (estimated at 10 rows
      -- whatever its size) was rescanned for every row, quadratic in the batch.
      -- In id order, as an erasure (events/erasure.ts) locks deliveries: the two cannot deadlock.
      select i.* from input i join deliveries d on d.id = i.delivery_id
      order by d.id
      for key share of d
    ), attempts as (
      insert into delivery_attempts (delivery_id, attempted_at, status_code, duration_ms, error, response_body)
      select i.delivery_id, i.attempted_at, i.status_code, i.duration_ms, i.error, i.response_body
      from locked i
    ), recorded as (
      update deliveries d
      set status = i.status, next_attempt_at = i.next_attempt_at, attempt_count = d.attempt_count + 1,
          claim_token = null, manual = false, held = i.status = 'pending' and not w.active,
          updated_at = now()
      from locked i, webhooks w
      where d.id = i.delivery_id and d.claim_token = i.claim_token and w.id = d.webhook_id
      returning d.id, d.workspace_id, d.webhook_id, w.agent_id, d.event_id, d.status, d.attempt_count,
        i.status_code, i.error
    )
    -- Those that failed for good in this batch, for their notices (rare: the rest read
    -- nothing more; the subquery keeps it to one primary-key lookup each, never a join over events).
    select r.id, r.workspace_id, r.webhook_id, r.agent_id, r.event_id,
      (select e.type from events e where e.id = r.event_id) as event_type, r.attempt_count, r.status_code, r.error
    from recorded r
    where r.status = 'failed'`;
    // The statistics' rollups (stats/store.ts): one more statement for the whole batch.
    const rollupQuery = addToRollups(
      sql,
      outcomes.map((o) => ({
        workspaceId: o.workspaceId,
        webhookId: o.webhookId,
        attemptedAt: o.attempt.attemptedAt,
        durationMs: o.attempt.durationMs,
        succeeded: o.status === 'succeeded',
      })),
    );
    const [changed, failed] = await Promise.all([healthQuery, recordQuery, rollupQuery]);
    await onEnded(sql, { turnedOff: changed.filter((w) => w.turnedOff), failedForGood: failed });
    recorded = {
      failedForGood: failed.length,
      circuitChanges: changed.flatMap((w) =>
        w.circuitChange
          ? [{ webhookId: w.id, workspaceId: w.workspaceId, change: w.circuitChange, reason: w.circuitReason }]
          : [],
      ),
    };
    // Ended deliveries of ordered conversations: the next of each comes due.
    released = await releaseChainHeads(
      sql,
      outcomes.filter((o) => o.conversationId !== null && o.status !== 'pending').map((o) => o.deliveryId),
    );
  });
  // After the commit, not inside it: a commit carrying a NOTIFY holds PostgreSQL's
  // notification lock through its WAL flush, which made every worker's writes and every
  // publish commit one at a time. Lost (a crash right here), a subscriber misses this one
  // change of the delivery's; its state is still in the database.
  const changes = outcomes.map((o) => ({
    workspaceId: o.workspaceId,
    webhookId: o.webhookId,
    deliveryId: o.deliveryId,
  }));
  // Released chain heads are new due work: wake the workers too.
  await (released > 0 ? announceDue(pool, changes) : announceChanges(pool, changes)).catch(() => {});
  return recorded;
}
