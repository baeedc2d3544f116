import { beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../support/app.js';
import { DELETE, GET, LIST, REGISTER, UPDATE, validWebhook } from '../support/operations.js';

let app: TestApp;
let alice: { apiKey: string; workspaceId: string };
let bob: { apiKey: string; workspaceId: string };
let alicesWebhook: { id: string; updatedAt: string };

beforeAll(async () => {
  app = await createTestApp();
  alice = await app.newWorkspace('Alice');
  bob = await app.newWorkspace('Bob');
  // Same agent id in both workspaces: agent ids are not global.
  const res = await app.graphql(REGISTER, {
    apiKey: alice.apiKey,
    variables: { input: validWebhook({ agentId: 'shared-agent' }) },
  });
  alicesWebhook = res.data?.registerWebhook;
  await app.graphql(REGISTER, { apiKey: bob.apiKey, variables: { input: validWebhook({ agentId: 'shared-agent' }) } });
});

const missingId = 'wh_0000000000000000';

describe("another workspace's webhook answers exactly like one that does not exist", () => {
  it('webhook(id) is null', async () => {
    const theirs = await app.graphql(GET, { apiKey: bob.apiKey, variables: { id: alicesWebhook.id } });
    const none = await app.graphql(GET, { apiKey: bob.apiKey, variables: { id: missingId } });
    expect(theirs).toEqual(none);
    expect(theirs.data?.webhook).toBeNull();
  });

  it('webhooks lists only your own, also when filtering by a shared agent id', async () => {
    for (const variables of [{}, { agentId: 'shared-agent' }]) {
      const res = await app.graphql(LIST, { apiKey: bob.apiKey, variables });
      const nodes = res.data?.webhooks.edges.map((e: any) => e.node);
      expect(res.data?.webhooks.totalCount).toBe(1);
      expect(nodes.map((n: any) => n.workspaceId)).toEqual([bob.workspaceId]);
    }
  });

  it('updateWebhook is NOT_FOUND and changes nothing', async () => {
    const theirs = await app.graphql(UPDATE, {
      apiKey: bob.apiKey,
      variables: { id: alicesWebhook.id, input: { name: 'hijacked' } },
    });
    const none = await app.graphql(UPDATE, {
      apiKey: bob.apiKey,
      variables: { id: missingId, input: { name: 'hijacked' } },
    });
    expect(theirs.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    expect(theirs.errors?.[0]?.message).toBe(none.errors?.[0]?.message.replace(missingId, alicesWebhook.id));
    const mine = await app.graphql(GET, { apiKey: alice.apiKey, variables: { id: alicesWebhook.id } });
    expect(mine.data?.webhook.name).toBe('Call events - production');
    expect(mine.data?.webhook.updatedAt).toBe(alicesWebhook.updatedAt);
  });

  it('deleteWebhook is NOT_FOUND and deletes nothing', async () => {
    const theirs = await app.graphql(DELETE, { apiKey: bob.apiKey, variables: { id: alicesWebhook.id } });
    expect(theirs.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    expect(theirs.data).toBeNull();
    const mine = await app.graphql(GET, { apiKey: alice.apiKey, variables: { id: alicesWebhook.id } });
    expect(mine.data?.webhook.id).toBe(alicesWebhook.id);
  });

  it("a cursor from another workspace's list only pages through your own", async () => {
    // Alice's newest webhook: every one of Bob's is older, so all of them come after its cursor.
    await app.graphql(REGISTER, { apiKey: alice.apiKey, variables: { input: validWebhook({ agentId: 'newest' }) } });
    const alicePage = await app.graphql(LIST, { apiKey: alice.apiKey, variables: { first: 1 } });
    const cursor = alicePage.data?.webhooks.pageInfo.endCursor;
    const res = await app.graphql(LIST, { apiKey: bob.apiKey, variables: { after: cursor } });
    const bobs = await app.graphql(LIST, { apiKey: bob.apiKey, variables: { first: 100 } });
    const ids = (page: typeof res) => page.data?.webhooks.edges.map((e: { node: { id: string } }) => e.node.id);
    expect(res.errors).toBeUndefined();
    expect(ids(bobs)).toHaveLength(1);
    expect(ids(res)).toEqual(ids(bobs));
  });
});
