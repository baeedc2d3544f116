import { execFileSync } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdtemp, open, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/lib/metrics.js';
import { insertWebhook } from '../../src/webhooks/store.js';
import { createTestApp, type TestApp } from '../support/app.js';
import { createNameServer } from '../support/name-server.js';
import { conversationEnded, PUBLISH, REGISTER, validWebhook, WEBHOOK_DELIVERIES } from '../support/operations.js';
import { createReceiver, eventually, sleep } from '../support/receiver.js';

/**
 * Receivers by name, through a real name server on 127.0.0.1 (DNS_SERVERS): names under
 * ok.test answer 127.0.0.1 with a TTL of 0 (so every attempt asks again), names under
 * missing.test are NXDOMAIN, and every other name never gets an answer.
 */
async function nameServer() {
  return createNameServer((name) => {
    if (name.endsWith('.ok.test')) return { a: ['127.0.0.1'], ttl: 0 };
    if (name.endsWith('.missing.test')) return 'nxdomain';
    return 'silent';
  });
}

/** The first attempt of the webhook's first delivery, once made. */
async function firstAttempt(app: TestApp, apiKey: string, webhookId: string) {
  return eventually(async () => {
    const res = await app.graphql(WEBHOOK_DELIVERIES, { apiKey, variables: { id: webhookId } });
    return res.data?.webhook.deliveries.edges[0]?.node.attempts[0] as
      | { error: string | null; durationMs: number; statusCode: number | null }
      | undefined;
  }, 8000);
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;

describe("another workspace's silent name server", () => {
  it('leaves deliveries by name within twice their latency alone, beside 200 deliveries to names that never resolve', async () => {
    const names = await nameServer();
    const app = await createTestApp({
      DNS_SERVERS: names.address,
      DELIVERY_TIMEOUT_MS: '5000',
      DNS_TIMEOUT_MS: '4500',
    });
    const noisy = await app.newWorkspace();
    const quiet = await app.newWorkspace();
    // Each request on a new connection, so each delivery resolves and connects afresh.
    const healthy = await createReceiver(() => ({ status: 200, headers: { connection: 'close' } }));
    await app.graphql(REGISTER, {
      apiKey: quiet.apiKey,
      variables: { input: validWebhook({ url: `http://receiver.ok.test:${healthy.port}/hooks`, agentId: 'ok' }) },
    });
    for (let i = 0; i < 200; i++) {
      await insertWebhook(app.sql, app.secretKey, {
        workspaceId: noisy.workspaceId,
        name: `silent ${i}`,
        agentId: 'noisy',
        url: `http://hook-${i}.silent.test/hooks`,
        events: ['conversation_ended'],
        active: true,
        rateLimitPerSecond: null,
      });
    }
    app.startWorker();

    /** Publish to receipt, one delivery after another: the median of `count`. */
    async function latency(count: number) {
      const took: number[] = [];
      for (let i = 0; i < count; i++) {
        const started = performance.now();
        const arrived = healthy.received.length + 1;
        await app.graphql(PUBLISH, { apiKey: quiet.apiKey, variables: { input: conversationEnded('ok') } });
        await healthy.waitFor(arrived, 5000);
        took.push(performance.now() - started);
      }
      return median(took);
    }

    await latency(5); // warm-up
    const alone = await latency(15);

    const noisyStarted = performance.now();
    await app.graphql(PUBLISH, { apiKey: noisy.apiKey, variables: { input: conversationEnded('noisy') } });
    // Its lookups are at the name server (16 at once, the bound) or waiting for their turn.
    await eventually(async () => names.questions.filter((q) => q.name.endsWith('.silent.test')).length >= 16, 2000);
    const beside = await latency(15);
    const besideEnded = performance.now() - noisyStarted;
    console.log(
      `deliveries by name: ${alone.toFixed(1)} ms alone, ${beside.toFixed(1)} ms beside 200 to silent names (${(beside / alone).toFixed(2)}×); measured within ${besideEnded.toFixed(0)} ms of the noisy event`,
    );
    // Measured while the silent lookups were still unanswered (they give up after 4.5 s).
    expect(besideEnded).toBeLessThan(4500);
    expect(beside).toBeLessThan(2 * alone);

    // Each silent name cost its attempt the DNS timeout, within the delivery timeout.
    const attempts = await eventually(async () => {
      const rows = await app.sql<{ error: string; durationMs: number }[]>`
        select a.error, a.duration_ms as "durationMs" from delivery_attempts a
        join deliveries d on d.id = a.delivery_id where d.workspace_id = ${noisy.workspaceId}`;
      return rows.length >= 16 ? rows : undefined;
    }, 10_000);
    expect(new Set(attempts.map((a) => a.error))).toEqual(new Set(['dns timeout']));
    expect(Math.max(...attempts.map((a) => a.durationMs))).toBeLessThanOrEqual(5000);
  });
});

/**
 * Blocks every thread of libuv's pool (what a name server that never answers does to
 * getaddrinfo): each opens a named pipe for reading, which waits for a writer. Returns
 * the function that lets them go.
 */
async function occupyThreadPool(): Promise<() => Promise<void>> {
  const dir = await mkdtemp(path.join(tmpdir(), 'pool-'));
  const pipe = path.join(dir, 'pipe');
  execFileSync('mkfifo', [pipe]);
  const threads = Number(process.env.UV_THREADPOOL_SIZE) || 4;
  const readers = Array.from({ length: threads }, () => open(pipe, 'r'));
  // Proof that the pool is full: a file's metadata, read on the pool, does not come.
  const probe = await Promise.race([stat(dir).then(() => 'answered'), sleep(300).then(() => 'blocked')]);
  expect(probe).toBe('blocked');
  return async () => {
    closeSync(openSync(pipe, 'w'));
    for (const reader of await Promise.all(readers)) await reader.close();
  };
}

describe("libuv's thread pool", () => {
  it('is not needed to resolve: deliveries by name and to localhost go through while all its threads are held', async () => {
    const names = await nameServer();
    const app = await createTestApp({ DNS_SERVERS: names.address, DELIVERY_TIMEOUT_MS: '3000' });
    const { apiKey } = await app.newWorkspace();
    // A new connection for each request: each delivery resolves and connects afresh.
    const healthy = await createReceiver(() => ({ status: 200, headers: { connection: 'close' } }));
    for (const url of [`http://receiver.ok.test:${healthy.port}/hooks`, `http://localhost:${healthy.port}/hooks`]) {
      await app.graphql(REGISTER, { apiKey, variables: { input: validWebhook({ url, agentId: 'both' }) } });
    }
    app.startWorker();
    await app.graphql(PUBLISH, { apiKey, variables: { input: conversationEnded('both') } });
    await healthy.waitFor(2, 5000);

    const release = await occupyThreadPool();
    try {
      await app.graphql(PUBLISH, { apiKey, variables: { input: conversationEnded('both') } });
      // getaddrinfo would wait for a thread until the pool is let go (never, here).
      await healthy.waitFor(4, 2000);
    } finally {
      await release();
    }
  });
});

describe('a name that does not resolve', () => {
  it('fails its attempt with "dns timeout" within DELIVERY_TIMEOUT_MS, or "dns: name not found", counted against its webhook only', async () => {
    const names = await nameServer();
    // No DNS_TIMEOUT_MS: half the delivery timeout.
    const app = await createTestApp({ DNS_SERVERS: names.address, DELIVERY_TIMEOUT_MS: '1000' });
    const { apiKey, workspaceId } = await app.newWorkspace();
    const healthy = await createReceiver();
    const register = async (url: string, agentId: string) => {
      const res = await app.graphql(REGISTER, { apiKey, variables: { input: validWebhook({ url, agentId }) } });
      return res.data?.registerWebhook.id as string;
    };
    const silent = await register('https://never.silent.test/hooks', 'same');
    const missing = await register('https://gone.missing.test/hooks', 'same');
    const byName = await register(`http://receiver.ok.test:${healthy.port}/hooks`, 'same');
    const metrics = createMetrics();
    app.startWorker({ metrics });
    await app.graphql(PUBLISH, { apiKey, variables: { input: conversationEnded('same') } });

    const timedOut = await firstAttempt(app, apiKey, silent);
    expect(timedOut).toMatchObject({ error: 'dns timeout', statusCode: null });
    expect(timedOut.durationMs).toBeGreaterThanOrEqual(450);
    expect(timedOut.durationMs).toBeLessThanOrEqual(1000);
    expect(await firstAttempt(app, apiKey, missing)).toMatchObject({ error: 'dns: name not found' });
    expect(await firstAttempt(app, apiKey, byName)).toMatchObject({ error: null, statusCode: 200 });
    expect(healthy.received).toHaveLength(1);

    const failures = await app.sql<{ id: string; consecutiveFailures: number }[]>`
      select id, consecutive_failures as "consecutiveFailures" from webhooks where workspace_id = ${workspaceId}`;
    expect(Object.fromEntries(failures.map((w) => [w.id, w.consecutiveFailures]))).toEqual({
      [silent]: 1,
      [missing]: 1,
      [byName]: 0,
    });

    const lookups = await metrics.registry.getSingleMetricAsString('webhook_dns_lookups_total');
    for (const outcome of ['ok', 'timeout', 'not_found']) expect(lookups).toContain(`outcome="${outcome}"} 1`);
    const durations = await metrics.registry.getSingleMetricAsString('webhook_dns_lookup_duration_seconds');
    expect(durations).toContain('webhook_dns_lookup_duration_seconds_count{outcome="timeout"} 1');
  });

  it('does not stop a name in the hosts file (localhost) from delivering', async () => {
    const names = await nameServer();
    const app = await createTestApp({ DNS_SERVERS: names.address, DELIVERY_TIMEOUT_MS: '1000' });
    const { apiKey } = await app.newWorkspace();
    const healthy = await createReceiver();
    const res = await app.graphql(REGISTER, {
      apiKey,
      variables: { input: validWebhook({ url: `http://localhost:${healthy.port}/hooks`, agentId: 'local' }) },
    });
    app.startWorker();
    await app.graphql(PUBLISH, { apiKey, variables: { input: conversationEnded('local') } });
    expect(await firstAttempt(app, apiKey, res.data?.registerWebhook.id)).toMatchObject({ statusCode: 200 });
    expect(names.questions).toHaveLength(0);
  });
});

describe('addresses from the name server', () => {
  it('are vetted before connecting: a name answering 127.0.0.1 is refused without a request', async () => {
    const names = await nameServer();
    const app = await createTestApp({ DNS_SERVERS: names.address, ALLOW_PRIVATE_TARGETS: 'false' });
    const { apiKey } = await app.newWorkspace();
    const receiver = await createReceiver();
    const res = await app.graphql(REGISTER, {
      apiKey,
      variables: { input: validWebhook({ url: `http://inside.ok.test:${receiver.port}/hooks`, agentId: 'in' }) },
    });
    app.startWorker();
    await app.graphql(PUBLISH, { apiKey, variables: { input: conversationEnded('in') } });
    expect(await firstAttempt(app, apiKey, res.data?.registerWebhook.id)).toMatchObject({
      error: 'refused: inside.ok.test does not resolve to a public address',
    });
    expect(names.asked('inside.ok.test')).toBeGreaterThanOrEqual(1);
    expect(receiver.received).toHaveLength(0);
  });
});
