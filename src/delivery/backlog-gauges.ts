import { Gauge, type Registry } from 'prom-client';
import type { Pool } from '../db/sql.js';

/**
 * The delivery backlog, read from the database at scrape time: every instance reports the
 * same cluster-wide figures.
 */
export function registerBacklogGauges(registry: Registry, sql: Pool) {
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
}
