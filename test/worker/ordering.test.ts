import { beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../support/app.js';
import { REGISTER, UPDATE, validWebhook } from '../support/operations.js';
import { createReceiver, eventually, type Received, type Reply, sleep } from '../support/receiver.js';

/**
 * Webhooks with ordering CONVERSATION: one conversation's deliveries go one at a time, in
 * publish order, through retries, pauses, several worker processes and kill -9; other
 * conversations are not held back by a failing one.
 */
let app: TestApp;
beforeAll(async () => {
  app = await createTestApp({ DELIVERY_RETRY_SCHEDULE: '1s,1s,1s' });
});

const PUBLISH = `mutation Publish($input: PublishEventInput!) {
  publishEvent(input: $input) { id conversationId }
}`;

const PUBLISH_MANY = `mutation PublishMany($inputs: [PublishEventInput!]!) {
  publishEvents(inputs: $inputs) { id }
}`;

/** What a receiver saw of one request: the conversation and the event's place in it. */
const seen = (r: Received) => {
  const payload = JSON.parse(r.body) as { conversationId?: string; data: { seq: number } };
  return { conversation: payload.conversationId, seq: payload.data.seq };
};

/** The seq numbers a receiver got for one conversation, in arrival order (retries included). */
const arrivals = (received: Received[], conversation: string) =>
  received.map(seen).flatMap((s) => (s.conversation === conversation ? [s.seq] : []));

/**
 * A receiver that answers after `delayMs` (and as `reply` says) and counts, per
 * conversation, the most requests it had open at once.
 */
async function orderedReceiver(delayMs: number, reply: (request: Received) => Reply | undefined = () => undefined) {
  const open = new Map<string, number>();
  const mostOpen = new Map<string, number>();
  const receiver = await createReceiver((_index, request) => {
    const { conversation = '' } = seen(request);
    const now = (open.get(conversation) ?? 0) + 1;
    open.set(conversation, now);
    mostOpen.set(conversation, Math.max(now, mostOpen.get(conversation) ?? 0));
    setTimeout(() => open.set(conversation, (open.get(conversation) ?? 1) - 1), delayMs);
    return reply(request) ?? { status: 200, delayMs };
  });
  return { ...receiver, mostOpen };
}

const REGISTER_ORDERED = `mutation Register($input: RegisterWebhookInput!) {
  registerWebhook(input: $input) { id ordering }
}`;

async function orderedWebhook(apiKey: string, url: string, agentId: string, on: TestApp = app) {
  const res = await on.graphql(REGISTER_ORDERED, {
    apiKey,
    variables: { input: validWebhook({ url, agentId, events: ['CONVERSATION_ENDED'], ordering: 'CONVERSATION' }) },
  });
  expect(res.errors).toBeUndefined();
  expect(res.data?.registerWebhook.ordering).toBe('CONVERSATION');
  return res.data?.registerWebhook.id as string;
}

const publish = (apiKey: string, agentId: string, conversationId: string | undefined, seq: number, on = app) =>
  on.graphql(PUBLISH, {
    apiKey,
    variables: { input: { agentId, type: 'CONVERSATION_ENDED', conversationId, data: { seq } } },
  });

describe('ordering CONVERSATION', () => {
  it('retries the first event of a conversation before sending its second, while another conversation flows', async () => {
    const { apiKey } = await app.newWorkspace();
    let failuresLeft = 2;
    const receiver = await orderedReceiver(0, (request) => {
      const { conversation, seq } = seen(request);
      if (conversation === 'call-a' && seq === 0 && failuresLeft > 0) {
        failuresLeft--;
        return { status: 503 };
      }
      return undefined;
    });
    const id = await orderedWebhook(apiKey, receiver.url, 'agent-1');
    for (let seq = 0; seq < 3; seq++) {
      const a = await publish(apiKey, 'agent-1', 'call-a', seq);
      expect(a.data?.publishEvent.conversationId).toBe('call-a');
      await publish(apiKey, 'agent-1', 'call-b', seq);
    }
    // Each conversation's first is due; the rest wait their turn, with no attempt scheduled.
    const queued = await app.graphql(
      `query($id: ID!) { webhook(id: $id) { deliveries(first: 10) { edges { node { status nextAttemptAt } } } } }`,
      { apiKey, variables: { id } },
    );
    const nodes = queued.data?.webhook.deliveries.edges.map((e: { node: unknown }) => e.node);
    expect(nodes.filter((n: { nextAttemptAt: string | null }) => n.nextAttemptAt !== null)).toHaveLength(2);
    expect(nodes.every((n: { status: string }) => n.status === 'PENDING')).toBe(true);
    app.startWorker();

    // call-a: its first event three times (two 503s, then 200), then the rest in order.
    await receiver.waitFor(3 + 2 + 3, 20_000);
    expect(arrivals(receiver.received, 'call-a')).toEqual([0, 0, 0, 1, 2]);
    expect(arrivals(receiver.received, 'call-b')).toEqual([0, 1, 2]);
    // call-b was not held back by call-a's retries (a second apart): it was done before
    // call-a's first event got through.
    const order = receiver.received.map(seen);
    const a0GotThrough = order.map((s) => `${s.conversation}/${s.seq}`).lastIndexOf('call-a/0');
    const lastB = order.map((s) => s.conversation).lastIndexOf('call-b');
    expect(lastB).toBeLessThan(a0GotThrough);
    expect(receiver.mostOpen.get('call-a')).toBe(1);
    expect(receiver.mostOpen.get('call-b')).toBe(1);
  }, 30_000);

  it('sends the next event once the one before has failed for good', async () => {
    const local = await createTestApp({ DELIVERY_RETRY_SCHEDULE: '100ms' });
    const { apiKey } = await local.newWorkspace();
    const receiver = await orderedReceiver(0, (request) => (seen(request).seq === 0 ? { status: 500 } : undefined));
    await orderedWebhook(apiKey, receiver.url, 'a', local);
    for (let seq = 0; seq < 3; seq++) await publish(apiKey, 'a', 'c', seq, local);
    local.startWorker();
    await receiver.waitFor(4, 10_000);
    expect(arrivals(receiver.received, 'c')).toEqual([0, 0, 1, 2]);
    await eventually(async () => {
      const rows = await local.sql<{ status: string }[]>`
        select d.status from deliveries d join events e on e.id = d.event_id order by e.created_at`;
      return rows.map((row) => row.status).join() === 'failed,succeeded,succeeded';
    });
  }, 20_000);

  it('events without a conversationId, and webhooks with ordering NONE, are not ordered', async () => {
    const { apiKey } = await app.newWorkspace();
    const receiver = await orderedReceiver(300);
    const unordered = await createReceiver(() => ({ status: 200, delayMs: 300 }));
    await orderedWebhook(apiKey, receiver.url, 'agent-2');
    await app.graphql(REGISTER, {
      apiKey,
      variables: { input: validWebhook({ url: unordered.url, agentId: 'agent-2', events: ['CONVERSATION_ENDED'] }) },
    });
    for (let seq = 0; seq < 3; seq++) await publish(apiKey, 'agent-2', undefined, seq);
    for (let seq = 0; seq < 3; seq++) await publish(apiKey, 'agent-2', 'call-c', seq);
    app.startWorker();
    await receiver.waitFor(6, 10_000);
    await unordered.waitFor(6, 10_000);
    // No conversation: all three at once.
    expect(receiver.mostOpen.get('')).toBe(3);
    expect(receiver.mostOpen.get('call-c')).toBe(1);
    // The unordered webhook got call-c's events side by side.
    const startTimes = unordered.received.filter((r) => seen(r).conversation === 'call-c').map((r) => r.at);
    expect(Math.max(...startTimes) - Math.min(...startTimes)).toBeLessThan(300);
  }, 20_000);

  it('holds through a pause, and turning ordering off sends what was waiting', async () => {
    const { apiKey } = await app.newWorkspace();
    const receiver = await orderedReceiver(200);
    const id = await orderedWebhook(apiKey, receiver.url, 'agent-3');
    for (let seq = 0; seq < 6; seq++) await publish(apiKey, 'agent-3', 'call-d', seq);
    app.startWorker();
    await receiver.waitFor(1);
    const paused = await app.graphql(UPDATE, { apiKey, variables: { id, input: { active: false } } });
    expect(paused.errors).toBeUndefined();
    await sleep(800);
    // At most the one in flight at the pause, and the one it released.
    const whilePaused = receiver.received.length;
    expect(whilePaused).toBeLessThanOrEqual(2);
    await sleep(500);
    expect(receiver.received.length).toBe(whilePaused);
    await app.graphql(UPDATE, { apiKey, variables: { id, input: { active: true } } });
    await receiver.waitFor(whilePaused + 1);
    // Off again: the rest go at once, side by side.
    const off = await app.graphql(
      `mutation($id: ID!) { updateWebhook(id: $id, input: { ordering: NONE }) { ordering } }`,
      {
        apiKey,
        variables: { id },
      },
    );
    expect(off.data?.updateWebhook.ordering).toBe('NONE');
    await receiver.waitFor(6, 10_000);
    const got = arrivals(receiver.received, 'call-d');
    expect([...got].sort()).toEqual([0, 1, 2, 3, 4, 5]);
    // In order up to the switch.
    expect(got.slice(0, whilePaused + 1)).toEqual([...Array(whilePaused + 1).keys()]);
    expect(receiver.mostOpen.get('call-d')).toBeGreaterThan(1);
  }, 20_000);

  it('turning ordering off is one transaction: when releasing the chains fails, the webhook stays ordered', async () => {
    const { apiKey } = await app.newWorkspace();
    // The first of the chain stays on its way (hung), the rest wait behind it.
    const receiver = await createReceiver(() => ({ hang: true }));
    const id = await orderedWebhook(apiKey, receiver.url, 'agent-tx');
    for (let seq = 0; seq < 4; seq++) await publish(apiKey, 'agent-tx', 'call-tx', seq);
    const waiting = async () =>
      (await app.sql`select count(*)::int as n from deliveries where webhook_id = ${id} and waiting`)[0]?.n as number;
    expect(await waiting()).toBe(3);
    // The database refuses to release this webhook's chains (the second statement of the update).
    await app.sql.unsafe(`
      create function fail_chain_release() returns trigger language plpgsql as $$
        begin raise exception 'injected: releasing the chains failed'; end $$;
      create trigger fail_chain_release before update of waiting on deliveries for each row
        when (old.waiting and not new.waiting and old.webhook_id = '${id}') execute function fail_chain_release();`);
    const TURN_OFF = `mutation($id: ID!) { updateWebhook(id: $id, input: { ordering: NONE }) { ordering } }`;
    const ORDERING = `query($id: ID!) { webhook(id: $id) { ordering } }`;
    try {
      const failed = await app.graphql(TURN_OFF, { apiKey, variables: { id } });
      expect(failed.errors?.[0]?.extensions?.code).toBe('INTERNAL_SERVER_ERROR');
      expect((await app.graphql(ORDERING, { apiKey, variables: { id } })).data?.webhook.ordering).toBe('CONVERSATION');
      expect(await waiting()).toBe(3);
    } finally {
      await app.sql.unsafe(`drop trigger fail_chain_release on deliveries; drop function fail_chain_release();`);
    }
    const turnedOff = await app.graphql(TURN_OFF, { apiKey, variables: { id } });
    expect(turnedOff.data?.updateWebhook.ordering).toBe('NONE');
    expect(await waiting()).toBe(0);
  });

  it('holds across two worker processes and through kill -9', async () => {
    // Its own database: only the worker processes below deliver.
    const app = await createTestApp();
    const { apiKey } = await app.newWorkspace();
    const CONVERSATIONS = 8;
    const EVENTS = 5;
    const receiver = await orderedReceiver(60);
    await orderedWebhook(apiKey, receiver.url, 'agent-4', app);
    for (let seq = 0; seq < EVENTS; seq++) {
      await Promise.all(
        Array.from({ length: CONVERSATIONS }, (_, c) => publish(apiKey, 'agent-4', `call-${c}`, seq, app)),
      );
    }
    const env = { ROLE: 'worker', DELIVERY_TIMEOUT_MS: '500', DELIVERY_RETRY_SCHEDULE: '200ms' };
    const workers = [0, 1].map(() => app.spawnServer(env, /delivery worker started/));
    await Promise.all(workers.map((w) => w.started));
    await receiver.waitFor(CONVERSATIONS);
    workers[0]?.signal('SIGKILL');
    const third = app.spawnServer(env, /delivery worker started/);
    try {
      // Up before the end: a worker stopped while still starting would fail its start.
      await third.started;
      // Whatever the killed worker had in flight comes due when its lease (2 × 500 ms + 5 s) runs out.
      await eventually(async () => {
        const [row] = await app.sql`
          select count(*) filter (where d.status = 'succeeded')::int as ok from deliveries d
          join webhooks w on w.id = d.webhook_id where w.agent_id = 'agent-4'`;
        return row?.ok === CONVERSATIONS * EVENTS;
      }, 25_000);
      for (let c = 0; c < CONVERSATIONS; c++) {
        const got = arrivals(receiver.received, `call-${c}`);
        // Every event, and never one before the event ahead of it (a re-send after the kill
        // repeats the event in flight, still before the next).
        expect(new Set(got)).toEqual(new Set([0, 1, 2, 3, 4]));
        expect(got).toEqual([...got].sort((a, b) => a - b));
        expect(receiver.mostOpen.get(`call-${c}`)).toBe(1);
      }
    } finally {
      for (const w of [workers[1], third]) w?.signal('SIGTERM');
      await Promise.all([workers[1], third].map((w) => w?.exited));
    }
  }, 45_000);

  it("queues a batch's events of one conversation behind each other, and behind earlier publishes, in the batch's order", async () => {
    // Its own database: nothing delivers until the stored chains are checked.
    const local = await createTestApp();
    const { apiKey } = await local.newWorkspace();
    const receiver = await orderedReceiver(100);
    const unordered = await createReceiver();
    const id = await orderedWebhook(apiKey, receiver.url, 'b', local);
    await local.graphql(REGISTER, {
      apiKey,
      variables: { input: validWebhook({ url: unordered.url, agentId: 'b', events: ['CONVERSATION_ENDED'] }) },
    });
    await publish(apiKey, 'b', 'c1', 0, local);
    const batch = [
      [1, 'c2'],
      [2, 'c1'],
      [3, 'c2'],
      [4, undefined],
      [5, 'c1'],
      [6, 'c2'],
    ].map(([seq, conversationId]) => ({ agentId: 'b', type: 'CONVERSATION_ENDED', conversationId, data: { seq } }));
    const res = await local.graphql(PUBLISH_MANY, { apiKey, variables: { inputs: batch } });
    expect(res.errors).toBeUndefined();
    const chain = (webhookId: string) => local.sql`
      select (e.payload::json -> 'data' ->> 'seq')::int as seq, d.conversation_id, d.waiting
      from deliveries d join events e on e.id = d.event_id
      where d.webhook_id = ${webhookId} order by d.conversation_position nulls last`;
    // Positions in publish order; each conversation's first goes, the rest wait their turn.
    expect(await chain(id)).toEqual([
      { seq: 0, conversationId: 'c1', waiting: false },
      { seq: 1, conversationId: 'c2', waiting: false },
      { seq: 2, conversationId: 'c1', waiting: true },
      { seq: 3, conversationId: 'c2', waiting: true },
      { seq: 5, conversationId: 'c1', waiting: true },
      { seq: 6, conversationId: 'c2', waiting: true },
      { seq: 4, conversationId: null, waiting: false },
    ]);
    const [other] = await local.sql<{ id: string }[]>`select id from webhooks where url = ${unordered.url}`;
    const free = await chain(other?.id ?? '');
    expect(free).toHaveLength(7);
    expect(free.every((d) => d.conversationId === null && !d.waiting)).toBe(true);
    local.startWorker();
    await receiver.waitFor(7, 15_000);
    expect(arrivals(receiver.received, 'c1')).toEqual([0, 2, 5]);
    expect(arrivals(receiver.received, 'c2')).toEqual([1, 3, 6]);
    expect(receiver.mostOpen.get('c1')).toBe(1);
    expect(receiver.mostOpen.get('c2')).toBe(1);
  }, 30_000);

  it('batches sharing conversations in opposite orders, published at once, all go through', async () => {
    const { apiKey } = await app.newWorkspace();
    const receiver = await orderedReceiver(20);
    await orderedWebhook(apiKey, receiver.url, 'agent-6');
    const conversations = ['c1', 'c2', 'c3', 'c4', 'c5'];
    // Locks taken in each batch's own order would deadlock these pairs.
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, n) => {
        const order = n % 2 === 0 ? conversations : [...conversations].reverse();
        const inputs = order.map((conversationId) => ({
          agentId: 'agent-6',
          type: 'CONVERSATION_ENDED',
          conversationId,
          data: { seq: n },
        }));
        return app.graphql(PUBLISH_MANY, { apiKey, variables: { inputs } });
      }),
    );
    for (const res of results) expect(res.errors).toBeUndefined();
    app.startWorker();
    await receiver.waitFor(40, 20_000);
    for (const conversation of conversations) {
      expect(new Set(arrivals(receiver.received, conversation))).toEqual(new Set([0, 1, 2, 3, 4, 5, 6, 7]));
      expect(receiver.mostOpen.get(conversation)).toBe(1);
    }
  }, 30_000);

  it('conversationId is 1 to 128 characters without control characters; ordering must not be null', async () => {
    const { apiKey } = await app.newWorkspace();
    for (const conversationId of ['', ' ', 'x'.repeat(129), 'a\nb']) {
      const res = await publish(apiKey, 'agent-5', conversationId, 0);
      expect(res.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      expect(res.errors?.[0]?.extensions?.issues[0].path).toEqual(['input', 'conversationId']);
    }
    const [events] = await app.sql`select count(*)::int as n from events where agent_id = 'agent-5'`;
    expect(events?.n).toBe(0);
    const receiver = await createReceiver();
    const id = await orderedWebhook(apiKey, receiver.url, 'agent-5');
    const res = await app.graphql(UPDATE, { apiKey, variables: { id, input: { ordering: null } } });
    expect(res.errors?.[0]?.extensions?.issues[0].path).toEqual(['input', 'ordering']);
  });
});
