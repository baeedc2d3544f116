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
