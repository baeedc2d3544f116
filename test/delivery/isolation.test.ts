import { beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../support/app.js';
import { conversationEnded, PUBLISH, REGISTER, validWebhook } from '../support/operations.js';
import { createReceiver } from '../support/receiver.js';

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
    const app = await createTestApp({ DELIVERY_TIMEOUT_MS: '5000' });
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
    // Long before the hung attempts time out (5 s): nothing waited for them.
    expect(Date.now() - started).toBeLessThan(2500);
    // The noisy workspace holds its share of the slots, no more, spread over its webhooks.
    const sent = blackHoles.map((hole) => hole.received.length);
    expect(sent.reduce((a, b) => a + b, 0)).toBe(4);
    expect(Math.max(...sent)).toBe(1);
  });
});
