import { readFileSync } from 'node:fs';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/**
 * Prometheus metrics of one process: counters and histograms of what this process did.
 * Domains add their own (the cluster-wide gauges, worker/backlog-gauges.ts; the LISTEN
 * session's, db/listener.ts). Every one here is this process's own: `sum` across instances
 * is right for all of them.
 */
export function createMetrics(options: { scrape?: () => Promise<string> } = {}) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  // Gauges named like counters, which `promtool check metrics` rejects; the same figures are
  // the sum of nodejs_active_handles / _requests / _resources over their `type` label.
  for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) {
    registry.removeSingleMetric(name);
  }

  const operations = new Histogram({
    name: 'graphql_operation_duration_seconds',
    help: 'GraphQL operations executed, by operation type, first root field and outcome.',
    labelNames: ['type', 'field', 'outcome'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  // Each operation of a key may hold one of the pool's connections: running near
  // DATABASE_POOL_SIZE, or any waiting, is pressure on the pool.
  const operationsRunning = new Gauge({
    name: 'graphql_operations_running',
    help: 'Queries and mutations of API keys executing in this process now (each may hold a database connection).',
    registers: [registry],
  });
  const operationsWaiting = new Gauge({
    name: 'graphql_operations_waiting',
    help: "Queries and mutations waiting for their API key's share of this process (OPERATIONS_PER_KEY) before they may use the database pool.",
    registers: [registry],
  });
  const requestsWaitingTurn = new Gauge({
    name: 'graphql_requests_waiting_turn',
    help: "Requests of API keys waiting at the door for their key's turn (REQUESTS_AT_ONCE_PER_KEY), unread.",
    registers: [registry],
  });
  const attempts = new Counter({
    name: 'webhook_delivery_attempts_total',
    help: 'Delivery attempts made by this process, by outcome (success, http_3xx, http_4xx, http_5xx, timeout, network, refused, internal).',
    labelNames: ['outcome'] as const,
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'webhook_delivery_latency_seconds',
    help: 'From an event being published to its successful delivery, retries included.',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30, 300, 3600, 36000],
    registers: [registry],
  });
  const deliveriesInFlight = new Gauge({
    name: 'webhook_deliveries_in_flight',
    help: 'Delivery attempts this process has in flight (at most DELIVERY_CONCURRENCY).',
    registers: [registry],
  });
  const deliverySockets = new Gauge({
    name: 'webhook_delivery_sockets_open',
    help: 'Sockets this process holds open to receivers: attempts in flight plus idle keep-alive ones.',
    registers: [registry],
  });
  const dnsLookups = new Counter({
    name: 'webhook_dns_lookups_total',
    help: "Receivers' host names resolved, by outcome (ok, cached, hosts, timeout, not_found, error); literal IPs are not counted.",
    labelNames: ['outcome'] as const,
    registers: [registry],
  });
  const dnsLookupDuration = new Histogram({
    name: 'webhook_dns_lookup_duration_seconds',
    help: 'How long resolving a host name took, by outcome (waiting for a workspace lookup slot included).',
    labelNames: ['outcome'] as const,
    buckets: [0.0001, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const internalErrors = new Counter({
    name: 'webhook_delivery_internal_errors_total',
    help: 'Failures of ours around delivery attempts, never counted against an endpoint, by stage: prepare (a secret or header would not open, signing failed; the delivery is put off), record (writing outcomes failed; retried), claim (claiming due deliveries failed; retried).',
    labelNames: ['stage'] as const,
    registers: [registry],
  });
  const deliveriesFailed = new Counter({
    name: 'webhook_deliveries_failed_total',
    help: 'Deliveries this process ended as FAILED for good: every scheduled attempt failed, or the endpoint answered 410 Gone.',
    registers: [registry],
  });
  new Gauge({
    name: 'convo_hooks_build_info',
    help: 'Always 1; the labels say which version of convo-hooks runs, on which Node.js.',
    labelNames: ['version', 'node'] as const,
    // Across the API processes of one machine (cluster/metrics.ts): one series, not their sum.
    aggregator: 'first',
    registers: [registry],
  }).set({ version: packageVersion(), node: process.versions.node }, 1);
  return {
    registry,
    /**
     * The text a scrape of /metrics answers: this registry's, or with several API processes
     * on one port every process's, aggregated (cluster/metrics.ts).
     */
    scrape: options.scrape ?? (() => registry.metrics()),
    deliveriesFailed,
    operations,
    operationsRunning,
    operationsWaiting,
    requestsWaitingTurn,
    attempts,
    latency,
    deliveriesInFlight,
    deliverySockets,
    dnsLookups,
    dnsLookupDuration,
    internalErrors,
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

function packageVersion(): string {
  try {
    const text = readFileSync(new URL('../../package.json', import.meta.url), 'utf8');
    return String((JSON.parse(text) as { version?: unknown }).version ?? 'unknown');
  } catch {
    return 'unknown';
  }
}
