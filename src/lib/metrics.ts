import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { Pool } from '../db/sql.js';

/**
 * Prometheus metrics of one process. Counters and histograms describe what this process
 * did; the backlog gauges are read from the database at scrape time, so every instance
 * reports the same cluster-wide figures.
 */
export function createMetrics(sql: Pool) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });

  const operations = new Histogram({
    name: 'graphql_operation_duration_seconds',
    help: 'GraphQL operations executed, by operation type, first root field and outcome.',
    labelNames: ['type', 'field', 'outcome'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  const attempts = new Counter({
    name: 'webhook_delivery_attempts_total',
    help: 'Delivery attempts made by this process, by outcome (success, http_4xx, http_5xx, http_3xx, timeout, network, refused).',
    labelNames: ['outcome'] as const,
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'webhook_delivery_latency_seconds',
    help: 'From an event being published to its successful delivery, retries included.',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30, 300, 3600, 36000],
    registers: [registry],
  });
  new Gauge({
    name: 'webhook_deliveries_pending',
    help: 'Deliveries not yet succeeded or failed, across the cluster.',
    registers: [registry],
    async collect() {
      const [row] = await sql`/* metrics.pending */ select count(*)::int as n from deliveries where status = 'pending'`;
      this.set(row?.n ?? 0);
    },
  });
  new Gauge({
    name: 'webhook_delivery_oldest_due_seconds',
    help: 'How long the most overdue pending delivery has been due (0 when none is): how far the workers lag.',
    registers: [registry],
    async collect() {
      const [row] = await sql`/* metrics.oldest-due */
        select coalesce(extract(epoch from now() - min(next_attempt_at)), 0)::float8 as seconds
        from deliveries where status = 'pending' and next_attempt_at <= now()`;
      this.set(Math.max(0, row?.seconds ?? 0));
    },
  });
  new Gauge({
    name: 'webhooks_disabled',
    help: 'Webhooks the system turned off (410 Gone, or failing for DELIVERY_DISABLE_AFTER).',
    registers: [registry],
    async collect() {
      const [row] = await sql`/* metrics.disabled */
        select count(*)::int as n from webhooks where not active and disabled_reason is not null`;
      this.set(row?.n ?? 0);
    },
  });

  return { registry, operations, attempts, latency };
}

export type Metrics = ReturnType<typeof createMetrics>;

/** The label for an attempt's outcome: few values, so dashboards stay cheap. */
export function attemptOutcome(result: { ok: boolean; statusCode: number | null; error: string | null }): string {
  if (result.ok) return 'success';
  if (result.statusCode !== null) return `http_${Math.floor(result.statusCode / 100)}xx`;
  if (result.error?.startsWith('timeout')) return 'timeout';
  if (result.error?.startsWith('refused')) return 'refused';
  return 'network';
}
