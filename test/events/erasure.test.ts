import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/lib/logger.js';
import { pruneOnce } from '../../src/worker/retention.js';
import { createTestApp, type TestApp } from '../support/app.js';
import { GET_DELIVERY, PUBLISH, REGISTER, UPDATE, validWebhook } from '../support/operations.js';
import { createReceiver, eventually, sleep } from '../support/receiver.js';

/** eraseConversation and eraseEvent: what goes, what stays, and that nothing erased is sent. */

const ERASE_CONVERSATION = `mutation($id: String!) {
  eraseConversation(conversationId: $id) { conversationId events deliveries }
}`;
const ERASE_EVENT = `mutation($id: ID!) { eraseEvent(id: $id) }`;
const GET_EVENT = `query($id: ID!) { event(id: $id) { id deliveries(first: 10) { edges { node { id } } } } }`;

const SECRET_WORDS = 'my card number is 4111 1111 1111 1111';

function capturedLog() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      done();
    },
  });
  return { lines, log: createLogger('info', stream) };
}

async function register(app: TestApp, apiKey: string, url: string, agentId: string) {
  const res = await app.graphql(REGISTER, { apiKey, variables: { input: validWebhook({ url, agentId }) } });
  expect(res.errors).toBeUndefined();
  return res.data?.registerWebhook.id as string;
}

async function publish(
  app: TestApp,
  apiKey: string,
  agentId: string,
  conversationId: string,
  type = 'CONVERSATION_ENDED',
) {
  const res = await app.graphql(PUBLISH, {
    apiKey,
    variables: { input: { agentId, type, conversationId, data: { transcript: SECRET_WORDS, conversationId } } },
  });
  expect(res.errors).toBeUndefined();
  return res.data?.publishEvent.id as string;
}

const deliveryIdsOf = async (app: TestApp, eventIds: string[]) =>
  (await app.sql<{ id: string }[]>`select id from deliveries where event_id = any(${eventIds}::text[])`).map(
    (d) => d.id,
  );

