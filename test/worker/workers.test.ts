import { beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../support/app.js';
import { conversationEnded, REGISTER, validWebhook } from '../support/operations.js';
import { createReceiver, eventually } from '../support/receiver.js';

/**
 * Real worker processes (`src/main.ts` with ROLE=worker) on the test database: killed
 * with SIGKILL mid-batch, and two at once.
 */
let app: TestApp;
const TIMEOUT_MS = 500;
const CONCURRENCY = 16;

beforeAll(async () => {
  app = await createTestApp();
});

function startWorkerProcess(env: Record<string, string> = {}) {
  return app.spawnServer(
    {
      ROLE: 'worker',
      DELIVERY_TIMEOUT_MS: String(TIMEOUT_MS),
      DELIVERY_CONCURRENCY: String(CONCURRENCY),
      // One workspace here: it may use the whole worker.
      DELIVERY_CONCURRENCY_PER_WORKSPACE: String(CONCURRENCY),
      DELIVERY_RETRY_SCHEDULE: '200ms,200ms,200ms',
      ...env,
    },
    /delivery worker started|^/,
  );
}

/** Two webhooks on two receivers that answer after `delayMs`, and `events` events for both. */
async function backlog(events: number, delayMs: number) {
  const { apiKey, workspaceId } = await app.newWorkspace();
  const receivers = [
    await createReceiver(() => ({ status: 200, delayMs })),
    await createReceiver(() => ({ status: 200, delayMs })),
  ];
  const agentId = `agent-${workspaceId}`;
  for (const receiver of receivers) {
    await app.graphql(REGISTER, { apiKey, variables: { input: validWebhook({ url: receiver.url, agentId }) } });
  }
  // Published through the API in parallel batches, to build the backlog quickly.
  for (let i = 0; i < events; i += 50) {
    await Promise.all(
      Array.from({ length: Math.min(50, events - i) }, () =>
        app.graphql(`mutation($input: PublishEventInput!) { publishEvent(input: $input) { id } }`, {
          apiKey,
          variables: { input: conversationEnded(agentId) },
        }),
      ),
    );
  }
  const distinct = () =>
    receivers.reduce((n, r) => n + new Set(r.received.map((x) => x.headers['webhook-id'])).size, 0);
  const total = () => receivers.reduce((n, r) => n + r.received.length, 0);
  const pending = async () =>
    (
      await app.sql`select count(*)::int as n from deliveries where workspace_id = ${workspaceId} and status <> 'succeeded'`
    )[0]?.n as number;
  return { receivers, distinct, total, pending, workspaceId };
}

describe('worker processes', () => {
  it('after a kill -9 mid-batch, a new worker delivers every event; duplicates only for attempts in flight', async () => {
    const work = await backlog(150, 40);
    const first = startWorkerProcess();
    await eventually(async () => work.total() >= 60, 20_000);
    first.signal('SIGKILL');
    await first.exited;
    const sentBeforeKill = work.total();

    const second = startWorkerProcess();
    try {
      await eventually(async () => work.distinct() === 300 && (await work.pending()) === 0, 40_000, 100);
    } finally {
      second.signal('SIGTERM');
      await second.exited;
    }
    const duplicates = work.total() - work.distinct();
    // Re-sent: only what the killed worker had in flight or had not yet recorded.
    expect(duplicates).toBeLessThanOrEqual(CONCURRENCY * 2);
    expect(sentBeforeKill).toBeLessThan(300);
    const [stuck] =
      await app.sql`select count(*)::int as n from deliveries where status = 'pending' and next_attempt_at < now()`;
    expect(stuck?.n).toBe(0);
  }, 90_000);

  it('after a kill -9 while the circuit is open and its probe is in flight, nothing is lost', async () => {
    const { apiKey } = await app.newWorkspace();
    let answer: 'fail' | 'hang' | 'ok' = 'fail';
    const receiver = await createReceiver(() =>
      answer === 'fail' ? { status: 500 } : answer === 'hang' ? { hang: true } : { status: 200 },
    );
    const res = await app.graphql(REGISTER, {
      apiKey,
      variables: { input: validWebhook({ url: receiver.url, agentId: 'breaker' }) },
    });
    const id = res.data?.registerWebhook.id as string;
    for (let i = 0; i < 10; i++) {
      await app.graphql(`mutation($input: PublishEventInput!) { publishEvent(input: $input) { id } }`, {
        apiKey,
        variables: { input: conversationEnded('breaker') },
      });
    }
    const breakerEnv = {
      CIRCUIT_BREAKER_FAILURES: '2',
      CIRCUIT_BREAKER_PROBE_INTERVAL: '200ms',
      DELIVERY_RETRY_SCHEDULE: Array(30).fill('50ms').join(','),
      // Longer than the kill takes; its lease (2 × timeout + 5 s) is what the next worker waits out.
      DELIVERY_TIMEOUT_MS: '2000',
    };
    const circuitOpen = async () =>
      (await app.sql`select circuit_opened_at from webhooks where id = ${id}`)[0]?.circuitOpenedAt != null;

    const first = startWorkerProcess(breakerEnv);
    await eventually(circuitOpen, 10_000);
    answer = 'hang';
    const before = receiver.received.length;
    await eventually(async () => receiver.received.length > before, 10_000);
    first.signal('SIGKILL');
    await first.exited;

    answer = 'ok';
    // The probe's claim outlives its worker until the lease runs out; then the next worker probes.
    const second = startWorkerProcess(breakerEnv);
    try {
      await eventually(async () => {
        const [row] = await app.sql`
          select count(*) filter (where status = 'succeeded')::int as ok from deliveries where webhook_id = ${id}`;
        return row?.ok === 10;
      }, 30_000);
    } finally {
      second.signal('SIGTERM');
      await second.exited;
    }
    expect(await circuitOpen()).toBe(false);
    const delivered = new Set(receiver.received.filter((_, i) => i > before).map((r) => r.headers['webhook-id']));
    expect(delivered.size).toBe(10);
  }, 60_000);

  it('on SIGTERM stops claiming, hands back what is still in flight after the grace period, and exits 0; the rest is delivered later', async () => {
    const { apiKey, workspaceId } = await app.newWorkspace();
    let answering = false;
    const receiver = await createReceiver(() => (answering ? { status: 200 } : { hang: true }));
    await app.graphql(REGISTER, {
      apiKey,
      variables: { input: validWebhook({ url: receiver.url, agentId: 'graceful' }) },
    });
    for (let i = 0; i < 20; i++) {
      await app.graphql(`mutation($input: PublishEventInput!) { publishEvent(input: $input) { id } }`, {
        apiKey,
        variables: { input: conversationEnded('graceful') },
      });
    }
    const worker = startWorkerProcess({
      DELIVERY_TIMEOUT_MS: '20000',
      SHUTDOWN_GRACE_MS: '300',
      DELIVERY_CONCURRENCY_PER_WEBHOOK: '8',
    });
    await receiver.waitFor(8);
    const signalledAt = Date.now();
    worker.signal('SIGTERM');
    expect(await worker.exited).toBe(0);
    expect(worker.output()).toMatch(/"released":8,"msg":"stopped"/);
    // Stopped well before the 20 s timeout of the hanging attempts.
    expect(Date.now() - signalledAt).toBeLessThan(10_000);
    const [held] = await app.sql`
      select count(*)::int as n from deliveries
      where workspace_id = ${workspaceId} and status = 'pending' and claim_token is null and next_attempt_at <= now()`;
    expect(held?.n).toBe(20);

    answering = true;
    const next = startWorkerProcess();
    try {
      await eventually(async () => {
        const [row] =
          await app.sql`select count(*)::int as n from deliveries where workspace_id = ${workspaceId} and status = 'succeeded'`;
        return row?.n === 20;
      }, 20_000);
    } finally {
      next.signal('SIGTERM');
      await next.exited;
    }
  }, 60_000);

  it('two workers on one database deliver every event exactly once', async () => {
    // Both running before the first event, so that both take part (one that was still loading
    // could find the backlog already drained by the other).
    const workers = [startWorkerProcess(), startWorkerProcess()];
    let workspaceId = '';
    try {
      await Promise.all(workers.map((w) => w.waitFor(/delivery worker started/, 60_000)));
      const work = await backlog(150, 5);
      workspaceId = work.workspaceId;
      await eventually(async () => work.distinct() === 300 && (await work.pending()) === 0, 40_000, 100);
      expect(work.total()).toBe(300);
    } finally {
      for (const worker of workers) worker.signal('SIGTERM');
      await Promise.all(workers.map((w) => w.exited));
    }
    // Exactly once on the attempt log too: one attempt per delivery, none recorded twice.
    const [attempts] = await app.sql`
      select count(*)::int as n from delivery_attempts a join deliveries d on d.id = a.delivery_id
      where d.workspace_id = ${workspaceId}`;
    expect(attempts?.n).toBe(300);
  }, 90_000);
});
