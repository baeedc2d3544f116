import { Writable } from 'node:stream';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createLogger } from '../../src/lib/logger.js';
import { createMetrics } from '../../src/lib/metrics.js';
import { startClusterGauges } from '../../src/worker/backlog-gauges.js';
import { createTestApp } from '../support/app.js';
import { conversationEnded, PUBLISH, REGISTER, validWebhook } from '../support/operations.js';
import { createReceiver, eventually, sleep } from '../support/receiver.js';
import { createTcpProxy } from '../support/tcp-proxy.js';

/** The value of the first sample whose line matches `line`, or NaN. */
const sampleValue = (text: string, line: RegExp) =>
  Number(
    text
      .split('\n')
      .find((l) => line.test(l))
      ?.split(' ')
      .at(-1),
  );

/**
 * What `promtool check metrics` rejects and we could break: a counter without `_total`, a
 * non-counter with it, a name not in snake_case, a metric without help, units other than
 * base units (milliseconds, kilobytes).
 */
function promtoolProblems(text: string): string[] {
  const problems: string[] = [];
  const helped = new Set([...text.matchAll(/^# HELP (\S+) \S/gm)].map((m) => m[1]));
  for (const [, name, type] of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    if (!name || !type) continue;
    if (type === 'counter' && !name.endsWith('_total')) problems.push(`${name}: counter without _total`);
    if (type !== 'counter' && name.endsWith('_total')) problems.push(`${name}: ${type} named _total`);
    if (!/^[a-z][a-z0-9_]*$/.test(name)) problems.push(`${name}: not snake_case`);
    if (!helped.has(name)) problems.push(`${name}: no help`);
    if (/_(ms|milliseconds|minutes|hours|kb|kilobytes|mb|megabytes)(_|$)/.test(name)) {
      problems.push(`${name}: not in base units`);
    }
  }
  return problems;
}

function captureLines() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  return { lines, stream };
}

describe('/metrics while the database is down', () => {
  it('answers 200 at once from API and worker processes, with process metrics and the last cluster figures; errors are logged once', async () => {
    const app = await createTestApp();
    const target = new URL(app.db.url);
    const proxy = await createTcpProxy({ host: target.hostname, port: Number(target.port) });
    await proxy.up();
    const viaProxy = new URL(app.db.url);
    viaProxy.port = String(proxy.port);
    const env = { DATABASE_URL: viaProxy.toString(), CLUSTER_METRICS_INTERVAL: '200ms' };
    const api = app.spawnServer({ ...env, ROLE: 'api' }, /GraphQL API and GraphiQL at http:\/\/localhost:(\d+)\//);
    const worker = app.spawnServer({ ...env, ROLE: 'worker' }, /metrics at http:\/\/localhost:(\d+)\//);
    try {
      const apiBase = `http://127.0.0.1:${(await api.started)[1]}`;
      const workerBase = `http://127.0.0.1:${(await worker.started)[1]}`;
      const scrape = async (base: string) => {
        const started = performance.now();
        const response = await fetch(`${base}/metrics`, { signal: AbortSignal.timeout(5000) });
        return { status: response.status, text: await response.text(), ms: performance.now() - started };
      };

      // Cluster-wide figures come from the worker only, labelled so: sum over instances is right.
      const before = await eventually(async () => {
        const { text } = await scrape(workerBase);
        return /^webhook_deliveries_pending\{scope="cluster"\} 0$/m.test(text) ? text : undefined;
      });
      expect(before).toMatch(/^webhook_deliveries_due\{scope="cluster"\} 0$/m);
      expect(promtoolProblems(before)).toEqual([]);
      const apiBefore = (await scrape(apiBase)).text;
      expect(apiBefore).not.toMatch(/webhook_deliveries_pending/);
      expect(promtoolProblems(apiBefore)).toEqual([]);

      await proxy.down();
      const outageStarted = Date.now();
      await sleep(3000);
      for (const base of [apiBase, workerBase]) {
        const during = await scrape(base);
        expect(during.status).toBe(200);
        expect(during.ms).toBeLessThan(1000);
        expect(during.text).toMatch(/^process_resident_memory_bytes \d+/m);
        expect(during.text).toMatch(/^convo_hooks_build_info\{/m);
      }
      const during = (await scrape(workerBase)).text;
      // The last figures stay; their age says they are stale.
      expect(during).toMatch(/^webhook_deliveries_pending\{scope="cluster"\} 0$/m);
      expect(sampleValue(during, /^webhook_cluster_metrics_age_seconds /)).toBeGreaterThan(2);

      // Fifteen reads failed in those 3 s: each way they failed is logged once (the first may
      // meet the connection being cut, the rest a refused connect: two lines, not fifteen).
      const failures = worker
        .output()
        .split('\n')
        .filter((l) => l.includes('reading the cluster-wide gauges failed'));
      const ways = failures.map((l) => {
        const err = (JSON.parse(l) as { err?: { code?: string; message?: string } }).err;
        return `${err?.code ?? ''} ${err?.message ?? ''}`;
      });
      expect(failures.length).toBeGreaterThanOrEqual(1);
      expect(new Set(ways).size, failures.join('\n')).toBe(ways.length);
      expect(failures.length).toBeLessThanOrEqual(2);
      expect(Date.now() - outageStarted).toBeLessThan(10_000);

      await proxy.up();
      await eventually(async () => {
        const { text } = await scrape(workerBase);
        return sampleValue(text, /^webhook_cluster_metrics_age_seconds /) < 1;
      }, 15_000);

      // Every line names its process.
      for (const [proc, role] of [
        [api, 'api'],
        [worker, 'worker'],
      ] as const) {
        const lines = proc
          .output()
          .split('\n')
          .filter((l) => l.startsWith('{'))
          .map((l) => JSON.parse(l));
        expect(lines.length).toBeGreaterThan(0);
        for (const line of lines) {
          expect(line).toMatchObject({ pid: proc.child.pid, role, hostname: expect.any(String) });
        }
      }
    } finally {
      await proxy.down();
      api.signal('SIGKILL');
      worker.signal('SIGKILL');
      await Promise.all([api.exited, worker.exited]);
    }
  }, 60_000);
});

describe('cluster-wide gauges', () => {
  it('are read in the background: due and scheduled apart, held back from pending', async () => {
    const app = await createTestApp();
    const { apiKey } = await app.newWorkspace();
    const receiver = await createReceiver();
    await app.graphql(REGISTER, { apiKey, variables: { input: validWebhook({ url: receiver.url, agentId: 'b' }) } });
    for (let i = 0; i < 3; i++) await app.graphql(PUBLISH, { apiKey, variables: { input: conversationEnded('b') } });
    // Arrange one retry waiting out its delay.
    await app.sql`update deliveries set next_attempt_at = now() + interval '1 hour'
      where id = (select id from deliveries order by id limit 1)`;
    // The other two have waited a minute: the oldest due is that old.
    await app.sql`update deliveries set next_attempt_at = now() - interval '1 minute' where next_attempt_at <= now()`;

    const registry = new Registry();
    const gauges = startClusterGauges(registry, app.sql, { intervalMs: 100, log: app.log });
    try {
      const text = await eventually(async () => {
        const text = await registry.metrics();
        return /^webhook_deliveries_pending\{scope="cluster"\} 3$/m.test(text) ? text : undefined;
      });
      expect(sampleValue(text, /^webhook_deliveries_due\{/)).toBe(2);
      expect(sampleValue(text, /^webhook_deliveries_scheduled\{/)).toBe(1);
      const oldestDue = sampleValue(text, /^webhook_delivery_oldest_due_seconds\{/);
      expect(oldestDue).toBeGreaterThanOrEqual(59);
      expect(oldestDue).toBeLessThan(120);
    } finally {
      await gauges.stop();
    }
    // Stopped: the figures stay as last read, and scraping still answers.
    expect(await registry.metrics()).toMatch(/^webhook_deliveries_pending\{scope="cluster"\} 3$/m);
  });
});

describe('deliveries failed for good and circuits', () => {
  it('counts a delivery that failed for good, and logs the circuit opening and closing without secrets', async () => {
    const { lines, stream } = captureLines();
    const log = createLogger('info', stream);
    const app = await createTestApp(
      { DELIVERY_RETRY_SCHEDULE: '50ms', CIRCUIT_BREAKER_FAILURES: '2', CIRCUIT_BREAKER_PROBE_INTERVAL: '100ms' },
      { log },
    );
    const { apiKey, workspaceId } = await app.newWorkspace();
    let failing = true;
    const receiver = await createReceiver(() => (failing ? { status: 500 } : { status: 200 }));
    const registered = await app.graphql(REGISTER, {
      apiKey,
      variables: { input: validWebhook({ url: receiver.url, agentId: 'f' }) },
    });
    const webhookId = registered.data?.registerWebhook.id as string;
    const secret = registered.data?.registerWebhook.secret as string;
    const metrics = createMetrics();
    app.startWorker({ metrics, log });
    await app.graphql(PUBLISH, { apiKey, variables: { input: conversationEnded('f') } });

    await eventually(
      async () => sampleValue(await metrics.registry.metrics(), /^webhook_deliveries_failed_total /) === 1,
    );
    const opened = lines.find((l) => l.msg === 'circuit opened: the endpoint gets one probe at a time');
    expect(opened).toMatchObject({ webhookId, workspaceId, reason: expect.stringMatching(/HTTP 500/) });

    failing = false;
    await app.graphql(PUBLISH, { apiKey, variables: { input: conversationEnded('f') } });
    await eventually(async () =>
      lines.find((l) => l.msg === 'circuit closed: an attempt succeeded, deliveries flow again'),
    );
    expect(lines.find((l) => String(l.msg).startsWith('circuit closed'))).toMatchObject({ webhookId, workspaceId });
    expect(sampleValue(await metrics.registry.metrics(), /^webhook_deliveries_failed_total /)).toBe(1);
    expect(JSON.stringify(lines)).not.toContain(secret);
  });
});

describe('log lines', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('carry pid, hostname and role; the same error repeated within 10 s is written once, then with a count', () => {
    vi.useFakeTimers();
    const { lines, stream } = captureLines();
    const log = createLogger('info', stream, { role: 'worker' });
    const outage = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    for (let i = 0; i < 50; i++) log.warn({ err: outage }, 'claiming deliveries failed; retrying on the next poll');
    log.warn({ err: outage }, 'pruning failed; trying again next round');
    log.warn({ webhookId: 'wh_1' }, 'circuit opened');
    log.warn({ webhookId: 'wh_2' }, 'circuit opened');
    expect(lines.map((l) => l.msg)).toEqual([
      'claiming deliveries failed; retrying on the next poll',
      'pruning failed; trying again next round',
      'circuit opened',
      'circuit opened',
    ]);
    for (const line of lines) {
      expect(line).toMatchObject({ pid: process.pid, hostname: expect.any(String), role: 'worker' });
    }
    vi.advanceTimersByTime(10_000);
    log.warn({ err: outage }, 'claiming deliveries failed; retrying on the next poll');
    expect(lines.at(-1)).toMatchObject({ suppressed: 49, err: { code: 'ECONNREFUSED' } });
  });
});

describe('pool pressure', () => {
  it("counts operations running and waiting for their key's share, and none once they are done", async () => {
    const app = await createTestApp({ OPERATIONS_PER_KEY: '1', OPERATIONS_WAITING_PER_KEY: '50' });
    const { apiKey } = await app.newWorkspace();
    const read = '{ webhooks(first: 100) { totalCount } deliveries(first: 100) { totalCount } }';
    const scrape = async () => (await app.yoga.fetch('http://localhost/metrics')).text();
    let settled = false;
    const flood = Promise.all(Array.from({ length: 20 }, () => app.graphql(read, { apiKey }))).finally(() => {
      settled = true;
    });
    let mostWaiting = 0;
    let mostRunning = 0;
    while (!settled) {
      const text = await scrape();
      mostWaiting = Math.max(mostWaiting, sampleValue(text, /^graphql_operations_waiting /));
      mostRunning = Math.max(mostRunning, sampleValue(text, /^graphql_operations_running /));
      await sleep(1);
    }
    expect((await flood).every((r) => r.status === 200)).toBe(true);
    expect(mostRunning).toBe(1);
    expect(mostWaiting).toBeGreaterThan(0);
    const after = await scrape();
    expect(sampleValue(after, /^graphql_operations_running /)).toBe(0);
    expect(sampleValue(after, /^graphql_operations_waiting /)).toBe(0);
  });
});