describe('erasure', () => {
  it('while the webhook is paused, then resumed, sends nothing erased and touches no other conversation or workspace', async () => {
    const { lines, log } = capturedLog();
    const app = await createTestApp({}, { log });
    const alice = await app.newWorkspace('Alice');
    const bob = await app.newWorkspace('Bob');
    const aliceReceiver = await createReceiver();
    const bobReceiver = await createReceiver();
    const webhookId = await register(app, alice.apiKey, aliceReceiver.url, 'agent-e');
    await register(app, bob.apiKey, bobReceiver.url, 'agent-e');

    // Accepted before any worker runs, then held by the pause.
    const erased = [
      await publish(app, alice.apiKey, 'agent-e', 'call-1', 'CONVERSATION_STARTED'),
      await publish(app, alice.apiKey, 'agent-e', 'call-1'),
    ];
    const kept = await publish(app, alice.apiKey, 'agent-e', 'call-2');
    const bobs = await publish(app, bob.apiKey, 'agent-e', 'call-1');
    await app.graphql(UPDATE, { apiKey: alice.apiKey, variables: { id: webhookId, input: { active: false } } });
    const erasedDeliveries = await deliveryIdsOf(app, erased);
    expect(erasedDeliveries).toHaveLength(2);
    app.startWorker();
    // Each wait shorter than the test's own time, so a stall says which delivery never came.
    await bobReceiver.waitFor(1, 15_000);

    const res = await app.graphql(ERASE_CONVERSATION, { apiKey: alice.apiKey, variables: { id: 'call-1' } });
    expect(res.data?.eraseConversation).toEqual({ conversationId: 'call-1', events: 2, deliveries: 2 });

    await app.graphql(UPDATE, { apiKey: alice.apiKey, variables: { id: webhookId, input: { active: true } } });
    await aliceReceiver.waitFor(1, 15_000);
    await sleep(500);
    expect(aliceReceiver.received.map((r) => r.headers['webhook-id'])).toEqual([kept]);
    expect(bobReceiver.received.map((r) => r.headers['webhook-id'])).toEqual([bobs]);

    // Erased ids answer as ids that never existed; another workspace's conversation of the same name stays.
    for (const id of erased) {
      expect((await app.graphql(GET_EVENT, { apiKey: alice.apiKey, variables: { id } })).data?.event).toBeNull();
      expect((await app.graphql(ERASE_EVENT, { apiKey: alice.apiKey, variables: { id } })).data?.eraseEvent).toBe(
        false,
      );
    }
    for (const id of erasedDeliveries) {
      expect((await app.graphql(GET_DELIVERY, { apiKey: alice.apiKey, variables: { id } })).data?.delivery).toBeNull();
    }
    expect((await app.graphql(GET_EVENT, { apiKey: bob.apiKey, variables: { id: bobs } })).data?.event.id).toBe(bobs);
    expect((await app.graphql(GET_EVENT, { apiKey: alice.apiKey, variables: { id: kept } })).data?.event.id).toBe(kept);

    // A second call finds nothing.
    const again = await app.graphql(ERASE_CONVERSATION, { apiKey: alice.apiKey, variables: { id: 'call-1' } });
    expect(again.data?.eraseConversation).toEqual({ conversationId: 'call-1', events: 0, deliveries: 0 });

    // The audit line says who erased what and how much, and nothing of the data.
    const audit = lines.map((line) => JSON.parse(line)).filter((line) => line.audit === 'erasure');
    expect(audit[0]).toMatchObject({
      workspaceId: alice.workspaceId,
      apiKeyId: alice.keyId,
      conversationId: 'call-1',
      events: 2,
      deliveries: 2,
    });
    // The card number itself: '4111' alone turns up in log timestamps (a CI run's 1796594041114).
    expect(lines.join('\n')).not.toContain('4111 1111');
  }, 40_000);

  it('eraseEvent deletes one delivered event with its deliveries and attempts; another workspace cannot erase it', async () => {
    const app = await createTestApp();
    app.startWorker();
    const alice = await app.newWorkspace('Alice');
    const bob = await app.newWorkspace('Bob');
    const receiver = await createReceiver((n) => (n === 0 ? { status: 500 } : { status: 200 }));
    await register(app, alice.apiKey, receiver.url, 'agent-d');
    const eventId = await publish(app, alice.apiKey, 'agent-d', 'call-9');
    const other = await publish(app, alice.apiKey, 'agent-d', 'call-9');
    const [deliveryId = ''] = await deliveryIdsOf(app, [eventId]);
    await eventually(async () => {
      const [row] = await app.sql`select count(*)::int as n from delivery_attempts where delivery_id = ${deliveryId}`;
      return (row?.n ?? 0) > 0;
    });

    const refused = await app.graphql(ERASE_EVENT, { apiKey: bob.apiKey, variables: { id: eventId } });
    expect(refused.data?.eraseEvent).toBe(false);
    expect((await app.graphql(GET_EVENT, { apiKey: alice.apiKey, variables: { id: eventId } })).data?.event.id).toBe(
      eventId,
    );

    const res = await app.graphql(ERASE_EVENT, { apiKey: alice.apiKey, variables: { id: eventId } });
    expect(res.data?.eraseEvent).toBe(true);
    const [left] = await app.sql`
      select (select count(*)::int from events where id = ${eventId}) as events,
             (select count(*)::int from deliveries where id = ${deliveryId}) as deliveries,
             (select count(*)::int from delivery_attempts where delivery_id = ${deliveryId}) as attempts`;
    expect(left).toEqual({ events: 0, deliveries: 0, attempts: 0 });
    expect((await app.graphql(GET_EVENT, { apiKey: alice.apiKey, variables: { id: other } })).data?.event.id).toBe(
      other,
    );
    expect(
      (await app.graphql(ERASE_EVENT, { apiKey: alice.apiKey, variables: { id: eventId } })).data?.eraseEvent,
    ).toBe(false);
  });

  it('a delivery a worker claimed and holds for its rate-limit slot is dropped unsent when its event is erased', async () => {
    const app = await createTestApp();
    const { apiKey } = await app.newWorkspace();
    const receiver = await createReceiver();
    const res = await app.graphql(REGISTER, {
      apiKey,
      variables: { input: validWebhook({ url: receiver.url, agentId: 'agent-r', rateLimitPerSecond: 1 }) },
    });
    expect(res.errors).toBeUndefined();
    const first = await publish(app, apiKey, 'agent-r', 'call-a');
    const second = await publish(app, apiKey, 'agent-r', 'call-b');
    // One claim takes both: the first goes now, the second waits in the worker for its slot a second later.
    app.startWorker();
    await receiver.waitFor(1);
    const [claimed] = await app.sql`select claim_token from deliveries d where d.event_id = ${second}`;
    expect(claimed?.claimToken).toBeTruthy();
    const erased = await app.graphql(ERASE_CONVERSATION, { apiKey, variables: { id: 'call-b' } });
    expect(erased.data?.eraseConversation).toEqual({ conversationId: 'call-b', events: 1, deliveries: 1 });
    await sleep(2000);
    expect(receiver.received.map((r) => r.headers['webhook-id'])).toEqual([first]);
  });

  it('a blank or too long conversationId is BAD_USER_INPUT naming it; a malformed event id is one that never existed', async () => {
    const app = await createTestApp();
    const { apiKey } = await app.newWorkspace();
    for (const id of ['', '   ', 'x'.repeat(129), 'a\nb']) {
      const res = await app.graphql(ERASE_CONVERSATION, { apiKey, variables: { id } });
      expect(res.errors?.[0]?.extensions).toMatchObject({
        code: 'BAD_USER_INPUT',
        issues: [{ path: ['conversationId'], message: expect.any(String) }],
      });
    }
    for (const id of ['', 'evt_', 'wh_0000000000000000', "evt_'; drop table events; --"]) {
      expect((await app.graphql(ERASE_EVENT, { apiKey, variables: { id } })).data?.eraseEvent).toBe(false);
    }
  });

  it('erasing an event in a conversation chain lets the next one go (ordering CONVERSATION)', async () => {
    const app = await createTestApp();
    const { apiKey } = await app.newWorkspace();
    const receiver = await createReceiver();
    const res = await app.graphql(REGISTER, {
      apiKey,
      variables: { input: validWebhook({ url: receiver.url, agentId: 'agent-o', ordering: 'CONVERSATION' }) },
    });
    expect(res.errors).toBeUndefined();
    const first = await publish(app, apiKey, 'agent-o', 'call-o', 'CONVERSATION_STARTED');
    const second = await publish(app, apiKey, 'agent-o', 'call-o');
    // The chain's head is erased before any worker saw it: the one waiting behind it must not wait forever.
    expect((await app.graphql(ERASE_EVENT, { apiKey, variables: { id: first } })).data?.eraseEvent).toBe(true);
    app.startWorker();
    await receiver.waitFor(1);
    expect(receiver.received.map((r) => r.headers['webhook-id'])).toEqual([second]);
  });

  it('erasure, delivery and retention running at once neither deadlock nor leave anything erased behind', async () => {
    const app = await createTestApp({ DELIVERY_RETRY_SCHEDULE: '50ms,50ms' });
    const { apiKey } = await app.newWorkspace();
    const receiver = await createReceiver((n) => ({ status: n % 3 === 0 ? 500 : 200, delayMs: n % 5 }));
    for (const agentId of ['agent-1', 'agent-1', 'agent-1']) await register(app, apiKey, receiver.url, agentId);
    const conversations = Array.from({ length: 20 }, (_, i) => `call-${i}`);
    const inputs = conversations.flatMap((conversationId) =>
      ['CONVERSATION_STARTED', 'CONVERSATION_ENDED', 'CONVERSATION_ANALYSED'].map((type) => ({
        agentId: 'agent-1',
        type,
        conversationId,
        data: { conversationId },
      })),
    );
    const published = await app.graphql(
      `mutation($inputs: [PublishEventInput!]!) { publishEvents(inputs: $inputs) { id } }`,
      {
        apiKey,
        variables: { inputs },
      },
    );
    expect(published.errors).toBeUndefined();
    app.startWorker();
    let pruning = true;
    const pruner = (async () => {
      let pruned = 0;
      while (pruning) {
        pruned += await pruneOnce(app.sql, 0, 10, 0);
        await sleep(5);
      }
      return pruned;
    })();
    const erasedConversations = conversations.filter((_, i) => i % 2 === 0);
    const results = await Promise.all(
      erasedConversations.map(async (id, i) => {
        await sleep(i * 15);
        return app.graphql(ERASE_CONVERSATION, { apiKey, variables: { id } });
      }),
    );
    for (const res of results) expect(res.errors).toBeUndefined();
    await sleep(500);
    pruning = false;
    await pruner;

    const [left] = await app.sql`
      select
        (select count(*)::int from events where conversation_id = any(${erasedConversations}::text[])) as events,
        (select count(*)::int from delivery_attempts a where not exists (select 1 from deliveries d where d.id = a.delivery_id)) as orphan_attempts`;
    expect(left).toEqual({ events: 0, orphanAttempts: 0 });
    // The conversations not erased were delivered in full: 10 conversations × 2 subscribed types.
    await eventually(async () => {
      const [row] = await app.sql`
        select count(*)::int as n from deliveries d join events e on e.id = d.event_id
        where d.status = 'pending'`;
      return row?.n === 0;
    });
    const keptIds = new Set(
      receiver.received
        .filter((r) => r.headers['webhook-id'])
        .map((r) => JSON.parse(r.body))
        .filter((body) => !erasedConversations.includes(body.conversationId))
        .map((body) => `${body.id}`),
    );
    expect(keptIds.size).toBe(20);
  });
});
