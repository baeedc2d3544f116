import type { Pool } from '../db/sql.js';
import type { Logger } from '../lib/logger.js';

/**
 * Deletes events older than the retention period, with their deliveries and attempts
 * (by cascade), in bounded batches so no statement holds many locks for long. An event
 * that still has a pending delivery (a paused webhook holds them) is kept. Rows being
 * deleted are skipped by other pruners (SKIP LOCKED), and the delivery worker never
 * touches finished rows, so pruning does not block it.
 */
export async function pruneOnce(sql: Pool, retentionMs: number, batchSize = 500): Promise<number> {
  let deleted = 0;
  for (;;) {
    const rows = await sql`/* retention.prune */
      delete from events where id in (
        select e.id from events e
        where e.created_at < now() - ${retentionMs} * interval '1 millisecond'
          and not exists (select 1 from deliveries d where d.event_id = e.id and d.status = 'pending')
        limit ${batchSize}
        for update skip locked
      )
      returning id`;
    deleted += rows.length;
    if (rows.length < batchSize) return deleted;
    // Let other work in between batches.
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Prunes now and then every `intervalMs`, in the background; returns a stop function. */
export function startRetention(sql: Pool, options: { retentionMs: number; intervalMs: number; log: Logger }) {
  let running: Promise<unknown> = Promise.resolve();
  const run = () => {
    running = pruneOnce(sql, options.retentionMs).then(
      (deleted) => deleted > 0 && options.log.info({ deleted }, 'pruned events past retention'),
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
