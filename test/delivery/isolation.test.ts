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

describe('hung endpoints that fill every slot', () => {
  it('give their slots back after a second, so healthy deliveries go on long before the timeout', async () => {
    // Its own app: the worker of the test above would claim these too.
    const app = await createTestApp({ DELIVERY_TIMEOUT_MS: '5000' });
    const { apiKey } = await app.newWorkspace();
    const blackHoles = [await createReceiver(() => ({ hang: true })), await createReceiver(() => ({ hang: true }))];
    const healthy = await createReceiver();
    for (const [i, hole] of blackHoles.entries()) {
      await app.graphql(REGISTER, {
        apiKey,
        variables: { input: validWebhook({ url: hole.url, agentId: `hung-${i}` }) },
      });
      for (let j = 0; j < 5; j++)
        await app.graphql(PUBLISH, { apiKey, variables: { input: conversationEnded(`hung-${i}`) } });
    }
    await app.graphql(REGISTER, { apiKey, variables: { input: validWebhook({ url: healthy.url, agentId: 'ok' }) } });
    for (let i = 0; i < 10; i++) await app.graphql(PUBLISH, { apiKey, variables: { input: conversationEnded('ok') } });

    // 2 hung endpoints × 2 per webhook fill all 4 slots with requests that hang for 5 s.
    const started = Date.now();
    app.startWorker({ concurrency: 4, perWebhook: 2 });
    await healthy.waitFor(10, 4000);
    const elapsed = Date.now() - started;
    // Not before the hung attempts turned slow (1 s), well before they time out (5 s).
    expect(elapsed).toBeGreaterThan(900);
    expect(elapsed).toBeLessThan(4000);
    // The hung endpoints never hold more than their per-webhook share, and in all at most 2× concurrency.
    expect(blackHoles.map((hole) => hole.received.length)).toEqual([2, 2]);
  });
});
