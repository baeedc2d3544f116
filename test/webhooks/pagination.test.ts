import { beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type GraphQLResponse, type TestApp } from '../support/app.js';
import { LIST, REGISTER, validWebhook } from '../support/operations.js';

let app: TestApp;
let apiKey: string;
const registered: string[] = [];

beforeAll(async () => {
  app = await createTestApp();
  ({ apiKey } = await app.newWorkspace());
  // 45 webhooks over two agents, every third one paused, registered one after another.
  for (let i = 0; i < 45; i++) {
    const input = validWebhook({ name: `hook ${i}`, agentId: i % 2 ? 'agent-odd' : 'agent-even', active: i % 3 !== 0 });
    const res = await app.graphql(REGISTER, { apiKey, variables: { input } });
    registered.push(res.data?.registerWebhook.id);
  }
});

async function allPages(variables: Record<string, unknown>) {
  const ids: string[] = [];
  const pageSizes: number[] = [];
  let after: string | null = null;
  for (;;) {
    const res: GraphQLResponse = await app.graphql(LIST, { apiKey, variables: { ...variables, after } });
    expect(res.errors).toBeUndefined();
    const connection: any = res.data?.webhooks;
    pageSizes.push(connection.edges.length);
    ids.push(...connection.edges.map((e: any) => e.node.id));
    expect(connection.pageInfo.endCursor).toBe(connection.edges.at(-1)?.cursor ?? null);
    if (!connection.pageInfo.hasNextPage) return { ids, pageSizes, totalCount: connection.totalCount };
    after = connection.pageInfo.endCursor;
  }
}

describe('webhooks connection', () => {
  it('pages newest first through every webhook exactly once', async () => {
    const { ids, pageSizes, totalCount } = await allPages({ first: 10 });
    expect(ids).toEqual([...registered].reverse());
    expect(pageSizes).toEqual([10, 10, 10, 10, 5]);
    expect(totalCount).toBe(45);
  });

  it('returns 20 by default and 100 at most', async () => {
    const res = await app.graphql(LIST, { apiKey });
    expect(res.data?.webhooks.edges).toHaveLength(20);
    expect(res.data?.webhooks.pageInfo).toMatchObject({ hasNextPage: true, hasPreviousPage: false });
    const all = await app.graphql(LIST, { apiKey, variables: { first: 100 } });
    expect(all.data?.webhooks.edges).toHaveLength(45);
    expect(all.data?.webhooks.pageInfo.hasNextPage).toBe(false);
  });

  it('filters by agent and by active, and totalCount counts the filtered set', async () => {
    const odd = await allPages({ agentId: 'agent-odd', first: 7 });
    expect(odd.ids).toEqual([...registered].reverse().filter((_, i) => (44 - i) % 2 === 1));
    expect(odd.totalCount).toBe(22);
    const paused = await allPages({ active: false, first: 4 });
    expect(paused.totalCount).toBe(15);
    expect(paused.ids).toEqual([...registered].reverse().filter((_, i) => (44 - i) % 3 === 0));
    const pausedOdd = await allPages({ active: false, agentId: 'agent-odd' });
    expect(pausedOdd.ids).toHaveLength(7);
  });

  it('stays stable when rows are inserted and deleted between pages', async () => {
    const first = await app.graphql(LIST, { apiKey, variables: { first: 5 } });
    const cursor = first.data?.webhooks.pageInfo.endCursor;
    const seen = first.data?.webhooks.edges.map((e: any) => e.node.id);
    // A new webhook lands on top, and the last row of the page we hold is deleted.
    await app.graphql(REGISTER, { apiKey, variables: { input: validWebhook({ agentId: 'late' }) } });
    await app.sql`delete from webhooks where id = ${seen.at(-1)}`;
    const next = await app.graphql(LIST, { apiKey, variables: { first: 5, after: cursor } });
    const nextIds = next.data?.webhooks.edges.map((e: any) => e.node.id);
    const expected = [...registered].reverse();
    expect(nextIds).toEqual(expected.slice(5, 10));
  });

  it('answers an empty page for a workspace with no webhooks', async () => {
    const other = await app.newWorkspace();
    const res = await app.graphql(LIST, { apiKey: other.apiKey });
    expect(res.data?.webhooks).toEqual({
      totalCount: 0,
      edges: [],
      pageInfo: { hasNextPage: false, hasPreviousPage: false, startCursor: null, endCursor: null },
    });
  });
});
