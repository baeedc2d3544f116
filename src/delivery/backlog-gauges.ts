import { Gauge, type Registry } from 'prom-client';
import type { Pool } from '../db/sql.js';
import { queueHeads } from '../queue/claim.js';

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
    help: 'How long the most overdue pending delivery has been due (0 when none is): how far the workers lag. Deliveries waiting for an open circuit or a rate limit wait by design and are left out.',
    registers: [registry],
    async collect() {
      const [row] = await sql`/* metrics.oldest-due */
        with recursive heads as (${queueHeads(sql)})
        select coalesce(extract(epoch from now() - min(h.next_attempt_at)), 0)::float8 as seconds
        from heads h join webhooks w on w.id = h.webhook_id
        where h.next_attempt_at <= now() and w.circuit_opened_at is null and w.rate_limit_per_second is null`;
      this.set(Math.max(0, row?.seconds ?? 0));
    },
  });
  new Gauge({
    name: 'webhooks_circuit_open',
    help: 'Webhooks whose circuit is open (FAILING): their endpoints get one probe at a time.',
    registers: [registry],
    async collect() {
      const [row] = await sql`/* metrics.circuits-open */
        select count(*)::int as n from webhooks where circuit_opened_at is not null`;
      this.set(row?.n ?? 0);
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
