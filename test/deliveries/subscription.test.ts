import { beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../support/app.js';
import { conversationEnded, PUBLISH, REGISTER, validWebhook } from '../support/operations.js';
import { createReceiver, sleep } from '../support/receiver.js';
import { subscribe } from '../support/sse.js';

const FEED = `subscription Feed($webhookId: ID) {
  deliveryUpdates(webhookId: $webhookId) { id status attemptCount webhook { id } event { id type } }
}`;

let app: TestApp;
let url: string;
beforeAll(async () => {
  app = await createTestApp();
  url = await app.listen();
  app.startWorker();
});

describe('Subscription.deliveryUpdates over server-sent events', () => {
  it('streams a delivery from PENDING to SUCCEEDED, only for the chosen webhook', async () => {
    const { apiKey } = await app.newWorkspace();
    // The feed shows each changed delivery as it is when read: a receiver that answers at
    // once can make it SUCCEEDED before the first read. This one keeps it PENDING a while.
    const receiver = await createReceiver(() => ({ status: 200, delayMs: 300 }));
    const watched = (
      await app.graphql(REGISTER, {
        apiKey,
        variables: { input: validWebhook({ url: receiver.url, agentId: 'live' }) },
      })
    ).data?.registerWebhook.id;
    await app.graphql(REGISTER, { apiKey, variables: { input: validWebhook({ url: receiver.url, agentId: 'live' }) } });

    const feed = await subscribe(url, FEED, { apiKey, variables: { webhookId: watched } });
    expect(feed.status).toBe(200);
    try {
      await sleep(200);
      const event = (await app.graphql(PUBLISH, { apiKey, variables: { input: conversationEnded('live') } })).data
        ?.publishEvent;
      await feed.until((events) => events.some((e) => e.data?.deliveryUpdates.status === 'SUCCEEDED'));
      const updates = feed.events.map((e) => e.data.deliveryUpdates);
      expect(updates[0]).toMatchObject({
        status: 'PENDING',
        attemptCount: 0,
        webhook: { id: watched },
        event: { id: event.id },
      });
      expect(updates.at(-1)).toMatchObject({ status: 'SUCCEEDED', attemptCount: 1 });
      expect(new Set(updates.map((u) => u.webhook.id))).toEqual(new Set([watched]));
    } finally {
      await feed.close();
    }
  });

  it("never shows another workspace's deliveries", async () => {
    const alice = await app.newWorkspace();
    const bob = await app.newWorkspace();
    const receiver = await createReceiver();
    const alicesWebhook = (
      await app.graphql(REGISTER, {
        apiKey: alice.apiKey,
        variables: { input: validWebhook({ url: receiver.url, agentId: 'same' }) },
      })
    ).data?.registerWebhook.id;
    // Bob subscribes to everything of his, and to Alice's webhook id.
    const everything = await subscribe(url, FEED, { apiKey: bob.apiKey });
    const hers = await subscribe(url, FEED, { apiKey: bob.apiKey, variables: { webhookId: alicesWebhook } });
    const mine = await subscribe(url, FEED, { apiKey: alice.apiKey });
    try {
      await sleep(200);
      await app.graphql(PUBLISH, { apiKey: alice.apiKey, variables: { input: conversationEnded('same') } });
      await mine.until((events) => events.some((e) => e.data?.deliveryUpdates.status === 'SUCCEEDED'));
      await sleep(200);
      expect(everything.events).toEqual([]);
      expect(hers.events).toEqual([]);
    } finally {
      await Promise.all([everything.close(), hers.close(), mine.close()]);
    }
  });

  it('needs an API key like everything else', async () => {
    const feed = await subscribe(url, FEED);
    expect(feed.status).toBe(401);
    await feed.close();
  });
});

describe('across processes', () => {
  it('a subscriber on an API-only instance sees deliveries made by a separate worker process', async () => {
    const shared = await createTestApp();
    const { apiKey } = await shared.newWorkspace();
    const receiver = await createReceiver();
    const api = shared.spawnServer({ ROLE: 'api' }, /GraphiQL at http:\/\/localhost:(\d+)\//);
    const worker = shared.spawnServer({ ROLE: 'worker' }, /delivery worker started/);
    try {
      const [, port] = await api.started;
      await worker.started;
      const apiUrl = `http://127.0.0.1:${port}/graphql`;
      const call = async (query: string, variables: Record<string, unknown>) =>
        (
          await fetch(apiUrl, {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'x-api-key': apiKey },
            body: JSON.stringify({ query, variables }),
          })
        ).json();
      const webhookId = (await call(REGISTER, { input: validWebhook({ url: receiver.url, agentId: 'remote' }) })).data
        .registerWebhook.id;
      const feed = await subscribe(apiUrl, FEED, { apiKey, variables: { webhookId } });
      try {
        await sleep(300);
        await call(PUBLISH, { input: conversationEnded('remote') });
        await feed.until((events) => events.some((e) => e.data?.deliveryUpdates.status === 'SUCCEEDED'), 15_000);
        expect(receiver.received).toHaveLength(1);
      } finally {
        await feed.close();
      }
    } finally {
      api.signal('SIGTERM');
      worker.signal('SIGTERM');
      await Promise.all([api.exited, worker.exited]);
    }
  }, 60_000);
});
