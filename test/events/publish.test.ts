import { beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../support/app.js';
import {
  conversationEnded,
  EVENT_DELIVERIES,
  GET_DELIVERY,
  PUBLISH,
  REGISTER,
  validWebhook,
} from '../support/operations.js';

/** publishEvent without a worker: what is stored, refused and deduplicated. */
let app: TestApp;
let apiKey: string;
beforeAll(async () => {
  app = await createTestApp();
  ({ apiKey } = await app.newWorkspace());
  for (const agentId of ['agent-1', 'agent-1', 'agent-2']) {
    await app.graphql(REGISTER, { apiKey, variables: { input: validWebhook({ agentId }) } });
  }
});

const counts = async () => {
  const [row] =
    await app.sql`select (select count(*)::int from events) as events, (select count(*)::int from deliveries) as deliveries`;
  return row as { events: number; deliveries: number };
};

describe('publishEvent', () => {
  it('stores the event and one pending delivery per matching webhook', async () => {
    const res = await app.graphql(PUBLISH, {
      apiKey,
      variables: { input: conversationEnded('agent-1', { score: 0.93 }) },
    });
    const event = res.data?.publishEvent;
    expect(event).toMatchObject({ type: 'conversation_ended', agentId: 'agent-1', data: { score: 0.93 } });
    expect(event.id).toMatch(/^evt_[0-9A-Za-z]{16}$/);
    const read = await app.graphql(EVENT_DELIVERIES, { apiKey, variables: { id: event.id } });
    const deliveries = read.data?.event.deliveries;
    expect(deliveries.totalCount).toBe(2);
    for (const { node } of deliveries.edges) {
      expect(node).toMatchObject({ status: 'PENDING', attemptCount: 0, attempts: [] });
      expect(node.id).toMatch(/^dlv_[0-9A-Za-z]{16}$/);
    }
  });

  it('stores an event that no webhook wants, and delivers it nowhere', async () => {
    const before = await counts();
    const res = await app.graphql(PUBLISH, { apiKey, variables: { input: conversationEnded('nobody-listens') } });
    expect(res.errors).toBeUndefined();
    expect(await counts()).toEqual({ events: before.events + 1, deliveries: before.deliveries });
  });

  it('with the same idempotency key returns the first event and creates nothing new', async () => {
    const input = { ...conversationEnded('agent-1'), idempotencyKey: 'call-7781-ended' };
    const first = await app.graphql(PUBLISH, { apiKey, variables: { input } });
    const before = await counts();
    const again = await Promise.all([1, 2, 3].map(() => app.graphql(PUBLISH, { apiKey, variables: { input } })));
    for (const res of again) expect(res.data?.publishEvent).toEqual(first.data?.publishEvent);
    expect(await counts()).toEqual(before);
  });

  it('races on a new idempotency key still make exactly one event', async () => {
    const input = { ...conversationEnded('agent-1'), idempotencyKey: 'race-key' };
    const before = await counts();
    const results = await Promise.all(
      Array.from({ length: 6 }, () => app.graphql(PUBLISH, { apiKey, variables: { input } })),
    );
    expect(new Set(results.map((r) => r.data?.publishEvent.id)).size).toBe(1);
    expect(await counts()).toEqual({ events: before.events + 1, deliveries: before.deliveries + 2 });
  });

  it('refuses an idempotency key reused for a different event', async () => {
    await app.graphql(PUBLISH, {
      apiKey,
      variables: { input: { ...conversationEnded('agent-1'), idempotencyKey: 'k-1' } },
    });
    const res = await app.graphql(PUBLISH, {
      apiKey,
      variables: { input: { ...conversationEnded('agent-1', { other: true }), idempotencyKey: 'k-1' } },
    });
    expect(res.errors?.[0]?.extensions?.issues).toEqual([
      { path: ['input', 'idempotencyKey'], message: expect.stringContaining('different event') },
    ]);
  });

  it('treats a key older than 24 hours as new', async () => {
    const input = { ...conversationEnded('agent-2'), idempotencyKey: 'old-key' };
    const first = await app.graphql(PUBLISH, { apiKey, variables: { input } });
    await app.sql`update events set created_at = now() - interval '25 hours' where id = ${first.data?.publishEvent.id}`;
    const second = await app.graphql(PUBLISH, { apiKey, variables: { input } });
    expect(second.data?.publishEvent.id).not.toBe(first.data?.publishEvent.id);
  });

  it('keys are per workspace', async () => {
    const other = await app.newWorkspace();
    const input = { ...conversationEnded('agent-1'), idempotencyKey: 'shared-key' };
    const mine = await app.graphql(PUBLISH, { apiKey, variables: { input } });
    const theirs = await app.graphql(PUBLISH, { apiKey: other.apiKey, variables: { input } });
    expect(theirs.data?.publishEvent.id).not.toBe(mine.data?.publishEvent.id);
  });

  it.each([
    ['data over 256 KiB', { data: { blob: 'x'.repeat(256 * 1024) } }, 'data', 'must be at most 256 KiB of JSON'],
    ['data that is an array', { data: [1, 2] }, 'data', 'must be a JSON object'],
    ['data that is a string', { data: 'hello' }, 'data', 'must be a JSON object'],
    ['an empty agentId', { agentId: '' }, 'agentId', 'must be 1 to 64 characters'],
    [
      'an idempotency key over 255 characters',
      { idempotencyKey: 'k'.repeat(256) },
      'idempotencyKey',
      'must be 1 to 255 characters',
    ],
  ])('refuses %s, naming the field, and writes nothing', async (_label, overrides, field, message) => {
    const before = await counts();
    const res = await app.graphql(PUBLISH, {
      apiKey,
      variables: { input: { ...conversationEnded('agent-1'), ...overrides } },
    });
    expect(res.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(res.errors?.[0]?.extensions?.issues).toEqual([{ path: ['input', field], message }]);
    expect(await counts()).toEqual(before);
  });

  it('accepts data of exactly 256 KiB', async () => {
    const overhead = JSON.stringify({ blob: '' }).length;
    const res = await app.graphql(PUBLISH, {
      apiKey,
      variables: { input: conversationEnded('agent-1', { blob: 'x'.repeat(256 * 1024 - overhead) }) },
    });
    expect(res.errors).toBeUndefined();
  });
});

describe("another workspace's events and deliveries answer like missing ones", () => {
  it('event, delivery, retryDelivery, sendTestEvent, rotateWebhookSecret', async () => {
    const other = await app.newWorkspace();
    const published = await app.graphql(PUBLISH, { apiKey, variables: { input: conversationEnded('agent-1') } });
    const eventId = published.data?.publishEvent.id;
    const read = await app.graphql(EVENT_DELIVERIES, { apiKey, variables: { id: eventId } });
    const deliveryId = read.data?.event.deliveries.edges[0].node.id;
    const webhookId = read.data?.event.deliveries.edges[0].node.webhook.id;

    const as = (query: string, variables: Record<string, unknown>) =>
      app.graphql(query, { apiKey: other.apiKey, variables });
    expect((await as(EVENT_DELIVERIES, { id: eventId })).data?.event).toBeNull();
    expect((await as(GET_DELIVERY, { id: deliveryId })).data?.delivery).toBeNull();
    for (const [query, variables] of [
      ['mutation($id: ID!) { retryDelivery(id: $id) { id } }', { id: deliveryId }],
      ['mutation($id: ID!) { sendTestEvent(webhookId: $id) { id } }', { id: webhookId }],
      ['mutation($id: ID!) { rotateWebhookSecret(id: $id) { secret } }', { id: webhookId }],
    ] as const) {
      const res = await as(query, variables);
      expect(res.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
      expect(JSON.stringify(res)).not.toContain('whsec_');
    }
    const [row] = await app.sql`select status, manual from deliveries where id = ${deliveryId}`;
    expect(row).toEqual({ status: 'pending', manual: false });
  });
});
