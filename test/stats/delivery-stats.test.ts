import { beforeAll, describe, expect, it } from 'vitest';
import { durationBucket, percentile } from '../../src/lib/histogram.js';
import { pruneRollups, readDeliveryStats } from '../../src/stats/store.js';
import { startRetention } from '../../src/worker/retention.js';
import { createTestApp, type TestApp } from '../support/app.js';
import { conversationEnded, PUBLISH, REGISTER, validWebhook } from '../support/operations.js';
import { createReceiver, eventually } from '../support/receiver.js';

/** Query.deliveryStats: attempts by outcome and duration, read from the rollups the outcome batches write. */
let app: TestApp;
beforeAll(async () => {
  // A failed attempt is retried only in an hour: each delivery here makes exactly one attempt.
  app = await createTestApp({ DELIVERY_RETRY_SCHEDULE: '1h', CIRCUIT_BREAKER_FAILURES: '1000' });
  app.startWorker();
});

const STATS = `query Stats($webhookId: ID, $since: DateTime!, $until: DateTime, $interval: StatsInterval!) {
  deliveryStats(webhookId: $webhookId, since: $since, until: $until, interval: $interval) {
    attempts succeeded failed successRate p50Ms p95Ms
    buckets { start attempts succeeded failed p50Ms p95Ms }
  }
}`;

type Bucket = { start: string; attempts: number; succeeded: number; failed: number; p50Ms: number | null };
type Stats = {
  attempts: number;
  succeeded: number;
  failed: number;
  successRate: number | null;
  p50Ms: number | null;
  p95Ms: number | null;
  buckets: Bucket[];
};

const ago = (ms: number) => new Date(Date.now() - ms).toISOString();
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

async function stats(apiKey: string, variables: Record<string, unknown>): Promise<Stats> {
  const res = await app.graphql<{ deliveryStats: Stats }>(STATS, { apiKey, variables });
  expect(res.errors).toBeUndefined();
  return res.data?.deliveryStats as Stats;
}

/** The attempts as the attempt log has them: what the rollups must agree with. */
async function attemptsOf(workspaceId: string, webhookId?: string) {
  return app.sql<{ attemptedAt: Date; durationMs: number; statusCode: number | null }[]>`
    select a.attempted_at, a.duration_ms, a.status_code from delivery_attempts a
    join deliveries d on d.id = a.delivery_id
    where d.workspace_id = ${workspaceId} ${webhookId ? app.sql`and d.webhook_id = ${webhookId}` : app.sql``}`;
}

/** Nearest-rank percentile of exact durations. */
function exactPercentile(durations: number[], q: number): number {
  const sorted = [...durations].sort((a, b) => a - b);
  return sorted[Math.max(1, Math.ceil(q * sorted.length)) - 1] as number;
}

/** The histogram's promise: within 15% of the exact value, give or take 1 ms of rounding. */
function expectWithinPrecision(reported: number | null, exact: number) {
  expect(reported).not.toBeNull();
  expect(Math.abs((reported as number) - exact)).toBeLessThanOrEqual(0.15 * exact + 1);
}

/** A workspace whose "ok" webhook got 6 deliveries answered 200 after ~30 ms, and "bad" 4 answered 500 after ~150 ms. */
async function workspaceWithTraffic() {
  const { apiKey, workspaceId } = await app.newWorkspace();
  const ok = await createReceiver(() => ({ status: 200, delayMs: 30 }));
  const bad = await createReceiver(() => ({ status: 500, delayMs: 150 }));
  const register = async (agentId: string, url: string) =>
    (await app.graphql(REGISTER, { apiKey, variables: { input: validWebhook({ agentId, url }) } })).data
      ?.registerWebhook as { id: string };
  const okHook = await register('agent-ok', ok.url);
  const badHook = await register('agent-bad', bad.url);
  for (let i = 0; i < 6; i++)
    await app.graphql(PUBLISH, { apiKey, variables: { input: conversationEnded('agent-ok') } });
  for (let i = 0; i < 4; i++)
    await app.graphql(PUBLISH, { apiKey, variables: { input: conversationEnded('agent-bad') } });
  await eventually(async () => (await attemptsOf(workspaceId)).length === 10);
  return { apiKey, workspaceId, okHook, badHook };
}

let traffic: Awaited<ReturnType<typeof workspaceWithTraffic>>;
beforeAll(async () => {
  traffic = await workspaceWithTraffic();
});

