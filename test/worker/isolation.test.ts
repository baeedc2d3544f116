import { beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../support/app.js';
import { congestLoop } from '../support/congestion.js';
import { conversationEnded, PUBLISH, REGISTER, validWebhook } from '../support/operations.js';
import { createReceiver, eventually, sleep } from '../support/receiver.js';

let app: TestApp;
beforeAll(async () => {
  app = await createTestApp({ DELIVERY_TIMEOUT_MS: '5000' });
});

describe('one dead endpoint', () => {
  it('does not hold back deliveries to a healthy one', async () => {
    const { apiKey } = await app.newWorkspace();
    const blackHole = await createReceiver(() => ({ hang: true }));
    const healthy = await createReceiver();
    await app.graphql(REGISTER, {
      apiKey,
      variables: { input: validWebhook({ url: blackHole.url, agentId: 'dead' }) },
    });
    await app.graphql(REGISTER, { apiKey, variables: { input: validWebhook({ url: healthy.url, agentId: 'alive' }) } });

    // The dead endpoint's backlog is older, so it is first in line.
    for (let i = 0; i < 60; i++)
      await app.graphql(PUBLISH, { apiKey, variables: { input: conversationEnded('dead') } });
    for (let i = 0; i < 30; i++)
      await app.graphql(PUBLISH, { apiKey, variables: { input: conversationEnded('alive') } });

    app.startWorker({ concurrency: 16, perWebhook: 4 });
    await healthy.waitFor(30, 4000);
    // Every healthy delivery arrived while the dead endpoint still held its first requests:
    // none of them has timed out yet, so nothing waited for them.
    const [recorded] = await app.sql`
      select count(*)::int as n from delivery_attempts a join deliveries d on d.id = a.delivery_id
      join webhooks w on w.id = d.webhook_id where w.agent_id = 'dead'`;
    expect(recorded?.n).toBe(0);
    // And the dead endpoint holds no more than its per-webhook share of the worker.
    expect(blackHole.received.length).toBeLessThanOrEqual(4);
  });
});

describe('fair shares across workspaces', () => {
  it("another workspace's hung endpoints hold no more than their share, and never stand in front of this one's deliveries", async () => {
    // Its own app: the worker of the test above would claim these too.
    const app = await createTestApp({ DELIVERY_TIMEOUT_MS: '8000' });
    const noisy = await app.newWorkspace();
    const quiet = await app.newWorkspace();
    const blackHoles = await Promise.all(Array.from({ length: 10 }, () => createReceiver(() => ({ hang: true }))));
    for (const [i, hole] of blackHoles.entries()) {
      await app.graphql(REGISTER, {
        apiKey: noisy.apiKey,
        variables: { input: validWebhook({ url: hole.url, agentId: `hung-${i}` }) },
      });
      for (let j = 0; j < 5; j++)
        await app.graphql(PUBLISH, { apiKey: noisy.apiKey, variables: { input: conversationEnded(`hung-${i}`) } });
    }
    const healthy = await createReceiver();
    await app.graphql(REGISTER, {
      apiKey: quiet.apiKey,
      variables: { input: validWebhook({ url: healthy.url, agentId: 'ok' }) },
    });
    // The noisy workspace's 50 deliveries are older: oldest-first would send them all first.
    for (let i = 0; i < 10; i++)
      await app.graphql(PUBLISH, { apiKey: quiet.apiKey, variables: { input: conversationEnded('ok') } });

    const started = Date.now();
    app.startWorker({ concurrency: 8, perWorkspace: 4, perWebhook: 2 });
    await healthy.waitFor(10, 4000);
    // Long before the hung attempts time out (8 s): nothing waited for them.
    expect(Date.now() - started).toBeLessThan(2500);
    // The noisy workspace holds its share of the slots, spread over its webhooks, and after
    // a second one more: a quarter of its share set aside for attempts that hang.
    const sent = () => blackHoles.map((hole) => hole.received.length);
    const total = () => sent().reduce((a, b) => a + b, 0);
    expect(total()).toBeGreaterThanOrEqual(4);
    await eventually(async () => total() === 5, 4000);
    await sleep(1000);
    expect(total()).toBe(5);
    expect(Math.max(...sent())).toBe(1);
    expect(Date.now() - started).toBeLessThan(8000);
  });
});

describe("a workspace's own hung endpoints", () => {
  it("give their room in the workspace's share back after a second, so its healthy webhooks go on", async () => {
    const app = await createTestApp({ DELIVERY_TIMEOUT_MS: '8000' });
    const { apiKey, workspaceId } = await app.newWorkspace();
    const blackHoles = await Promise.all([0, 1].map(() => createReceiver(() => ({ hang: true }))));
    for (const [i, hole] of blackHoles.entries()) {
      await app.graphql(REGISTER, {
        apiKey,
        variables: { input: validWebhook({ url: hole.url, agentId: `hung-${i}` }) },
      });
      for (let j = 0; j < 3; j++)
        await app.graphql(PUBLISH, { apiKey, variables: { input: conversationEnded(`hung-${i}`) } });
    }
    const healthy = await createReceiver();
    await app.graphql(REGISTER, { apiKey, variables: { input: validWebhook({ url: healthy.url, agentId: 'ok' }) } });
    for (let i = 0; i < 5; i++) await app.graphql(PUBLISH, { apiKey, variables: { input: conversationEnded('ok') } });

    const started = Date.now();
    // Two slots for the workspace, and one more aside (a quarter of two, rounded up). The hung
    // webhooks' deliveries are older: they take both slots first, and the healthy one waits.
    app.startWorker({ concurrency: 16, perWorkspace: 2, perWebhook: 1 });
    await healthy.waitFor(5, 6000);
    // Before the hung attempts time out (8 s): one of them was set aside after a second,
    // and its room went to the healthy webhook.
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    const [recorded] = await app.sql`
      select count(*)::int as n from delivery_attempts a join deliveries d on d.id = a.delivery_id
      join webhooks w on w.id = d.webhook_id where w.workspace_id = ${workspaceId} and w.agent_id like 'hung-%'`;
    expect(recorded?.n ?? 0).toBe(0);
    // A set-aside attempt still holds its webhook's share: one request each, no more.
    expect(blackHoles.map((hole) => hole.received.length)).toEqual([1, 1]);
  });
});

describe('open circuits', () => {
  it("waiting for their probe, do not thin the shares of their workspace's other webhooks", async () => {
    const app = await createTestApp();
    const { apiKey, workspaceId } = await app.newWorkspace();
    const down = await createReceiver(() => ({ status: 500 }));
    for (let i = 0; i < 3; i++) {
      await app.graphql(REGISTER, {
        apiKey,
        variables: { input: validWebhook({ url: down.url, agentId: `down-${i}` }) },
      });
      await app.graphql(PUBLISH, { apiKey, variables: { input: conversationEnded(`down-${i}`) } });
    }
    await app.sql`update webhooks set consecutive_failures = 5, circuit_opened_at = now(),
      next_probe_at = now() + interval '1 hour' where workspace_id = ${workspaceId}`;
    let inFlight = 0;
    let most = 0;
    const healthy = await createReceiver(() => {
      most = Math.max(most, ++inFlight);
      setTimeout(() => inFlight--, 200);
      return { status: 200, delayMs: 200 };
    });
    await app.graphql(REGISTER, { apiKey, variables: { input: validWebhook({ url: healthy.url, agentId: 'ok' }) } });
    for (let i = 0; i < 12; i++) await app.graphql(PUBLISH, { apiKey, variables: { input: conversationEnded('ok') } });

    // Four slots for the workspace. Split over the four webhooks with something due, the healthy
    // one would get one; the three open circuits take nothing for an hour, so it gets all four.
    app.startWorker({ concurrency: 16, perWorkspace: 4, perWebhook: 4 });
    await healthy.waitFor(12, 5000);
    expect(most).toBe(4);
    expect(down.received).toHaveLength(0);
  });
});

describe('a worker sharing its event loop with the API (ROLE=all), the loop congested', () => {
  it("another workspace's hung endpoints, which hold slots without loading the loop, do not stop this one's deliveries", async () => {
    const app = await createTestApp({ DELIVERY_TIMEOUT_MS: '10000' });
    const noisy = await app.newWorkspace();
    const quiet = await app.newWorkspace();
    const blackHoles = await Promise.all(Array.from({ length: 20 }, () => createReceiver(() => ({ hang: true }))));
    for (const [i, hole] of blackHoles.entries()) {
      await app.graphql(REGISTER, {
        apiKey: noisy.apiKey,
        variables: { input: validWebhook({ url: hole.url, agentId: `hung-${i}` }) },
      });
      await app.graphql(PUBLISH, { apiKey: noisy.apiKey, variables: { input: conversationEnded(`hung-${i}`) } });
    }
    const healthy = await createReceiver();
    await app.graphql(REGISTER, {
      apiKey: quiet.apiKey,
      variables: { input: validWebhook({ url: healthy.url, agentId: 'ok' }) },
    });
    app.startWorker({ concurrency: 64, sharesLoopWithApi: true });
    // All twenty hang, and have waited over a second.
    await eventually(async () => blackHoles.every((hole) => hole.received.length === 1), 5_000);
    await sleep(1_200);

    // This process's loop (the worker's) busy in 40 ms pieces, as a flood on a busy server keeps it.
    const congestion = congestLoop();
    try {
      await sleep(400);
      const started = Date.now();
      for (let i = 0; i < 5; i++)
        await app.graphql(PUBLISH, { apiKey: quiet.apiKey, variables: { input: conversationEnded('ok') } });
      await healthy.waitFor(5, 6_000);
      // Long before the hung attempts time out (10 s): nothing waited for them.
      expect(Date.now() - started).toBeLessThan(6_000);
    } finally {
      await congestion.stop();
    }
    const [recorded] = await app.sql`
      select count(*)::int as n from delivery_attempts a join deliveries d on d.id = a.delivery_id
      where d.workspace_id = ${noisy.workspaceId}`;
    expect(recorded?.n ?? 0).toBe(0);
  }, 30_000);
});
