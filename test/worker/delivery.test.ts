import { Webhook as Verifier } from 'standardwebhooks';
import { beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../support/app.js';
import {
  conversationEnded,
  EVENT_DELIVERIES,
  GET_DELIVERY,
  PUBLISH,
  REGISTER,
  UPDATE,
  validWebhook,
  WEBHOOK_DELIVERIES,
} from '../support/operations.js';
import { createReceiver, eventually, sleep } from '../support/receiver.js';

let app: TestApp;
beforeAll(async () => {
  app = await createTestApp({ DELIVERY_RETRY_SCHEDULE: '100ms,100ms,100ms' });
  app.startWorker();
});

async function registerAt(apiKey: string, url: string, overrides: Record<string, unknown> = {}) {
  const res = await app.graphql(REGISTER, { apiKey, variables: { input: validWebhook({ url, ...overrides }) } });
  expect(res.errors).toBeUndefined();
  return res.data?.registerWebhook as { id: string; secret: string };
}

async function publish(apiKey: string, input: Record<string, unknown>) {
  const res = await app.graphql(PUBLISH, { apiKey, variables: { input } });
  expect(res.errors).toBeUndefined();
  return res.data?.publishEvent as { id: string; createdAt: string };
}

describe('a published event', () => {
  it('arrives as a signed POST that the stock standardwebhooks library verifies, in the documented shape', async () => {
    const { apiKey, workspaceId } = await app.newWorkspace();
    const receiver = await createReceiver();
    const webhook = await registerAt(apiKey, receiver.url, { agentId: 'agent-a' });
    const event = await publish(
      apiKey,
      conversationEnded('agent-a', { conversationId: 'conv_42', transcript: ['hi', 'bye'] }),
    );

    await receiver.waitFor(1);
    const [request] = receiver.received;
    expect(request?.headers['content-type']).toBe('application/json');
    expect(request?.headers['webhook-id']).toBe(event.id);
    expect(Math.abs(Number(request?.headers['webhook-timestamp']) - Date.now() / 1000)).toBeLessThan(10);
    const verified = new Verifier(webhook.secret).verify(
      request?.body as string,
      request?.headers as Record<string, string>,
    );
    expect(verified).toEqual({
      id: event.id,
      type: 'conversation_ended',
      timestamp: event.createdAt,
      workspaceId,
      agentId: 'agent-a',
      data: { conversationId: 'conv_42', transcript: ['hi', 'bye'] },
    });

    const delivery = await eventually(async () => {
      const res = await app.graphql(EVENT_DELIVERIES, { apiKey, variables: { id: event.id } });
      const node = res.data?.event.deliveries.edges[0]?.node;
      return node?.status === 'SUCCEEDED' ? node : undefined;
    });
    expect(delivery).toMatchObject({
      attemptCount: 1,
      nextAttemptAt: null,
      webhook: { id: webhook.id },
      event: { id: event.id },
    });
    expect(delivery.attempts).toEqual([expect.objectContaining({ statusCode: 200, error: null })]);
  });

  it('reaches only active webhooks of the same workspace and agent that subscribe to its type', async () => {
    const alice = await app.newWorkspace('Alice');
    const bob = await app.newWorkspace('Bob');
    const hit = await createReceiver();
    const misses = await createReceiver();
    await registerAt(alice.apiKey, hit.url, { agentId: 'agent-1', events: ['CONVERSATION_ENDED'] });
    await registerAt(alice.apiKey, hit.url, {
      agentId: 'agent-1',
      events: ['CONVERSATION_ENDED', 'CONVERSATION_STARTED'],
    });
    await registerAt(alice.apiKey, misses.url, { agentId: 'agent-2', events: ['CONVERSATION_ENDED'] });
    await registerAt(alice.apiKey, misses.url, { agentId: 'agent-1', events: ['CONVERSATION_ANALYSED'] });
    await registerAt(alice.apiKey, misses.url, { agentId: 'agent-1', active: false });
    await registerAt(bob.apiKey, misses.url, { agentId: 'agent-1', events: ['CONVERSATION_ENDED'] });

    const event = await publish(alice.apiKey, conversationEnded('agent-1'));
    await hit.waitFor(2);
    await sleep(300);
    expect(hit.received.map((r) => r.headers['webhook-id'])).toEqual([event.id, event.id]);
    expect(misses.received).toHaveLength(0);
    const res = await app.graphql(EVENT_DELIVERIES, { apiKey: alice.apiKey, variables: { id: event.id } });
    expect(res.data?.event.deliveries.totalCount).toBe(2);
  });

  it('is held for a paused webhook and delivered once it is resumed', async () => {
    // Its own app, so the event is accepted before any worker runs.
    const paused = await createTestApp();
    const { apiKey } = await paused.newWorkspace();
    const receiver = await createReceiver();
    const register = await paused.graphql(REGISTER, {
      apiKey,
      variables: { input: validWebhook({ url: receiver.url, agentId: 'agent-p' }) },
    });
    const webhookId = register.data?.registerWebhook.id;
    await paused.graphql(PUBLISH, { apiKey, variables: { input: conversationEnded('agent-p') } });
    await paused.graphql(UPDATE, { apiKey, variables: { id: webhookId, input: { active: false } } });

    paused.startWorker();
    await sleep(400);
    expect(receiver.received).toHaveLength(0);
    const pending = await paused.graphql(WEBHOOK_DELIVERIES, {
      apiKey,
      variables: { id: webhookId, status: 'PENDING' },
    });
    expect(pending.data?.webhook.deliveries.totalCount).toBe(1);

    await paused.graphql(UPDATE, { apiKey, variables: { id: webhookId, input: { active: true } } });
    await receiver.waitFor(1);
  });
});

describe('retries', () => {
  it('a receiver that fails 3 times then succeeds gets the event as one success after 3 logged failures, always with the same webhook-id', async () => {
    const { apiKey } = await app.newWorkspace();
    const receiver = await createReceiver((n) => (n < 3 ? { status: 500, body: `boom ${n}` } : { status: 204 }));
    const webhook = await registerAt(apiKey, receiver.url, { agentId: 'agent-r' });
    const event = await publish(apiKey, conversationEnded('agent-r'));
    await receiver.waitFor(4);
    expect(new Set(receiver.received.map((r) => r.headers['webhook-id']))).toEqual(new Set([event.id]));
    expect(new Set(receiver.received.map((r) => r.body)).size).toBe(1);

    const delivery = await eventually(async () => {
      const res = await app.graphql(WEBHOOK_DELIVERIES, { apiKey, variables: { id: webhook.id } });
      const node = res.data?.webhook.deliveries.edges[0]?.node;
      return node?.status === 'SUCCEEDED' ? node : undefined;
    });
    expect(delivery.attemptCount).toBe(4);
    expect(delivery.attempts.map((a: { statusCode: number }) => a.statusCode)).toEqual([500, 500, 500, 204]);
    expect(delivery.attempts[0]).toMatchObject({ error: 'HTTP 500', responseBody: 'boom 0' });
    await sleep(300);
    expect(receiver.received).toHaveLength(4);
  });

  it('ends FAILED after the last scheduled attempt', async () => {
    const { apiKey } = await app.newWorkspace();
    const receiver = await createReceiver(() => ({ status: 503 }));
    const webhook = await registerAt(apiKey, receiver.url, { agentId: 'agent-f' });
    await publish(apiKey, conversationEnded('agent-f'));
    const delivery = await eventually(async () => {
      const res = await app.graphql(WEBHOOK_DELIVERIES, { apiKey, variables: { id: webhook.id, status: 'FAILED' } });
      return res.data?.webhook.deliveries.edges[0]?.node;
    });
    // One attempt plus one per step of the 3-step schedule.
    expect(delivery).toMatchObject({ status: 'FAILED', attemptCount: 4, nextAttemptAt: null });
    await sleep(300);
    expect(receiver.received).toHaveLength(4);
  });
});

describe('steering', () => {
  it('retryDelivery makes a new attempt now, also for a FAILED delivery', async () => {
    const { apiKey } = await app.newWorkspace();
    let healthy = false;
    const receiver = await createReceiver(() => ({ status: healthy ? 200 : 500 }));
    const webhook = await registerAt(apiKey, receiver.url, { agentId: 'agent-x' });
    await publish(apiKey, conversationEnded('agent-x'));
    const failed = await eventually(async () => {
      const res = await app.graphql(WEBHOOK_DELIVERIES, { apiKey, variables: { id: webhook.id, status: 'FAILED' } });
      return res.data?.webhook.deliveries.edges[0]?.node;
    });
    healthy = true;
    const retried = await app.graphql(`mutation($id: ID!) { retryDelivery(id: $id) { id status } }`, {
      apiKey,
      variables: { id: failed.id },
    });
    expect(retried.data?.retryDelivery).toEqual({ id: failed.id, status: 'PENDING' });
    const done = await eventually(async () => {
      const res = await app.graphql(GET_DELIVERY, { apiKey, variables: { id: failed.id } });
      return res.data?.delivery.status === 'SUCCEEDED' ? res.data.delivery : undefined;
    });
    expect(done.attemptCount).toBe(5);
  });

  it('sendTestEvent delivers a webhook.test event, even to a paused webhook subscribed to other types', async () => {
    const { apiKey, workspaceId } = await app.newWorkspace();
    const receiver = await createReceiver();
    const webhook = await registerAt(apiKey, receiver.url, {
      agentId: 'agent-t',
      events: ['CONVERSATION_ANALYSED'],
      active: false,
    });
    const res = await app.graphql(
      `mutation($id: ID!) { sendTestEvent(webhookId: $id) { id status event { id type } } }`,
      {
        apiKey,
        variables: { id: webhook.id },
      },
    );
    expect(res.data?.sendTestEvent).toMatchObject({ status: 'PENDING', event: { type: 'webhook.test' } });
    await receiver.waitFor(1);
    const body = new Verifier(webhook.secret).verify(
      receiver.received[0]?.body as string,
      receiver.received[0]?.headers as Record<string, string>,
    );
    expect(body).toMatchObject({
      type: 'webhook.test',
      workspaceId,
      agentId: 'agent-t',
      id: res.data?.sendTestEvent.event.id,
    });
  });

  it('rotateWebhookSecret returns the new secret once; both secrets sign until the old one expires', async () => {
    const { apiKey } = await app.newWorkspace();
    const receiver = await createReceiver();
    const webhook = await registerAt(apiKey, receiver.url, { agentId: 'agent-s' });
    const rotated = await app.graphql(
      `mutation($id: ID!) { rotateWebhookSecret(id: $id, expireCurrentInSeconds: 1) { id secret } }`,
      {
        apiKey,
        variables: { id: webhook.id },
      },
    );
    const newSecret = rotated.data?.rotateWebhookSecret.secret as string;
    expect(newSecret).toMatch(/^whsec_/);
    expect(newSecret).not.toBe(webhook.secret);

    await publish(apiKey, conversationEnded('agent-s'));
    await receiver.waitFor(1);
    const first = receiver.received[0];
    expect(String(first?.headers['webhook-signature']).split(' ')).toHaveLength(2);
    for (const secret of [webhook.secret, newSecret]) {
      expect(() =>
        new Verifier(secret).verify(first?.body as string, first?.headers as Record<string, string>),
      ).not.toThrow();
    }

    await sleep(1100);
    await publish(apiKey, conversationEnded('agent-s'));
    await receiver.waitFor(2);
    const second = receiver.received[1];
    expect(String(second?.headers['webhook-signature']).split(' ')).toHaveLength(1);
    expect(() =>
      new Verifier(newSecret).verify(second?.body as string, second?.headers as Record<string, string>),
    ).not.toThrow();
    expect(() =>
      new Verifier(webhook.secret).verify(second?.body as string, second?.headers as Record<string, string>),
    ).toThrow();

    const read = await app.graphql(`query($id: ID!) { webhook(id: $id) { secret } }`, {
      apiKey,
      variables: { id: webhook.id },
    });
    expect(read.data?.webhook.secret).toBeNull();
  });
});
