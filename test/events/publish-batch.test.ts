import { beforeAll, describe, expect, it } from 'vitest';
import { type Published, publishEvents } from '../../src/events/publish.js';
import { createTestApp, type TestApp } from '../support/app.js';
import { REGISTER, validWebhook } from '../support/operations.js';
import { createReceiver } from '../support/receiver.js';

/** publishEvents: 1–100 events in one transaction, all or nothing; and the two rate limits. */
let app: TestApp;
beforeAll(async () => {
  app = await createTestApp();
});

const PUBLISH_MANY = `mutation PublishMany($inputs: [PublishEventInput!]!) {
  publishEvents(inputs: $inputs) { id agentId type conversationId data }
}`;

const event = (agentId: string, n: number, extra: Record<string, unknown> = {}) => ({
  agentId,
  type: 'CONVERSATION_ENDED',
  data: { n },
  ...extra,
});

const eventCount = async (workspaceId: string) =>
  ((await app.sql`select count(*)::int as n from events where workspace_id = ${workspaceId}`)[0]?.n ?? 0) as number;

describe('publishEvents', () => {
  it('stores and delivers every event, in the order given', async () => {
    const { apiKey, workspaceId } = await app.newWorkspace();
    const receiver = await createReceiver();
    await app.graphql(REGISTER, { apiKey, variables: { input: validWebhook({ url: receiver.url, agentId: 'b1' }) } });
    const inputs = Array.from({ length: 100 }, (_, n) => event('b1', n, { conversationId: `call-${n % 7}` }));
    const res = await app.graphql(PUBLISH_MANY, { apiKey, variables: { inputs } });
    expect(res.errors).toBeUndefined();
    expect(res.data?.publishEvents.map((e: { data: { n: number } }) => e.data.n)).toEqual(inputs.map((_, n) => n));
    expect(res.data?.publishEvents[8]).toMatchObject({
      agentId: 'b1',
      type: 'conversation_ended',
      conversationId: 'call-1',
    });
    expect(await eventCount(workspaceId)).toBe(100);
    app.startWorker();
    await receiver.waitFor(100);
    expect(new Set(receiver.received.map((r) => r.headers['webhook-id'])).size).toBe(100);
  });

  it('names a bad item by its index and writes nothing of the batch', async () => {
    const { apiKey, workspaceId } = await app.newWorkspace();
    const inputs = [event('b2', 0), event('', 1), event('b2', 2, { conversationId: '' })];
    const res = await app.graphql(PUBLISH_MANY, { apiKey, variables: { inputs } });
    expect(res.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(res.errors?.[0]?.extensions?.issues.map((i: { path: unknown }) => i.path)).toEqual([
      ['inputs', 1, 'agentId'],
      ['inputs', 2, 'conversationId'],
    ]);
    expect(await eventCount(workspaceId)).toBe(0);
  });

  it('holds 1 to 100 events', async () => {
    const { apiKey, workspaceId } = await app.newWorkspace();
    for (const length of [0, 101]) {
      const inputs = Array.from({ length }, (_, n) => event('b3', n));
      const res = await app.graphql(PUBLISH_MANY, { apiKey, variables: { inputs } });
      expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', issues: [{ path: ['inputs'] }] });
    }
    expect(await eventCount(workspaceId)).toBe(0);
  });

  it('keeps each idempotency key; a key reused for another event fails the whole batch at its index', async () => {
    const { apiKey, workspaceId } = await app.newWorkspace();
    const first = await app.graphql(PUBLISH_MANY, {
      apiKey,
      variables: { inputs: [event('b4', 0, { idempotencyKey: 'k0' }), event('b4', 1, { idempotencyKey: 'k1' })] },
    });
    const [k0, k1] = first.data?.publishEvents ?? [];
    // Replayed with one new event: the two known ones come back as they were.
    const replay = await app.graphql(PUBLISH_MANY, {
      apiKey,
      variables: {
        inputs: [
          event('b4', 0, { idempotencyKey: 'k0' }),
          event('b4', 2, { idempotencyKey: 'k2' }),
          event('b4', 1, { idempotencyKey: 'k1' }),
        ],
      },
    });
    expect(replay.data?.publishEvents.map((e: { id: string }) => e.id)).toEqual([
      k0.id,
      expect.stringMatching(/^evt_/),
      k1.id,
    ]);
    expect(await eventCount(workspaceId)).toBe(3);
    const conflict = await app.graphql(PUBLISH_MANY, {
      apiKey,
      variables: { inputs: [event('b4', 3, { idempotencyKey: 'k3' }), event('b4', 99, { idempotencyKey: 'k1' })] },
    });
    expect(conflict.errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      issues: [{ path: ['inputs', 1, 'idempotencyKey'] }],
    });
    expect(await eventCount(workspaceId)).toBe(3);
  });
});

