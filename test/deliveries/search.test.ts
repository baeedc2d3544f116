import { beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../support/app.js';
import { httpClient } from '../support/http-client.js';
import { PUBLISH, REGISTER, validWebhook } from '../support/operations.js';

type Status = 'pending' | 'succeeded' | 'failed';
type EventRow = { id: string; agentId: string; type: string; at: Date };
type DeliveryRow = { id: string; eventId: string; webhookId: string; status: Status; at: Date };

const EVENTS = `query Events($agentId: String, $type: WebhookEvent, $since: DateTime, $until: DateTime,
    $first: Int, $after: String, $last: Int, $before: String) {
  events(agentId: $agentId, type: $type, since: $since, until: $until, first: $first, after: $after, last: $last, before: $before) {
    totalCount
    edges { cursor node { id agentId type createdAt } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}`;

const DELIVERIES = `query Deliveries($status: DeliveryStatus, $webhookId: ID, $since: DateTime, $until: DateTime,
    $first: Int, $after: String, $last: Int, $before: String) {
  deliveries(status: $status, webhookId: $webhookId, since: $since, until: $until, first: $first, after: $after, last: $last, before: $before) {
    totalCount
    edges { cursor node { id status createdAt webhook { id } event { id } } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}`;

const BASE = Date.parse('2026-11-20T10:00:00.000Z');
const minute = (n: number) => new Date(BASE + n * 60_000);

let app: TestApp;
let graphql: Awaited<ReturnType<typeof httpClient>>;

/**
 * A workspace with three webhooks (two of agent-1, one of agent-2) and 12 events, event i published "at" minute i; each delivery
 * shares its event's time, and its status is set by a rule the expectations repeat.
 */
async function tenant() {
  const { apiKey } = await app.newWorkspace();
  const register = async (agentId: string, events: string[]) =>
    (await graphql(apiKey, REGISTER, { input: validWebhook({ agentId, events }) })).data?.registerWebhook.id as string;
  const all = ['CONVERSATION_STARTED', 'CONVERSATION_ENDED', 'CONVERSATION_ANALYSED'];
  const webhooks = [await register('agent-1', all), await register('agent-1', all), await register('agent-2', all)];
  const types = ['CONVERSATION_STARTED', 'CONVERSATION_ENDED', 'CONVERSATION_ANALYSED'];
  const events: EventRow[] = [];
  const deliveries: DeliveryRow[] = [];
  for (let i = 0; i < 12; i++) {
    const agentId = i % 3 === 2 ? 'agent-2' : 'agent-1';
    const type = types[i % 3] as string;
    const input = { agentId, type, data: { conversationId: `conv_${i}` } };
    const res = await graphql(apiKey, PUBLISH, { input });
    const id: string = res.data?.publishEvent.id;
    const at = minute(i);
    events.push({ id, agentId, type: type.toLowerCase(), at });
    await app.sql`update events set created_at = ${at} where id = ${id}`;
    const rows = await app.sql<{ id: string; webhookId: string }[]>`
      select id, webhook_id from deliveries where event_id = ${id}`;
    // In the order the webhooks were registered, so each webhook's statuses are the same every run.
    rows.sort((a, b) => webhooks.indexOf(a.webhookId) - webhooks.indexOf(b.webhookId));
    for (const row of rows) {
      const n = deliveries.length;
      const status: Status = n % 4 === 1 ? 'failed' : n % 4 === 3 ? 'pending' : 'succeeded';
      deliveries.push({ id: row.id, eventId: id, webhookId: row.webhookId, status, at });
      await app.sql`update deliveries set created_at = ${at}, status = ${status},
        next_attempt_at = ${status === 'pending' ? at : null} where id = ${row.id}`;
    }
  }
  return { apiKey, webhooks, events, deliveries };
}

const newestFirst = <T extends { id: string; at: Date }>(rows: T[]) =>
  [...rows].sort((a, b) => b.at.getTime() - a.at.getTime() || (a.id < b.id ? 1 : -1)).map((r) => r.id);

let mine: Awaited<ReturnType<typeof tenant>>;
let theirs: Awaited<ReturnType<typeof tenant>>;

beforeAll(async () => {
  app = await createTestApp();
  graphql = await httpClient(app);
  mine = await tenant();
  theirs = await tenant();
});

async function list(query: string, field: 'events' | 'deliveries', variables: Record<string, unknown>) {
  const res = await graphql(mine.apiKey, query, { first: 100, ...variables });
  expect(res.errors).toBeUndefined();
  const connection = res.data?.[field];
  return { ids: connection.edges.map((e: { node: { id: string } }) => e.node.id) as string[], connection };
}

describe('Query.events', () => {
  it('lists the workspace’s events newest first, and nothing of another workspace', async () => {
    const { ids, connection } = await list(EVENTS, 'events', {});
    expect(ids).toEqual(newestFirst(mine.events));
    expect(connection.totalCount).toBe(12);
    expect(connection.edges[0].node).toEqual({
      id: ids[0],
      agentId: 'agent-2',
      type: 'conversation_analysed',
      createdAt: minute(11).toISOString(),
    });
  });

  it('filters by agent, by type, and by both', async () => {
    const byAgent = await list(EVENTS, 'events', { agentId: 'agent-1' });
    expect(byAgent.ids).toEqual(newestFirst(mine.events.filter((e) => e.agentId === 'agent-1')));
    expect(byAgent.connection.totalCount).toBe(8);
    const byType = await list(EVENTS, 'events', { type: 'CONVERSATION_ENDED' });
    expect(byType.ids).toEqual(newestFirst(mine.events.filter((e) => e.type === 'conversation_ended')));
    expect(byType.ids).toHaveLength(4);
    const both = await list(EVENTS, 'events', { agentId: 'agent-2', type: 'CONVERSATION_ANALYSED' });
    expect(both.ids).toEqual(
      newestFirst(mine.events.filter((e) => e.agentId === 'agent-2' && e.type === 'conversation_analysed')),
    );
    expect(both.ids).toHaveLength(4);
    const none = await list(EVENTS, 'events', { agentId: 'agent-2', type: 'CONVERSATION_STARTED' });
    expect(none.ids).toEqual([]);
  });

  it('since is inclusive, until exclusive, and they combine with the other filters', async () => {
    const range = await list(EVENTS, 'events', { since: minute(3).toISOString(), until: minute(8).toISOString() });
    expect(range.ids).toEqual(newestFirst(mine.events.slice(3, 8)));
    const sinceOnly = await list(EVENTS, 'events', { since: minute(10).toISOString() });
    expect(sinceOnly.ids).toEqual(newestFirst(mine.events.slice(10)));
    const untilOnly = await list(EVENTS, 'events', { until: minute(1).toISOString() });
    expect(untilOnly.ids).toEqual([mine.events[0]?.id]);
    const combined = await list(EVENTS, 'events', {
      agentId: 'agent-1',
      type: 'CONVERSATION_STARTED',
      since: minute(3).toISOString(),
      until: minute(9).toISOString(),
    });
    expect(combined.ids).toEqual([mine.events[6]?.id, mine.events[3]?.id]);
    const empty = await list(EVENTS, 'events', { since: minute(5).toISOString(), until: minute(5).toISOString() });
    expect(empty.ids).toEqual([]);
  });

  it('pages a filtered list backwards and forwards', async () => {
    const expected = newestFirst(mine.events.filter((e) => e.agentId === 'agent-1'));
    const last = await list(EVENTS, 'events', { agentId: 'agent-1', first: undefined, last: 3 });
    expect(last.ids).toEqual(expected.slice(5));
    expect(last.connection.pageInfo).toMatchObject({ hasPreviousPage: true, hasNextPage: false });
    const before = await list(EVENTS, 'events', {
      agentId: 'agent-1',
      first: undefined,
      last: 3,
      before: last.connection.pageInfo.startCursor,
    });
    expect(before.ids).toEqual(expected.slice(2, 5));
    expect(before.connection.pageInfo).toMatchObject({ hasPreviousPage: true, hasNextPage: true });
    const after = await list(EVENTS, 'events', {
      agentId: 'agent-1',
      first: 4,
      after: before.connection.pageInfo.endCursor,
    });
    expect(after.ids).toEqual(expected.slice(5));
    expect(after.connection.pageInfo).toMatchObject({ hasPreviousPage: true, hasNextPage: false });
  });
});

describe('Query.deliveries', () => {
  const all = () => mine.deliveries;

  it('lists every delivery of the workspace newest first, whatever its status, forwards and backwards', async () => {
    const expected = newestFirst(all());
    expect(expected).toHaveLength(20);
    const { ids, connection } = await list(DELIVERIES, 'deliveries', {});
    expect(ids).toEqual(expected);
    expect(connection.totalCount).toBe(20);
    // In small pages, so pages cross from one status to another and between rows sharing a time.
    const forwards: string[] = [];
    let page = await list(DELIVERIES, 'deliveries', { first: 3 });
    for (;;) {
      forwards.push(...page.ids);
      if (!page.connection.pageInfo.hasNextPage) break;
      page = await list(DELIVERIES, 'deliveries', { first: 3, after: page.connection.pageInfo.endCursor });
    }
    expect(forwards).toEqual(expected);
    const backwards: string[] = [];
    page = await list(DELIVERIES, 'deliveries', { first: undefined, last: 3 });
    for (;;) {
      backwards.unshift(...page.ids);
      if (!page.connection.pageInfo.hasPreviousPage) break;
      page = await list(DELIVERIES, 'deliveries', {
        first: undefined,
        last: 3,
        before: page.connection.pageInfo.startCursor,
      });
    }
    expect(backwards).toEqual(expected);
  });

  it('filters by each status, with the delivery as it stands', async () => {
    for (const status of ['pending', 'succeeded', 'failed'] as const) {
      const { ids, connection } = await list(DELIVERIES, 'deliveries', { status: status.toUpperCase() });
      expect(ids, status).toEqual(newestFirst(all().filter((d) => d.status === status)));
      expect(connection.totalCount, status).toBe(ids.length);
      for (const edge of connection.edges) expect(edge.node.status).toBe(status.toUpperCase());
    }
  });

  it('filters by webhook, alone and with a status', async () => {
    for (const webhookId of mine.webhooks) {
      const { ids, connection } = await list(DELIVERIES, 'deliveries', { webhookId });
      expect(ids).toEqual(newestFirst(all().filter((d) => d.webhookId === webhookId)));
      for (const edge of connection.edges) expect(edge.node.webhook.id).toBe(webhookId);
      for (const status of ['pending', 'succeeded', 'failed'] as const) {
        const filtered = await list(DELIVERIES, 'deliveries', { webhookId, status: status.toUpperCase() });
        expect(filtered.ids, `${webhookId} ${status}`).toEqual(
          newestFirst(all().filter((d) => d.webhookId === webhookId && d.status === status)),
        );
        expect(filtered.connection.totalCount).toBe(filtered.ids.length);
      }
    }
  });

  it('since inclusive and until exclusive, combined with status and webhook', async () => {
    const since = minute(4);
    const until = minute(10);
    const inRange = (d: DeliveryRow) => d.at >= since && d.at < until;
    const range = await list(DELIVERIES, 'deliveries', { since: since.toISOString(), until: until.toISOString() });
    expect(range.ids).toEqual(newestFirst(all().filter(inRange)));
    const webhookId = mine.webhooks[0];
    const combined = await list(DELIVERIES, 'deliveries', {
      status: 'SUCCEEDED',
      webhookId,
      since: since.toISOString(),
      until: until.toISOString(),
    });
    const expected = newestFirst(
      all().filter((d) => inRange(d) && d.status === 'succeeded' && d.webhookId === webhookId),
    );
    expect(expected.length).toBeGreaterThan(0);
    expect(combined.ids).toEqual(expected);
    const failedSince = await list(DELIVERIES, 'deliveries', { status: 'FAILED', since: minute(6).toISOString() });
    expect(failedSince.ids).toEqual(newestFirst(all().filter((d) => d.status === 'failed' && d.at >= minute(6))));
  });

  it("another workspace's webhook, an unknown one and a malformed id list nothing", async () => {
    for (const webhookId of [theirs.webhooks[0], 'wh_0000000000000000', 'not-a-webhook']) {
      const { ids, connection } = await list(DELIVERIES, 'deliveries', { webhookId });
      expect(ids, webhookId).toEqual([]);
      expect(connection.totalCount).toBe(0);
      expect(connection.pageInfo).toMatchObject({ hasNextPage: false, hasPreviousPage: false });
    }
  });

  it('the other workspace lists only its own', async () => {
    const res = await graphql(theirs.apiKey, DELIVERIES, { first: 100 });
    expect(res.data?.deliveries.edges.map((e: { node: { id: string } }) => e.node.id)).toEqual(
      newestFirst(theirs.deliveries),
    );
  });
});

describe('Event.deliveries(status)', () => {
  it("lists only the event's deliveries in that state", async () => {
    const query = `query ($id: ID!, $status: DeliveryStatus) {
      event(id: $id) { deliveries(status: $status) { totalCount edges { node { id status } } } } }`;
    for (const event of mine.events) {
      const mineOf = all().filter((d) => d.eventId === event.id);
      for (const status of ['pending', 'succeeded', 'failed'] as const) {
        const res = await graphql(mine.apiKey, query, { id: event.id, status: status.toUpperCase() });
        expect(res.errors).toBeUndefined();
        const ids = res.data?.event.deliveries.edges.map((e: { node: { id: string } }) => e.node.id);
        expect(ids, `${event.id} ${status}`).toEqual(newestFirst(mineOf.filter((d) => d.status === status)));
        expect(res.data?.event.deliveries.totalCount).toBe(ids.length);
      }
    }
  });

  function all() {
    return mine.deliveries;
  }
});

describe('bad search arguments', () => {
  it('since later than until is BAD_USER_INPUT on since, reported with the paging problems', async () => {
    for (const [query, field] of [
      [EVENTS, 'events'],
      [DELIVERIES, 'deliveries'],
    ] as const) {
      const res = await graphql(mine.apiKey, query, { since: minute(5).toISOString(), until: minute(4).toISOString() });
      expect(res.data?.[field] ?? null, field).toBeNull();
      expect(res.errors?.[0]?.extensions, field).toEqual({
        code: 'BAD_USER_INPUT',
        issues: [{ path: ['since'], message: 'must not be later than until' }],
      });
      const both = await graphql(mine.apiKey, query, {
        since: minute(5).toISOString(),
        until: minute(4).toISOString(),
        first: 5,
        last: 5,
      });
      expect(both.errors?.[0]?.extensions?.issues, field).toEqual([
        { path: ['since'], message: 'must not be later than until' },
        { path: ['last'], message: 'cannot be used with first' },
      ]);
    }
  });

  it('a time that is not a date, a status or a type that does not exist: BAD_USER_INPUT', async () => {
    const notADate = await graphql(mine.apiKey, EVENTS, { since: 'yesterday' });
    expect(notADate.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT' });
    const badStatus = await graphql(mine.apiKey, DELIVERIES, { status: 'LOST' });
    expect(badStatus.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT' });
    const badType = await graphql(mine.apiKey, EVENTS, { type: 'CONVERSATION_PAUSED' });
    expect(badType.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT' });
    const blankAgent = await graphql(mine.apiKey, EVENTS, { agentId: '  ' });
    expect(blankAgent.errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      issues: [{ path: ['agentId'] }],
    });
  });
});
