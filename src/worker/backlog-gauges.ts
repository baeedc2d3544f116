import { Gauge, type Registry } from 'prom-client';
import type { Pool } from '../db/sql.js';
import type { Logger } from '../lib/logger.js';
import { queueHeads } from '../queue/claim.js';

/** The figures of the whole cluster, read in one query. */
type ClusterFigures = {
  pending: number;
  due: number;
  scheduled: number;
  oldestDueSeconds: number;
  circuitsOpen: number;
  disabled: number;
};

/**
 * Cluster-wide gauges (the delivery backlog, circuits, disabled webhooks): the same figures
 * whichever process reports them. They are read from the database in the background, one
 * query every `intervalMs`, never at scrape time, so /metrics answers at once even while the
 * database is away (the last figures stay, and `webhook_cluster_metrics_age_seconds` grows).
 * main.ts starts them only in processes that run the worker; each series carries
 * `scope="cluster"`: aggregate them with max, not sum.
 */
export function startClusterGauges(registry: Registry, sql: Pool, options: { intervalMs: number; log: Logger }) {
  const gauge = (name: string, help: string) =>
    new Gauge({ name, help, labelNames: ['scope'] as const, registers: [registry] });
  const gauges: Record<keyof ClusterFigures, Gauge<'scope'>> = {
    pending: gauge(
      'webhook_deliveries_pending',
      'Deliveries not yet succeeded or failed, across the cluster (due, scheduled, and those held for a paused webhook or waiting behind an earlier delivery of their conversation).',
    ),
    due: gauge(
      'webhook_deliveries_due',
      'Pending deliveries whose next attempt is due now (next_attempt_at <= now), across the cluster: work the workers have not got to yet.',
    ),
    scheduled: gauge(
      'webhook_deliveries_scheduled',
      'Pending deliveries whose next attempt is in the future (retries waiting out their delay), across the cluster.',
    ),
    oldestDueSeconds: gauge(
      'webhook_delivery_oldest_due_seconds',
      'How long the most overdue pending delivery has been due (0 when none is): how far the workers lag. Deliveries waiting for an open circuit or a rate limit wait by design and are left out.',
    ),
    circuitsOpen: gauge(
      'webhooks_circuit_open',
      'Webhooks whose circuit is open (FAILING): their endpoints get one probe at a time.',
    ),
    disabled: gauge(
      'webhooks_disabled',
      'Webhooks the system turned off (410 Gone, or failing for DELIVERY_DISABLE_AFTER).',
    ),
  };
  const startedAt = Date.now();
  let refreshedAt: number | undefined;
  new Gauge({
    name: 'webhook_cluster_metrics_age_seconds',
    help: 'Seconds since this process last read the cluster-wide gauges (since it started, before the first read). Above a few CLUSTER_METRICS_INTERVAL, they are stale: the database is unreachable or the query fails.',
    registers: [registry],
    collect() {
      this.set((Date.now() - (refreshedAt ?? startedAt)) / 1000);
    },
  });

  async function refresh() {
    try {
      const figures = await readClusterFigures(sql);
      for (const [key, value] of Object.entries(figures)) {
        gauges[key as keyof ClusterFigures].set({ scope: 'cluster' }, value);
      }
      refreshedAt = Date.now();
    } catch (error) {
      options.log.warn({ err: error }, 'reading the cluster-wide gauges failed; /metrics keeps the last values');
    }
  }

  // One read at a time: the next is scheduled once the last has ended, however long it took.
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let running = refresh();
  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      running = refresh().then(schedule);
    }, options.intervalMs);
    timer.unref();
  };
  void running.then(schedule);

  return {
    /** Stops refreshing; resolves once a read under way has ended (before the pool closes). */
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}

async function readClusterFigures(sql: Pool): Promise<ClusterFigures> {
  const [row] = await sql<ClusterFigures[]>`/* metrics.cluster */
    with recursive heads as (${queueHeads(sql)}
    ), backlog as (
      select count(*)::int as pending,
        count(*) filter (where not held and not waiting and next_attempt_at <= now())::int as due,
        count(*) filter (where not held and not waiting and next_attempt_at > now())::int as scheduled
      from deliveries where status = 'pending'
    )
    select b.pending, b.due, b.scheduled,
      (select coalesce(extract(epoch from now() - min(h.next_attempt_at)), 0)::float8
        from heads h join webhooks w on w.id = h.webhook_id
        where h.next_attempt_at <= now() and w.circuit_opened_at is null and w.rate_limit_per_second is null
      ) as oldest_due_seconds,
      (select count(*)::int from webhooks where circuit_opened_at is not null) as circuits_open,
      (select count(*)::int from webhooks where not active and disabled_reason is not null) as disabled
    from backlog b`;
  if (!row) throw new Error('the cluster figures query returned no row');
  return { ...row, oldestDueSeconds: Math.max(0, row.oldestDueSeconds) };
}