describe('deliveryStats', () => {
  it('counts attempts by outcome, with the success rate and percentiles within the histogram precision', async () => {
    const { apiKey, workspaceId } = traffic;
    const s = await stats(apiKey, { since: ago(HOUR), interval: 'HOUR' });
    expect(s).toMatchObject({ attempts: 10, succeeded: 6, failed: 4 });
    expect(s.successRate).toBeCloseTo(0.6, 10);
    const durations = (await attemptsOf(workspaceId)).map((a) => a.durationMs);
    expectWithinPrecision(s.p50Ms, exactPercentile(durations, 0.5));
    expectWithinPrecision(s.p95Ms, exactPercentile(durations, 0.95));
    // The slow failures are the top of the distribution, the fast successes its middle.
    expect(s.p95Ms).toBeGreaterThan(s.p50Ms as number);
  });

  it('puts each attempt in the bucket of its minute, hour and day, every bucket of the period listed', async () => {
    const { apiKey, workspaceId } = traffic;
    const attempts = await attemptsOf(workspaceId);
    const expected = (periodMs: number) => {
      const counts = new Map<string, number>();
      for (const a of attempts) {
        const start = new Date(Math.floor(a.attemptedAt.getTime() / periodMs) * periodMs).toISOString();
        counts.set(start, (counts.get(start) ?? 0) + 1);
      }
      return counts;
    };
    const until = new Date(Date.now() + 1000).toISOString();
    for (const [interval, periodMs, since] of [
      ['MINUTE', MINUTE, ago(10 * MINUTE)],
      ['HOUR', HOUR, ago(5 * HOUR)],
      ['DAY', DAY, ago(3 * DAY)],
    ] as const) {
      const s = await stats(apiKey, { since, until, interval });
      const starts = s.buckets.map((b) => Date.parse(b.start));
      // Consecutive, aligned, from `since` rounded down to `until`.
      expect(starts[0]).toBe(Math.floor(Date.parse(since) / periodMs) * periodMs);
      for (let i = 1; i < starts.length; i++) expect((starts[i] as number) - (starts[i - 1] as number)).toBe(periodMs);
      expect((starts.at(-1) as number) + periodMs).toBeGreaterThanOrEqual(Date.parse(until));
      const counted = new Map(s.buckets.filter((b) => b.attempts > 0).map((b) => [b.start, b.attempts]));
      expect(counted).toEqual(expected(periodMs));
      for (const b of s.buckets) expect(b.succeeded + b.failed).toBe(b.attempts);
    }
  });

  it("counts one webhook's attempts when webhookId is given", async () => {
    const { apiKey, okHook, badHook } = traffic;
    const ok = await stats(apiKey, { webhookId: okHook.id, since: ago(HOUR), interval: 'MINUTE' });
    expect(ok).toMatchObject({ attempts: 6, succeeded: 6, failed: 0, successRate: 1 });
    const bad = await stats(apiKey, { webhookId: badHook.id, since: ago(HOUR), interval: 'MINUTE' });
    expect(bad).toMatchObject({ attempts: 4, succeeded: 0, failed: 4, successRate: 0 });
    // The failures answered after ~150 ms: their median says so, within the precision.
    const exact = (await attemptsOf(traffic.workspaceId, badHook.id)).map((a) => a.durationMs);
    expectWithinPrecision(bad.p50Ms, exactPercentile(exact, 0.5));
    expect(bad.p50Ms).toBeGreaterThanOrEqual(100);
  });

  it("keeps workspaces apart: another workspace sees none of these attempts, nor a webhook's by its id", async () => {
    const other = await app.newWorkspace();
    const own = await stats(other.apiKey, { since: ago(HOUR), interval: 'HOUR' });
    expect(own).toMatchObject({ attempts: 0, succeeded: 0, failed: 0, successRate: null, p50Ms: null, p95Ms: null });
    const foreign = await stats(other.apiKey, { webhookId: traffic.okHook.id, since: ago(HOUR), interval: 'HOUR' });
    expect(foreign.attempts).toBe(0);
    const malformed = await stats(other.apiKey, { webhookId: 'not-a-webhook', since: ago(HOUR), interval: 'HOUR' });
    expect(malformed.attempts).toBe(0);
  });

  it("counts only some agents' attempts for a caller scoped to them (the store's agentIds filter)", async () => {
    const query = { workspaceId: traffic.workspaceId, since: new Date(Date.now() - HOUR), until: new Date() };
    const scoped = await readDeliveryStats(app.sql, { ...query, interval: 'hour', agentIds: ['agent-bad'] });
    expect(scoped.buckets.reduce((n, b) => n + b.attempts, 0)).toBe(4);
    const none = await readDeliveryStats(app.sql, { ...query, interval: 'hour', agentIds: ['someone-else'] });
    expect(none.buckets.reduce((n, b) => n + b.attempts, 0)).toBe(0);
  });

  it('writes one rollup row per webhook per minute, not one per attempt', async () => {
    const [row] = await app.sql<{ rows: number; attempts: number }[]>`
      select count(*)::int as rows, sum(attempts)::int as attempts from delivery_stats_minute
      where webhook_id = ${traffic.okHook.id}`;
    const minutes = new Set(
      (await attemptsOf(traffic.workspaceId, traffic.okHook.id)).map((a) =>
        Math.floor(a.attemptedAt.getTime() / MINUTE),
      ),
    );
    expect(row).toEqual({ rows: minutes.size, attempts: 6 });
  });

  it('refuses bad arguments with BAD_USER_INPUT naming the argument', async () => {
    const { apiKey } = traffic;
    const backwards = await app.graphql(STATS, {
      apiKey,
      variables: { since: ago(MINUTE), until: ago(2 * MINUTE), interval: 'MINUTE' },
    });
    expect(backwards.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', issues: [{ path: ['since'] }] });
    const tooMany = await app.graphql(STATS, { apiKey, variables: { since: ago(2 * DAY), interval: 'MINUTE' } });
    expect(tooMany.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', issues: [{ path: ['interval'] }] });
    expect(tooMany.errors?.[0]?.message).toMatch(/more than 1440/);
    // The same period in hours is fine.
    expect((await stats(apiKey, { since: ago(2 * DAY), interval: 'HOUR' })).buckets.length).toBeGreaterThanOrEqual(48);
    const notADate = await app.graphql(STATS, { apiKey, variables: { since: 'yesterday', interval: 'HOUR' } });
    expect(notADate.errors?.[0]?.message).toMatch(/\$since/);
    const noInterval = await app.graphql(STATS, { apiKey, variables: { since: ago(HOUR), interval: 'WEEK' } });
    expect(noInterval.errors?.[0]?.message).toMatch(/\$interval/);
  });

  it('drops rollup rows older than retention, with the retention job', async () => {
    const { workspaceId, okHook } = traffic;
    const old = (table: 'delivery_stats_minute' | 'delivery_stats_hour') => app.sql`
      insert into ${app.sql(table)} (webhook_id, starts_at, workspace_id, agent_id, attempts, succeeded, failed, durations)
      values (${okHook.id}, date_trunc('hour', now()) - interval '40 days', ${workspaceId}, 'agent-ok', 1, 1, 0,
        array_fill(0, array[42]))`;
    await old('delivery_stats_minute');
    await old('delivery_stats_hour');
    const oldRows = async () => {
      const [row] = await app.sql<{ n: number }[]>`
        select (select count(*) from delivery_stats_minute where starts_at < now() - interval '30 days')
          + (select count(*) from delivery_stats_hour where starts_at < now() - interval '30 days') as n`;
      return Number(row?.n);
    };
    expect(await oldRows()).toBe(2);
    const stop = startRetention(app.sql, { retentionMs: 30 * DAY, intervalMs: 60_000, log: app.log });
    try {
      await eventually(async () => (await oldRows()) === 0);
    } finally {
      await stop();
    }
    // This hour's rows stay.
    expect((await stats(traffic.apiKey, { since: ago(HOUR), interval: 'HOUR' })).attempts).toBe(10);
    expect(await pruneRollups(app.sql, new Date(Date.now() - 30 * DAY))).toBe(0);
  });
});

describe('the duration histogram', () => {
  it('reports percentiles within 15% (give or take 1 ms) across its whole range', () => {
    for (const ms of [0, 1, 2, 7, 30, 99, 150, 1234, 9_999, 59_999]) {
      // A single attempt: its percentile is its bucket's middle.
      const histogram = new Array(42).fill(0);
      histogram[durationBucket(ms)] = 1;
      const reported = percentile(histogram, 0.5) as number;
      expect(Math.abs(reported - ms)).toBeLessThanOrEqual(0.15 * ms + 1);
    }
  });
});