describe('publishEvents: one idempotency key twice in a batch', () => {
  it('answers the first event both times when the two are the same, delivering it once', async () => {
    const { apiKey, workspaceId } = await app.newWorkspace();
    const receiver = await createReceiver();
    await app.graphql(REGISTER, { apiKey, variables: { input: validWebhook({ url: receiver.url, agentId: 'b7' }) } });
    const inputs = [
      event('b7', 0, { idempotencyKey: 'twice' }),
      event('b7', 1),
      event('b7', 0, { idempotencyKey: 'twice' }),
    ];
    const res = await app.graphql(PUBLISH_MANY, { apiKey, variables: { inputs } });
    expect(res.errors).toBeUndefined();
    const [first, second, again] = res.data?.publishEvents ?? [];
    expect(again).toEqual(first);
    expect(second.id).not.toBe(first.id);
    expect(await eventCount(workspaceId)).toBe(2);
    const [row] = await app.sql`select count(*)::int as n from deliveries where workspace_id = ${workspaceId}`;
    expect(row?.n).toBe(2);
  });

  it('fails the whole batch at the second when the two differ', async () => {
    const { apiKey, workspaceId } = await app.newWorkspace();
    const inputs = [
      event('b8', 0, { idempotencyKey: 'twice' }),
      event('b8', 1),
      event('b8', 2, { idempotencyKey: 'twice' }),
    ];
    const res = await app.graphql(PUBLISH_MANY, { apiKey, variables: { inputs } });
    expect(res.errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      issues: [{ path: ['inputs', 2, 'idempotencyKey'] }],
    });
    expect(await eventCount(workspaceId)).toBe(0);
  });

  it('a key older than 24 hours names a new event, once, however often the batch repeats it', async () => {
    const { apiKey, workspaceId } = await app.newWorkspace();
    const old = await app.graphql(PUBLISH_MANY, {
      apiKey,
      variables: { inputs: [event('b9', 0, { idempotencyKey: 'old' })] },
    });
    const oldId = old.data?.publishEvents[0].id;
    await app.sql`update events set created_at = now() - interval '25 hours' where id = ${oldId}`;
    const res = await app.graphql(PUBLISH_MANY, {
      apiKey,
      variables: { inputs: [event('b9', 0, { idempotencyKey: 'old' }), event('b9', 0, { idempotencyKey: 'old' })] },
    });
    const [fresh, repeated] = res.data?.publishEvents ?? [];
    expect(fresh.id).not.toBe(oldId);
    expect(repeated.id).toBe(fresh.id);
    const keys =
      await app.sql`select id, idempotency_key from events where workspace_id = ${workspaceId} order by created_at`;
    expect(keys).toEqual([
      { id: oldId, idempotencyKey: null },
      { id: fresh.id, idempotencyKey: 'old' },
    ]);
  });
});

