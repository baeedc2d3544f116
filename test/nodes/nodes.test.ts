import { beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../support/app.js';
import { httpClient } from '../support/http-client.js';
import { conversationEnded, PUBLISH, REGISTER, validWebhook } from '../support/operations.js';

const NODE = `query Node($id: ID!) {
  node(id: $id) {
    __typename id
    ... on Webhook { name secret }
    ... on Event { type agentId }
    ... on Delivery { status webhook { id } event { id } }
  }
}`;
const NODES = `query Nodes($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }`;

let app: TestApp;
let graphql: Awaited<ReturnType<typeof httpClient>>;

/** A workspace with one webhook, one event and its one delivery (no worker runs: it stays PENDING). */
async function tenant() {
  const { apiKey, workspaceId } = await app.newWorkspace();
  const registered = await graphql(apiKey, REGISTER, { input: validWebhook({ agentId: 'agent-n' }) });
  const webhookId: string = registered.data?.registerWebhook.id;
  const published = await graphql(apiKey, PUBLISH, { input: conversationEnded('agent-n') });
  const eventId: string = published.data?.publishEvent.id;
  const [delivery] = await app.sql<{ id: string }[]>`select id from deliveries where event_id = ${eventId}`;
  return { apiKey, workspaceId, webhookId, eventId, deliveryId: delivery?.id as string };
}

let mine: Awaited<ReturnType<typeof tenant>>;
let theirs: Awaited<ReturnType<typeof tenant>>;

beforeAll(async () => {
  app = await createTestApp();
  graphql = await httpClient(app);
  mine = await tenant();
  theirs = await tenant();
});

describe('Query.node', () => {
  it('finds a webhook, an event and a delivery by id alone, each as its own type', async () => {
    const webhook = await graphql(mine.apiKey, NODE, { id: mine.webhookId });
    expect(webhook).toEqual({
      status: 200,
      data: { node: { __typename: 'Webhook', id: mine.webhookId, name: 'Call events - production', secret: null } },
    });
    const event = await graphql(mine.apiKey, NODE, { id: mine.eventId });
    expect(event.data?.node).toEqual({
      __typename: 'Event',
      id: mine.eventId,
      type: 'conversation_ended',
      agentId: 'agent-n',
    });
    const delivery = await graphql(mine.apiKey, NODE, { id: mine.deliveryId });
    expect(delivery.data?.node).toEqual({
      __typename: 'Delivery',
      id: mine.deliveryId,
      status: 'PENDING',
      webhook: { id: mine.webhookId },
      event: { id: mine.eventId },
    });
  });

  it("answers another workspace's ids, unknown ids and malformed ids with null, exactly alike", async () => {
    const answers = [];
    for (const id of [
      theirs.webhookId,
      theirs.eventId,
      theirs.deliveryId,
      'wh_0000000000000000',
      'evt_0000000000000000',
      'dlv_0000000000000000',
      mine.workspaceId,
      'wh_short',
      'not an id',
      '',
    ]) {
      answers.push(await graphql(mine.apiKey, NODE, { id }));
    }
    for (const answer of answers) expect(answer).toEqual({ status: 200, data: { node: null } });
  });
});

describe('Query.nodes', () => {
  it('answers in the order asked, null for what the workspace does not hold, repeats included', async () => {
    const ids = [
      mine.deliveryId,
      theirs.webhookId,
      mine.webhookId,
      'wh_0000000000000000',
      mine.eventId,
      'garbage',
      theirs.deliveryId,
      mine.webhookId,
    ];
    const res = await graphql(mine.apiKey, NODES, { ids });
    expect(res.errors).toBeUndefined();
    expect(res.data?.nodes).toEqual([
      { __typename: 'Delivery', id: mine.deliveryId },
      null,
      { __typename: 'Webhook', id: mine.webhookId },
      null,
      { __typename: 'Event', id: mine.eventId },
      null,
      null,
      { __typename: 'Webhook', id: mine.webhookId },
    ]);
  });

  it('the other workspace sees its own objects and none of ours', async () => {
    const res = await graphql(theirs.apiKey, NODES, {
      ids: [mine.webhookId, theirs.webhookId, mine.eventId, theirs.eventId, mine.deliveryId, theirs.deliveryId],
    });
    expect(res.data?.nodes.map((n: { id: string } | null) => n?.id ?? null)).toEqual([
      null,
      theirs.webhookId,
      null,
      theirs.eventId,
      null,
      theirs.deliveryId,
    ]);
  });

  it('takes up to 100 ids; more is BAD_USER_INPUT on ids, and an empty list is an empty answer', async () => {
    const hundred = Array.from({ length: 100 }, (_, i) => (i % 2 ? mine.eventId : `wh_${String(i).padStart(16, '0')}`));
    const ok = await graphql(mine.apiKey, NODES, { ids: hundred });
    expect(ok.errors).toBeUndefined();
    expect(ok.data?.nodes).toHaveLength(100);
    expect(ok.data?.nodes.filter(Boolean)).toHaveLength(50);

    const tooMany = await graphql(mine.apiKey, NODES, { ids: [...hundred, mine.webhookId] });
    expect(tooMany.data ?? null).toBeNull();
    expect(tooMany.errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      issues: [{ path: ['ids'], message: 'must hold at most 100 ids' }],
    });

    const none = await graphql(mine.apiKey, NODES, { ids: [] });
    expect(none).toEqual({ status: 200, data: { nodes: [] } });
  });

  it("a node's own fields and connections answer as on its type (Event.deliveries filtered by status)", async () => {
    const res = await graphql(
      mine.apiKey,
      `query ($ids: [ID!]!) { nodes(ids: $ids) {
        ... on Webhook { deliveries(first: 5) { edges { node { id } } } }
        ... on Event { deliveries(status: PENDING) { totalCount } }
      } }`,
      { ids: [mine.webhookId, mine.eventId] },
    );
    expect(res.errors).toBeUndefined();
    expect(res.data?.nodes).toEqual([
      { deliveries: { edges: [{ node: { id: mine.deliveryId } }] } },
      { deliveries: { totalCount: 1 } },
    ]);
  });
});
