import { beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../support/app.js';
import { httpClient } from '../support/http-client.js';
import { conversationEnded, PUBLISH, REGISTER, validWebhook } from '../support/operations.js';

type PageInfo = {
  hasNextPage: boolean;
  hasPreviousPage: boolean;
  startCursor: string | null;
  endCursor: string | null;
};
type Connection = { edges: { cursor: string; node: { id: string } }[]; pageInfo: PageInfo };
type Args = { first?: number; after?: string; last?: number; before?: string };

const PAGE = 'edges { cursor node { id } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor }';

let app: TestApp;
let graphql: Awaited<ReturnType<typeof httpClient>>;
let apiKey: string;
/** Newest first, as every list is ordered. */
let webhooks: string[];
let fanOutEvent: string;
/** The fan-out event's deliveries, newest first: created in one statement, so they share created_at. */
let fanOutDeliveries: string[];

beforeAll(async () => {
  app = await createTestApp();
  graphql = await httpClient(app);
  ({ apiKey } = await app.newWorkspace());
  const registered: string[] = [];
  for (let i = 0; i < 23; i++) {
    const res = await graphql(apiKey, REGISTER, { input: validWebhook({ name: `hook ${i}`, agentId: 'fan' }) });
    registered.push(res.data?.registerWebhook.id);
  }
  webhooks = registered.reverse();
  const published = await graphql(apiKey, PUBLISH, { input: conversationEnded('fan') });
  fanOutEvent = published.data?.publishEvent.id;
  const rows = await app.sql<{ id: string }[]>`select id from deliveries where event_id = ${fanOutEvent}
    order by created_at desc, id desc`;
  fanOutDeliveries = rows.map((r) => r.id);
});

/** The lists under test: each a connection of the same API, read the same way. */
const lists: Record<string, { read: (args: Args) => Promise<Connection>; all: () => string[] }> = {
  'Query.webhooks': {
    read: async (args) => {
      const res = await graphql(
        apiKey,
        `query ($first: Int, $after: String, $last: Int, $before: String) {
          webhooks(first: $first, after: $after, last: $last, before: $before) { ${PAGE} } }`,
        args,
      );
      expect(res.errors).toBeUndefined();
      return res.data?.webhooks;
    },
    all: () => webhooks,
  },
  'Event.deliveries (rows sharing one created_at)': {
    read: async (args) => {
      const res = await graphql(
        apiKey,
        `query ($id: ID!, $first: Int, $after: String, $last: Int, $before: String) {
          event(id: $id) { deliveries(first: $first, after: $after, last: $last, before: $before) { ${PAGE} } } }`,
        { id: fanOutEvent, ...args },
      );
      expect(res.errors).toBeUndefined();
      return res.data?.event.deliveries;
    },
    all: () => fanOutDeliveries,
  },
};

const ids = (c: Connection) => c.edges.map((e) => e.node.id);

describe.each(Object.entries(lists))('%s', (_name, list) => {
  it('pages backwards from the end to the start, each item once, and says where it is', async () => {
    const all = list.all();
    const seen: string[] = [];
    const flags: [boolean, boolean][] = [];
    let page = await list.read({ last: 5 });
    for (;;) {
      seen.unshift(...ids(page));
      flags.push([page.pageInfo.hasPreviousPage, page.pageInfo.hasNextPage]);
      expect(page.pageInfo.startCursor).toBe(page.edges[0]?.cursor);
      expect(page.pageInfo.endCursor).toBe(page.edges.at(-1)?.cursor);
      if (!page.pageInfo.hasPreviousPage) break;
      page = await list.read({ last: 5, before: page.pageInfo.startCursor as string });
    }
    expect(seen).toEqual(all);
    // 23 items in fives from the end: 5, 5, 5, 5, then the newest 3.
    expect(flags).toEqual([
      [true, false],
      [true, true],
      [true, true],
      [true, true],
      [false, true],
    ]);
    expect(ids(page)).toEqual(all.slice(0, 3));
  });

  it('pages forwards with hasPreviousPage true after the first page, hasNextPage false at the end', async () => {
    const all = list.all();
    const seen: string[] = [];
    const flags: [boolean, boolean][] = [];
    let page = await list.read({ first: 10 });
    for (;;) {
      seen.push(...ids(page));
      flags.push([page.pageInfo.hasPreviousPage, page.pageInfo.hasNextPage]);
      if (!page.pageInfo.hasNextPage) break;
      page = await list.read({ first: 10, after: page.pageInfo.endCursor as string });
    }
    expect(seen).toEqual(all);
    expect(flags).toEqual([
      [false, true],
      [true, true],
      [true, false],
    ]);
  });

  it('going back from a forward page meets the page before it, exactly', async () => {
    const all = list.all();
    const first = await list.read({ first: 7 });
    const second = await list.read({ first: 7, after: first.pageInfo.endCursor as string });
    expect(ids(second)).toEqual(all.slice(7, 14));
    const back = await list.read({ last: 7, before: second.pageInfo.startCursor as string });
    expect(back).toEqual(first);
    expect(back.pageInfo).toMatchObject({ hasPreviousPage: false, hasNextPage: true });
    // Forwards again from the backward page's end cursor: the second page once more.
    const again = await list.read({ first: 7, after: back.pageInfo.endCursor as string });
    expect(ids(again)).toEqual(ids(second));
    // A smaller backward step from the middle: the 3 items just before the second page.
    const step = await list.read({ last: 3, before: second.pageInfo.startCursor as string });
    expect(ids(step)).toEqual(all.slice(4, 7));
    expect(step.pageInfo).toMatchObject({ hasPreviousPage: true, hasNextPage: true });
  });

  it('a page after the newest item alone still has a previous page; one before the oldest alone a next', async () => {
    const all = list.all();
    const newest = await list.read({ first: 1 });
    expect(newest.pageInfo).toMatchObject({ hasPreviousPage: false, hasNextPage: true });
    const rest = await list.read({ first: 100, after: newest.pageInfo.endCursor as string });
    expect(ids(rest)).toEqual(all.slice(1));
    expect(rest.pageInfo).toMatchObject({ hasPreviousPage: true, hasNextPage: false });
    const oldest = await list.read({ last: 1 });
    expect(ids(oldest)).toEqual(all.slice(-1));
    const before = await list.read({ last: 100, before: oldest.pageInfo.startCursor as string });
    expect(ids(before)).toEqual(all.slice(0, -1));
    expect(before.pageInfo).toMatchObject({ hasPreviousPage: false, hasNextPage: true });
  });

  it('after and before together give the items between them', async () => {
    const all = list.all();
    const everything = await list.read({ first: 100 });
    const cursor = (id: string) => everything.edges.find((e) => e.node.id === id)?.cursor as string;
    const between = await list.read({ after: cursor(all[2] as string), before: cursor(all[9] as string) });
    expect(ids(between)).toEqual(all.slice(3, 9));
    const lastTwo = await list.read({ after: cursor(all[2] as string), before: cursor(all[9] as string), last: 2 });
    expect(ids(lastTwo)).toEqual(all.slice(7, 9));
  });
});

describe('backward paging under many parents at once', () => {
  it('Webhook.deliveries inside a page of webhooks takes last/before too', async () => {
    const res = await graphql(
      apiKey,
      `{ webhooks(last: 3) { edges { node { id deliveries(last: 1) { ${PAGE} } } } } }`,
    );
    expect(res.errors).toBeUndefined();
    const edges = res.data?.webhooks.edges as { node: { id: string; deliveries: Connection } }[];
    expect(edges.map((e) => e.node.id)).toEqual(webhooks.slice(-3));
    for (const { node } of edges) {
      const [delivery] = await app.sql<{ id: string }[]>`select id from deliveries where webhook_id = ${node.id}`;
      expect(ids(node.deliveries)).toEqual([delivery?.id]);
      expect(node.deliveries.pageInfo).toMatchObject({ hasPreviousPage: false, hasNextPage: false });
    }
  });
});

describe('bad paging arguments', () => {
  const cases: [string, () => Args, { path: (string | number)[]; message: string }[]][] = [
    ['first with last', () => ({ first: 2, last: 2 }), [{ path: ['last'], message: 'cannot be used with first' }]],
    ['last 0', () => ({ last: 0 }), [{ path: ['last'], message: 'must be at least 1' }]],
    ['last negative', () => ({ last: -3 }), [{ path: ['last'], message: 'must be at least 1' }]],
    ['last over the cap', () => ({ last: 101 }), [{ path: ['last'], message: 'must be at most 100' }]],
    ['first negative', () => ({ first: -1 }), [{ path: ['first'], message: 'must be at least 1' }]],
    ['first over the cap', () => ({ first: 101 }), [{ path: ['first'], message: 'must be at most 100' }]],
    [
      'a malformed before',
      () => ({ last: 2, before: 'bm90IGEgY3Vyc29y' }),
      [{ path: ['before'], message: 'is not a cursor returned by this connection' }],
    ],
    [
      'a malformed after',
      // "foo:bar": a cursor's shape, not a position.
      () => ({ first: 2, after: Buffer.from('foo:bar').toString('base64url') }),
      [{ path: ['after'], message: 'is not a cursor returned by this connection' }],
    ],
    [
      'first with last and two malformed cursors, all at once',
      () => ({ first: 1, last: 1, after: '!', before: '' }),
      [
        { path: ['last'], message: 'cannot be used with first' },
        { path: ['after'], message: 'is not a cursor returned by this connection' },
        { path: ['before'], message: 'is not a cursor returned by this connection' },
      ],
    ],
  ];
  const fields: Record<string, (args: string) => string> = {
    'Query.webhooks': (args) => `webhooks(${args}) { edges { cursor } }`,
    'Query.events': (args) => `events(${args}) { edges { cursor } }`,
    'Query.deliveries': (args) => `deliveries(${args}) { edges { cursor } }`,
    'Webhook.deliveries': (args) =>
      `webhooks(first: 1) { edges { node { deliveries(${args}) { edges { cursor } } } } }`,
    'Event.deliveries': (args) => `event(id: "${fanOutEvent}") { deliveries(${args}) { edges { cursor } } }`,
  };

  it.each(Object.keys(fields))('%s answers each with BAD_USER_INPUT naming the argument', async (field) => {
    const select = fields[field] as (args: string) => string;
    for (const [what, args, issues] of cases) {
      const res = await graphql(
        apiKey,
        `query ($first: Int, $after: String, $last: Int, $before: String) {
          ${select('first: $first, after: $after, last: $last, before: $before')} }`,
        args(),
      );
      expect(res.errors?.[0]?.extensions, what).toMatchObject({ code: 'BAD_USER_INPUT', issues });
      expect(res.errors, what).toHaveLength(1);
    }
  });
});
