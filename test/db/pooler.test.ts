import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { revokeApiKey } from '../../src/auth/api-keys.js';
import { createTestApp, type TestApp } from '../support/app.js';
import { conversationEnded, PUBLISH, REGISTER, validWebhook } from '../support/operations.js';
import { startPgBouncer } from '../support/pgbouncer.js';
import { whenReady } from '../support/processes.js';
import { createReceiver, sleep } from '../support/receiver.js';
import { subscribe } from '../support/sse.js';

/**
 * The service as operators run it behind a managed pooler: DATABASE_URL through PgBouncer
 * in transaction mode, DATABASE_DIRECT_URL straight to PostgreSQL, a real server process.
 */

const FEED = 'subscription { deliveryUpdates { id status } }';
const REQUEST_TIMEOUT_MS = 1_000;
// The worker's safety-net poll (worker.ts): what wake-ups fall back to when NOTIFY is not heard.
const POLL_INTERVAL_MS = 1_000;

let app: TestApp;
let pooledUrl: string;
let server: ReturnType<TestApp['spawnServer']>;
let base: string;

beforeAll(async () => {
  app = await createTestApp();
  pooledUrl = (await startPgBouncer(app.db.url)).url;
  server = app.spawnServer(
    {
      DATABASE_URL: pooledUrl,
      DATABASE_DIRECT_URL: app.db.url,
      REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS),
    },
    /GraphQL API and GraphiQL at http:\/\/localhost:(\d+)\//,
  );
  const [, port] = await server.started;
  base = await whenReady(server, `http://127.0.0.1:${port}`);
}, 90_000);

afterAll(async () => {
  server?.signal('SIGTERM');
  await server?.exited;
});

