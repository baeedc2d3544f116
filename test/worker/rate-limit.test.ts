import { beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../support/app.js';
import { conversationEnded, PUBLISH, REGISTER, UPDATE, validWebhook } from '../support/operations.js';
import { createReceiver, eventually } from '../support/receiver.js';

let app: TestApp;
beforeAll(async () => {
  app = await createTestApp();
});

/** The most requests in any window of `ms` starting at a request. */
function busiestWindow(times: number[], ms: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  let most = 0;
  for (let i = 0, j = 0; i < sorted.length; i++) {
    while (j < sorted.length && (sorted[j] as number) < (sorted[i] as number) + ms) j++;
    most = Math.max(most, j - i);
  }
  return most;
}

describe('rateLimitPerSecond', () => {
  it('holds across two worker processes; an unlimited webhook of the same workspace is not slowed', async () => {
    const RATE = 5;
    const EVENTS = 20;
    const { apiKey } = await app.newWorkspace();
    const limited = await createReceiver();
    const free = await createReceiver();
    const res = await app.graphql(REGISTER, {
      apiKey,
      variables: { input: validWebhook({ url: limited.url, agentId: 'limited', rateLimitPerSecond: RATE }) },
    });
    expect(res.errors).toBeUndefined();
    await app.graphql(REGISTER, { apiKey, variables: { input: validWebhook({ url: free.url, agentId: 'free' }) } });
    for (let i = 0; i < EVENTS; i++) {
      await app.graphql(PUBLISH, { apiKey, variables: { input: conversationEnded('limited') } });
      await app.graphql(PUBLISH, { apiKey, variables: { input: conversationEnded('free') } });
    }

    const workers = [0, 1].map(() => app.spawnServer({ ROLE: 'worker' }, /delivery worker started/));
    await Promise.all(workers.map((w) => w.started));
    const started = Date.now();
    try {
      await free.waitFor(EVENTS, 5000);
      const freeDone = Date.now() - started;
      await limited.waitFor(EVENTS, 15_000);
      const times = limited.received.map((r) => r.at);
      // 20 at 5/s: one every 200 ms (3.8 s; the first may go late), whichever worker sends them.
      expect(Math.max(...times) - Math.min(...times)).toBeGreaterThan(3400);
      // The limit, plus its burst of 1 (headroom for a send that goes late), as received and
      // as sent (the attempt log).
      expect(busiestWindow(times, 1000)).toBeLessThanOrEqual(RATE + 1);
      // The unlimited webhook's 40 went at once.
      expect(freeDone).toBeLessThan(1500);
      // Waiting for the limit is not failing: one attempt per delivery, each a success.
      await eventually(async () => {
        const [row] = await app.sql`
          select count(*)::int as n, count(*) filter (where a.status_code = 200)::int as ok
          from delivery_attempts a join deliveries d on d.id = a.delivery_id
          join webhooks w on w.id = d.webhook_id where w.agent_id = 'limited'`;
        return row?.n === EVENTS && row?.ok === EVENTS;
      });
      const sent = await app.sql<{ at: Date }[]>`
        select a.attempted_at as at from delivery_attempts a join deliveries d on d.id = a.delivery_id
        join webhooks w on w.id = d.webhook_id where w.agent_id = 'limited' order by 1`;
      expect(
        busiestWindow(
          sent.map((a) => a.at.getTime()),
          1000,
        ),
      ).toBeLessThanOrEqual(RATE + 1);
    } finally {
      for (const w of workers) w.signal('SIGTERM');
      await Promise.all(workers.map((w) => w.exited));
    }
  }, 30_000);

  it('is 1 to 10000 or null: other values are BAD_USER_INPUT naming the field, and nothing is written', async () => {
    const { apiKey } = await app.newWorkspace();
    for (const rateLimitPerSecond of [0, -1, 10_001]) {
      const res = await app.graphql(REGISTER, {
        apiKey,
        variables: { input: validWebhook({ agentId: 'bad-rate', rateLimitPerSecond }) },
      });
      expect(res.errors?.[0]?.extensions).toMatchObject({
        code: 'BAD_USER_INPUT',
        issues: [{ path: ['input', 'rateLimitPerSecond'], message: 'must be 1 to 10000, or null for no limit' }],
      });
    }
    const [count] = await app.sql`select count(*)::int as n from webhooks where agent_id = 'bad-rate'`;
    expect(count?.n).toBe(0);

    const created = await app.graphql(REGISTER, {
      apiKey,
      variables: { input: validWebhook({ agentId: 'rate', rateLimitPerSecond: 50 }) },
    });
    const id = created.data?.registerWebhook.id as string;
    const rate = `query($id: ID!) { webhook(id: $id) { rateLimitPerSecond } }`;
    expect((await app.graphql(rate, { apiKey, variables: { id } })).data?.webhook.rateLimitPerSecond).toBe(50);
    await app.graphql(UPDATE, { apiKey, variables: { id, input: { rateLimitPerSecond: 20_000 } } });
    expect((await app.graphql(rate, { apiKey, variables: { id } })).data?.webhook.rateLimitPerSecond).toBe(50);
    await app.graphql(UPDATE, { apiKey, variables: { id, input: { rateLimitPerSecond: null } } });
    expect((await app.graphql(rate, { apiKey, variables: { id } })).data?.webhook.rateLimitPerSecond).toBeNull();
  });
});