describe('publishEvents: the same idempotency keys in two batches at once', () => {
  // Each batch takes its keys' locks (new index entries, or stored events FOR UPDATE) in one
  // fixed order, whatever order it lists them in. In the batch's order, two batches naming
  // the same keys in opposite orders each held one the other needed: PostgreSQL ended one
  // with a deadlock, answered INTERNAL. Called below the API, so the two overlap every time.
  it('answers both, with the same events, when they list the keys in opposite orders', async () => {
    const { workspaceId } = await app.newWorkspace();
    for (let round = 0; round < 10; round++) {
      const keys = Array.from({ length: 100 }, (_, n) => `round-${round}-${String(n).padStart(3, '0')}`);
      const batch = (order: string[]) =>
        publishEvents(
          app.sql,
          order.map((key) => ({
            workspaceId,
            agentId: 'b10',
            type: 'conversation_ended',
            data: { key },
            idempotencyKey: key,
          })),
        );
      const ids = (order: string[], published: Published[]) =>
        new Map(published.map(({ event }, index) => [order[index], event.id]));
      const reversed = [...keys].reverse();
      // New keys, then the same keys again: stored events, read FOR UPDATE.
      for (const stage of ['new', 'stored']) {
        const [forward, backward] = await Promise.all([batch(keys), batch(reversed)]);
        expect(ids(reversed, backward), `round ${round}, ${stage} keys`).toEqual(ids(keys, forward));
      }
    }
    expect(await eventCount(workspaceId)).toBe(1_000);
  });
});

describe('rate limits: events published, and other mutations, in separate buckets', () => {
  it('counts each event of a batch against PUBLISH_RATE_LIMIT_PER_SECOND, and nothing else against it', async () => {
    const limited = await createTestApp({
      RATE_LIMIT_PER_SECOND: '1',
      RATE_LIMIT_BURST: '3',
      PUBLISH_RATE_LIMIT_PER_SECOND: '1',
      PUBLISH_RATE_LIMIT_BURST: '150',
    });
    const { apiKey, workspaceId } = await limited.newWorkspace();
    // 10 single publishes: events, not "mutations": the burst of 3 does not apply.
    for (let n = 0; n < 10; n++) {
      const res = await limited.graphql(`mutation($input: PublishEventInput!) { publishEvent(input: $input) { id } }`, {
        apiKey,
        variables: { input: event('b5', n) },
      });
      expect(res.status).toBe(200);
    }
    // 100 more in one batch: 110 of 150.
    const batch = Array.from({ length: 100 }, (_, n) => event('b5', n));
    expect((await limited.graphql(PUBLISH_MANY, { apiKey, variables: { inputs: batch } })).status).toBe(200);
    // 100 more would pass 150: refused whole, before anything is written.
    const refused = await limited.graphql(PUBLISH_MANY, { apiKey, variables: { inputs: batch } });
    expect(refused.status).toBe(429);
    expect(refused.errors?.[0]?.extensions?.code).toBe('RATE_LIMITED');
    expect(refused.errors?.[0]?.message).toMatch(/events published per second/);
    const [row] = await limited.sql`select count(*)::int as n from events where workspace_id = ${workspaceId}`;
    expect(row?.n).toBe(110);
    // Other mutations have their own bucket: 3 at once, then 429.
    for (let i = 0; i < 3; i++) {
      expect((await limited.graphql(REGISTER, { apiKey, variables: { input: validWebhook() } })).status).toBe(200);
    }
    const fourth = await limited.graphql(REGISTER, { apiKey, variables: { input: validWebhook() } });
    expect(fourth.status).toBe(429);
    expect(fourth.errors?.[0]?.message).toMatch(/mutations per second/);
  });

  it('defaults fit ingest: 1,000 events a second from one key are not refused', async () => {
    // The defaults (not the suite's): publish 2,000 at once (the burst) in batches of 100.
    const defaults = await createTestApp({ RATE_LIMIT_PER_SECOND: '50' });
    expect(defaults.config.publishRateLimit).toEqual({ perSecond: 1000, burst: 2000 });
    const { apiKey } = await defaults.newWorkspace();
    const batch = Array.from({ length: 100 }, (_, n) => event('b6', n));
    const answers = await Promise.all(
      Array.from({ length: 20 }, () => defaults.graphql(PUBLISH_MANY, { apiKey, variables: { inputs: batch } })),
    );
    expect(answers.map((a) => a.status)).toEqual(Array(20).fill(200));
  });
});