async function graphql(query: string, apiKey: string, variables?: Record<string, unknown>, timeoutMs = 10_000) {
  const response = await fetch(`${base}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': apiKey },
    body: JSON.stringify({ query, variables }),
    signal: AbortSignal.timeout(timeoutMs),
  });
  return { status: response.status, ...((await response.json()) as { data?: any; errors?: any[] }) };
}

describe('behind PgBouncer in transaction mode, with DATABASE_DIRECT_URL', () => {
  it('serves, and /metrics shows its listening session connected', async () => {
    const { apiKey } = await app.newWorkspace();
    expect((await graphql('{ webhooks { totalCount } }', apiKey)).data).toEqual({ webhooks: { totalCount: 0 } });
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/^database_listener_connected 1$/m);
    expect(metrics).toMatch(/^database_listener_reconnects_total 0$/m);
  });

  it('a revoked key stops working, and its open stream ends, within a second', async () => {
    const { apiKey, keyId } = await app.newWorkspace();
    // Cached by the server: from now on only a heard revocation makes it refuse the key.
    expect((await graphql('{ webhooks { totalCount } }', apiKey)).status).toBe(200);
    const stream = await subscribe(`${base}/graphql`, FEED, { apiKey });
    expect(stream.status).toBe(200);
    await sleep(200);

    const revokedAt = performance.now();
    expect(await revokeApiKey(app.sql, keyId)).toBe(true);
    let refusedAfter = Number.POSITIVE_INFINITY;
    while (performance.now() - revokedAt < 3_000) {
      if ((await graphql('{ webhooks { totalCount } }', apiKey)).status === 401) {
        refusedAfter = performance.now() - revokedAt;
        break;
      }
      await sleep(20);
    }
    await Promise.race([stream.ended, sleep(3_000)]);
    const endedAfter = performance.now() - revokedAt;
    process.stdout.write(
      `[pgbouncer] revoked key refused after ${Math.round(refusedAfter)} ms; stream ended by ${Math.round(endedAfter)} ms\n`,
    );
    expect(refusedAfter).toBeLessThan(1_000);
    expect(endedAfter).toBeLessThan(1_500);
    expect(stream.events.at(-1)?.errors?.[0]).toMatchObject({ extensions: { code: 'UNAUTHENTICATED' } });
  });

  it('the live feed streams delivery updates, and the worker wakes within milliseconds of a publish', async () => {
    const { apiKey } = await app.newWorkspace();
    const receiver = await createReceiver();
    await graphql(REGISTER, apiKey, { input: validWebhook({ url: receiver.url, agentId: 'pooled' }) });
    const feed = await subscribe(`${base}/graphql`, FEED, { apiKey });
    await sleep(200);

    const latencies: number[] = [];
    for (let i = 0; i < 12; i++) {
      // Spread over the poll interval, so a worker that only polled would average half of it.
      await sleep(137);
      const publishedAt = Date.now();
      const published = await graphql(PUBLISH, apiKey, { input: conversationEnded('pooled') });
      expect(published.errors).toBeUndefined();
      await receiver.waitFor(i + 1, 5_000);
      latencies.push((receiver.received[i]?.at ?? Number.NaN) - publishedAt);
    }
    const sorted = [...latencies].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)] as number;
    process.stdout.write(
      `[pgbouncer] publish → receipt: median ${median} ms, max ${sorted.at(-1)} ms (poll interval ${POLL_INTERVAL_MS} ms)\n`,
    );
    expect(median).toBeLessThan(POLL_INTERVAL_MS / 5);

    await feed.until(
      (events) => events.filter((e) => e.data?.deliveryUpdates.status === 'SUCCEEDED').length >= 12,
      10_000,
    );
    await feed.close();
  });

  /**
   * Holds an exclusive lock on `table` from a direct session while `act` runs; answers what
   * `act` answered, how long it took, and how many statements named `statement` still wait.
   */
  async function whileLocked<T>(table: 'webhooks' | 'events', statement: string, act: () => Promise<T>) {
    let release = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let locked = () => {};
    const isLocked = new Promise<void>((resolve) => {
      locked = resolve;
    });
    const waiters = async () => {
      const [row] = await app.sql`select count(*)::int as n from pg_locks l join pg_stat_activity a using (pid)
        where l.relation = ${table}::regclass and not l.granted and a.query like ${`/* ${statement} */%`}`;
      return row?.n as number;
    };
    const holder = app.sql.begin(async (tx) => {
      await tx.unsafe(`lock table ${table} in access exclusive mode`);
      locked();
      await held;
    });
    await isLocked;
    try {
      const started = performance.now();
      const result = await act();
      // Still locked: a statement the server merely gave up on would still be waiting here.
      return { result, ms: performance.now() - started, waitingAfter: await waiters() };
    } finally {
      release();
      await holder;
    }
  }

  it('REQUEST_TIMEOUT_MS cuts off a statement in the database, inside a transaction or not', async () => {
    const { apiKey, workspaceId } = await app.newWorkspace();
    await graphql(REGISTER, apiKey, { input: validWebhook({ agentId: 'slow' }) });
    // A single statement: registering inserts one row.
    const register = await whileLocked('webhooks', 'webhooks.insert', () =>
      graphql(REGISTER, apiKey, { input: validWebhook({ agentId: 'slow' }) }),
    );
    // A transaction: publishing writes the event and its deliveries together.
    const publish = await whileLocked('events', 'events.insert', () =>
      graphql(PUBLISH, apiKey, { input: conversationEnded('slow') }),
    );
    process.stdout.write(
      `[pgbouncer] statements cut off after ${Math.round(register.ms)} ms (statement) and ${Math.round(publish.ms)} ms (transaction); REQUEST_TIMEOUT_MS ${REQUEST_TIMEOUT_MS}\n`,
    );
    for (const { result, ms, waitingAfter } of [register, publish]) {
      expect(result.status).toBe(503);
      expect(result.errors?.[0]?.extensions?.code).toBe('REQUEST_TIMEOUT');
      expect(ms).toBeGreaterThanOrEqual(REQUEST_TIMEOUT_MS * 0.9);
      expect(ms).toBeLessThan(REQUEST_TIMEOUT_MS * 4);
      expect(waitingAfter).toBe(0);
    }
    // Nothing of either was written, and the server answers on.
    const [events] = await app.sql`select count(*)::int as n from events where workspace_id = ${workspaceId}`;
    expect(events?.n).toBe(0);
    expect((await graphql('{ webhooks { totalCount } }', apiKey)).data).toEqual({ webhooks: { totalCount: 1 } });
  });
});

describe('the start-up check of the URLs', () => {
  async function startFails(env: Record<string, string>) {
    // Logs off: what is left is the line the process ends with.
    const proc = app.spawnServer({ LOG_LEVEL: 'silent', ...env }, /GraphQL API and GraphiQL at/);
    const code = await proc.exited;
    const lines = proc
      .output()
      .split('\n')
      .filter((line) => line.trim() !== '');
    return { code, lines };
  }

  it('names DATABASE_DIRECT_URL when DATABASE_URL is a transaction pooler and no direct URL is given', async () => {
    const { code, lines } = await startFails({ DATABASE_URL: pooledUrl, DATABASE_DIRECT_URL: '' });
    expect(code).toBe(1);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/DATABASE_URL .*transaction pooler.*set DATABASE_DIRECT_URL/);
  });

  it('names DATABASE_DIRECT_URL when it, too, leads to the pooler (LISTEN hears nothing there)', async () => {
    const { code, lines } = await startFails({ DATABASE_URL: app.db.url, DATABASE_DIRECT_URL: pooledUrl });
    expect(code).toBe(1);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/LISTEN on DATABASE_DIRECT_URL did not hear a NOTIFY/);
  }, 30_000);
});
