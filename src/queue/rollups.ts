import type { Sql } from '../db/sql.js';
import { DURATION_BUCKETS, durationBucket, emptyHistogram } from '../lib/histogram.js';

/** One attempt as the rollups count it. */
export type CountedAttempt = {
  workspaceId: string;
  webhookId: string;
  attemptedAt: Date;
  durationMs: number;
  succeeded: boolean;
};

type Rollup = {
  webhookId: string;
  workspaceId: string;
  startsAt: number;
  attempts: number;
  succeeded: number;
  failed: number;
  durations: number[];
};

export const MINUTE_MS = 60_000;
export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;

/** The rollup tables (migrations/0022), by the length of their rows' periods. */
export const ROLLUP_TABLES = { minute: 'delivery_stats_minute', hour: 'delivery_stats_hour' } as const;

/** Attempts summed per webhook per period of `periodMs`, ordered by key (the order their rows are locked in). */
function rollUp(attempts: readonly CountedAttempt[], periodMs: number): Rollup[] {
  const rollups = new Map<string, Rollup>();
  for (const a of attempts) {
    const startsAt = Math.floor(a.attemptedAt.getTime() / periodMs) * periodMs;
    const key = `${a.webhookId} ${startsAt}`;
    let rollup = rollups.get(key);
    if (!rollup) {
      rollup = {
        webhookId: a.webhookId,
        workspaceId: a.workspaceId,
        startsAt,
        attempts: 0,
        succeeded: 0,
        failed: 0,
        durations: emptyHistogram(),
      };
      rollups.set(key, rollup);
    }
    rollup.attempts++;
    if (a.succeeded) rollup.succeeded++;
    else rollup.failed++;
    const bucket = durationBucket(a.durationMs);
    rollup.durations[bucket] = (rollup.durations[bucket] ?? 0) + 1;
  }
  return [...rollups.values()].sort((x, y) =>
    x.webhookId === y.webhookId ? x.startsAt - y.startsAt : x.webhookId < y.webhookId ? -1 : 1,
  );
}

function upsertRollups(sql: Sql, table: keyof typeof ROLLUP_TABLES, rollups: Rollup[]) {
  const col = <T>(pick: (r: Rollup) => T) => rollups.map(pick);
  return sql`
    insert into ${sql(ROLLUP_TABLES[table])} as s
      (webhook_id, starts_at, workspace_id, agent_id, attempts, succeeded, failed, durations)
    select i.webhook_id, i.starts_at, i.workspace_id, w.agent_id, i.attempts, i.succeeded, i.failed, i.durations::int[]
    from unnest(
      ${col((r) => r.webhookId)}::text[], ${col((r) => new Date(r.startsAt).toISOString())}::timestamptz[],
      ${col((r) => r.workspaceId)}::text[], ${col((r) => r.attempts)}::int[], ${col((r) => r.succeeded)}::int[],
      ${col((r) => r.failed)}::int[], ${col((r) => `{${r.durations.join(',')}}`)}::text[]
    ) with ordinality as i(webhook_id, starts_at, workspace_id, attempts, succeeded, failed, durations, position)
    join webhooks w on w.id = i.webhook_id
    -- In key order: two batches adding to the same rows lock them in the same order.
    order by i.position
    on conflict (webhook_id, starts_at) do update set
      attempts = s.attempts + excluded.attempts,
      succeeded = s.succeeded + excluded.succeeded,
      failed = s.failed + excluded.failed,
      durations = ${eachPosition(sql, (i) => `s.durations[${i}] + excluded.durations[${i}]`)}`;
}

/**
 * `array[f(1), …, f(42)]`, a histogram built position by position, written out: 42 plain
 * expressions (or aggregates) per row cost a fraction of unnesting each array and
 * grouping the pieces (a day of minute rows took 0.7 s that way). Constant text only.
 */
export function eachPosition(sql: Sql, expression: (position: number) => string) {
  const positions = Array.from({ length: DURATION_BUCKETS }, (_, i) => expression(i + 1));
  return sql.unsafe(`array[${positions.join(', ')}]::int[]`);
}

/**
 * Adds a batch of attempts to the minute and the hour rollups: one statement, run in the
 * transaction that writes the attempts (queue/record.ts), so a batch retried after a
 * failure is not counted twice. Its rows are one per webhook per minute (and per hour) of
 * the batch, not one per attempt. Concurrent batches of one webhook wait for each other
 * on its current rows until they commit.
 */
export function addToRollups(sql: Sql, attempts: readonly CountedAttempt[]): PromiseLike<unknown> {
  if (attempts.length === 0) return Promise.resolve();
  // Returned unstarted (a postgres.js query runs when awaited): the caller sends it after its others.
  return sql`/* stats.add */
    with minutes as (${upsertRollups(sql, 'minute', rollUp(attempts, MINUTE_MS))}),
      hours as (${upsertRollups(sql, 'hour', rollUp(attempts, HOUR_MS))})
    select 1`;
}
