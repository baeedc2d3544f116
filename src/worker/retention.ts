import type { Pool } from '../db/sql.js';
import type { Logger } from '../lib/logger.js';
import { pruneRollups } from '../stats/store.js';

/**
 * Deletes events older than the retention period, with their deliveries (by cascade) and
 * attempts (one delete per statement, migration 0014), in bounded batches so no statement holds many locks for long. An event
 * that still has a pending delivery (a paused webhook holds them) is kept. Rows being
 * deleted are skipped by other pruners (SKIP LOCKED), and the delivery worker never
 * touches finished rows, so pruning does not block it.
 *
 * Oldest first along events_created, each batch starting where the last one ended (a
 * keyset), so events kept for a pending delivery are walked past once, not once a batch;
 * the batch's ids go to the delete as an array, which finds them by primary key however
 * large the table (a subquery let the planner hash-join a scan of all events). Batches
 * follow each other with only a short pause while there is more to do: at the default
 * 1,000 events (10,000 deliveries at a fan-out of 10) a batch is a fraction of a second.
 * Most of a batch is the per-row cascades and the index probes behind them
 * (bench/scenarios/scale.ts has the figures).
 */
export async function pruneOnce(sql: Pool, retentionMs: number, batchSize = 1000, pauseMs = 10): Promise<number> {
  let deleted = 0;
  // The keyset: no event left before this one is deletable (it went, or a delivery of it is pending).
  let from = new Date(0);
  for (;;) {
    const [batch] = await sql<{ deleted: number; scanned: number; last: Date | null }[]>`/* retention.prune */
      with doomed as materialized (
        select e.id, e.created_at from events e
        where e.created_at < now() - ${retentionMs} * interval '1 millisecond' and e.created_at >= ${from}
          and not exists (select 1 from deliveries d where d.event_id = e.id and d.status = 'pending')
        order by e.created_at
        limit ${batchSize}
        for update skip locked
      ), gone as (
        delete from events e where e.id = any(array(select id from doomed)) returning 1
      )
      select (select count(*) from gone)::int as deleted, (select count(*) from doomed)::int as scanned,
        (select max(created_at) from doomed) as last`;
    deleted += batch?.deleted ?? 0;
    if (!batch?.last || (batch.scanned ?? 0) < batchSize) return deleted;
    from = batch.last;
    await new Promise((resolve) => setTimeout(resolve, pauseMs));
  }
}

/** Prunes now and then every `intervalMs`, in the background; returns a stop function. */
export function startRetention(sql: Pool, options: { retentionMs: number; intervalMs: number; log: Logger }) {
  let running: Promise<unknown> = Promise.resolve();
  const run = () => {
    running = pruneOnce(sql, options.retentionMs)
      .then((deleted) => deleted > 0 && options.log.info({ deleted }, 'pruned events past retention'))
      // The statistics' rollups go after the same period (stats/store.ts).
      .then(() => pruneRollups(sql, new Date(Date.now() - options.retentionMs)))
      .then(
        (deleted) => deleted > 0 && options.log.info({ deleted }, 'pruned statistics rollups past retention'),
        (error: unknown) => options.log.warn({ err: error }, 'pruning failed; trying again next round'),
      );
  };
  run();
  const timer = setInterval(run, options.intervalMs);
  timer.unref();
  return async () => {
    clearInterval(timer);
    await running;
  };
}
