import type { Sql } from '../db/sql.js';
import { addHistogram, emptyHistogram } from '../lib/histogram.js';
import { DAY_MS, eachPosition, HOUR_MS, MINUTE_MS, ROLLUP_TABLES } from '../queue/rollups.js';

export type StatsInterval = 'minute' | 'hour' | 'day';

export const INTERVAL_MS: Record<StatsInterval, number> = { minute: MINUTE_MS, hour: HOUR_MS, day: DAY_MS };

/** Where a bucket grid starts: `since` rounded down to its interval (days start at 00:00 UTC). */
export const gridStart = (since: Date, interval: StatsInterval) =>
  new Date(Math.floor(since.getTime() / INTERVAL_MS[interval]) * INTERVAL_MS[interval]);

/** How many buckets from `since` (rounded down) to `until` (exclusive). */
export const bucketCount = (since: Date, until: Date, interval: StatsInterval) =>
  Math.max(0, Math.ceil((until.getTime() - gridStart(since, interval).getTime()) / INTERVAL_MS[interval]));

export type StatsQuery = {
  workspaceId: string;
  /** Only this webhook's attempts. */
  webhookId?: string | null;
  /** Only these agents' attempts (a portal session's scope); null: every agent. */
  agentIds?: readonly string[] | null;
  since: Date;
  until: Date;
  interval: StatsInterval;
};

export type StatsBucket = {
  start: Date;
  attempts: number;
  succeeded: number;
  failed: number;
  /** Counts per duration bucket of lib/histogram.ts. */
  durations: number[];
};

/**
 * The attempts of [since, until) in buckets of `interval`, every bucket of the grid
 * included (empty ones as zeros). Whole rollup periods: `since` is rounded down to its
 * interval. Minute buckets read the minute rollups; hour and day buckets the hour ones
 * (a day is 24 rows per webhook), through the workspace's (or the webhook's) index on
 * starts_at: the cost follows webhooks × periods, never the number of attempts.
 * Returns also the rows the statement sent back, for the request's read budget.
 */
export async function readDeliveryStats(
  sql: Sql,
  query: StatsQuery,
): Promise<{ buckets: StatsBucket[]; rowsRead: number }> {
  const start = gridStart(query.since, query.interval);
  const intervalMs = INTERVAL_MS[query.interval];
  const table = ROLLUP_TABLES[query.interval === 'minute' ? 'minute' : 'hour'];
  const rows = await sql<
    { bucket: number; attempts: number; succeeded: number; failed: number; durations: number[] }[]
  >`/* stats.read */
    select floor(extract(epoch from starts_at - ${start}::timestamptz) * 1000 / ${intervalMs})::int as bucket,
      sum(attempts)::int as attempts, sum(succeeded)::int as succeeded, sum(failed)::int as failed,
      ${eachPosition(sql, (i) => `sum(durations[${i}])`)} as durations
    from ${sql(table)}
    where workspace_id = ${query.workspaceId}
      ${query.webhookId ? sql`and webhook_id = ${query.webhookId}` : sql``}
      ${query.agentIds ? sql`and agent_id = any(${query.agentIds as string[]}::text[])` : sql``}
      and starts_at >= ${start} and starts_at < ${query.until}
    group by 1`;
  const buckets = emptyBuckets(query);
  for (const row of rows) {
    const bucket = buckets[row.bucket];
    if (!bucket) continue;
    Object.assign(bucket, { attempts: row.attempts, succeeded: row.succeeded, failed: row.failed });
    addHistogram(bucket.durations, row.durations);
  }
  return { buckets, rowsRead: rows.length };
}

/** Every bucket of a query's grid, each with nothing counted. */
export function emptyBuckets(query: Pick<StatsQuery, 'since' | 'until' | 'interval'>): StatsBucket[] {
  const start = gridStart(query.since, query.interval).getTime();
  const intervalMs = INTERVAL_MS[query.interval];
  return Array.from({ length: bucketCount(query.since, query.until, query.interval) }, (_, i) => ({
    start: new Date(start + i * intervalMs),
    attempts: 0,
    succeeded: 0,
    failed: 0,
    durations: emptyHistogram(),
  }));
}

/** Deletes rollup rows of periods that started before `before`, a batch at a time; returns how many went. */
export async function pruneRollups(sql: Sql, before: Date, batchSize = 5000): Promise<number> {
  let deleted = 0;
  for (const table of Object.values(ROLLUP_TABLES)) {
    for (;;) {
      const [row] = await sql<{ deleted: number }[]>`/* stats.prune */
        with gone as (
          delete from ${sql(table)} where (webhook_id, starts_at) in (
            select webhook_id, starts_at from ${sql(table)} where starts_at < ${before} limit ${batchSize})
          returning 1
        )
        select count(*)::int as deleted from gone`;
      deleted += row?.deleted ?? 0;
      if ((row?.deleted ?? 0) < batchSize) break;
    }
  }
  return deleted;
}

export type Backlog = { pending: number; oldestPendingAt: Date | null };

/** Pending deliveries counted at most this far: a count of a huge backlog stops here. */
export const BACKLOG_COUNT_LIMIT = 10_000;

/**
 * The backlog of each of several webhooks in one statement: its pending deliveries,
 * counted up to BACKLOG_COUNT_LIMIT, and the oldest one's creation, each a short walk of
 * deliveries_webhook_pending_age (pending deliveries by webhook, oldest first).
 */
export async function readBacklogs(sql: Sql, webhookIds: readonly string[]): Promise<Map<string, Backlog>> {
  const rows = await sql<(Backlog & { webhookId: string })[]>`/* stats.backlogs */
    select p.id as webhook_id,
      (select count(*)::int from (
        select 1 from deliveries d where d.webhook_id = p.id and d.status = 'pending' limit ${BACKLOG_COUNT_LIMIT}
      ) bounded) as pending,
      (select min(d.created_at) from deliveries d where d.webhook_id = p.id and d.status = 'pending') as oldest_pending_at
    from unnest(${webhookIds as string[]}::text[]) as p(id)`;
  return new Map(rows.map(({ webhookId, ...backlog }) => [webhookId, backlog]));
}
