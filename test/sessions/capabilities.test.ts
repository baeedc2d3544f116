import { beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../../src/lib/ids.js';
import { schema } from '../../src/schema.js';
import { MUTATION_RULES } from '../../src/sessions/capabilities.js';
import { createTestApp, type TestApp } from '../support/app.js';
import { conversationEnded, DELETE, PUBLISH, REGISTER, UPDATE, validWebhook } from '../support/operations.js';
import { eventually, sleep } from '../support/receiver.js';
import { subscribe } from '../support/sse.js';
import { bearer, cookieHeaders, portalSession, signIn } from './support.js';

let app: TestApp;
beforeAll(async () => {
  app = await createTestApp();
});

type Needs = 'VIEW' | 'MANAGE_WEBHOOKS' | 'RETRY' | 'MANAGE_API_KEYS' | 'API_KEY';

/** Rows one case acts on, made fresh with the workspace's key. */
type Fixture = { webhookId: string; failedDeliveryId: string; eventId: string; spareKeyId: string };

/**
 * Every mutation, what the interface says it needs (docs/dashboard-sessions.md), and a
 * call of it on the fixture's rows. Written out here, not read from the map under test.
 */
const MUTATIONS: Record<string, { needs: Needs; call: (f: Fixture) => [string, Record<string, unknown>] }> = {
  registerWebhook: {
    needs: 'MANAGE_WEBHOOKS',
    call: () => [REGISTER, { input: validWebhook({ agentId: 'agent_a' }) }],
  },
  updateWebhook: { needs: 'MANAGE_WEBHOOKS', call: (f) => [UPDATE, { id: f.webhookId, input: { name: 'Renamed' } }] },
  deleteWebhook: { needs: 'MANAGE_WEBHOOKS', call: (f) => [DELETE, { id: f.webhookId }] },
  rotateWebhookSecret: {
    needs: 'MANAGE_WEBHOOKS',
    call: (f) => ['mutation($id: ID!) { rotateWebhookSecret(id: $id) { id } }', { id: f.webhookId }],
  },
  sendTestEvent: {
    needs: 'MANAGE_WEBHOOKS',
    call: (f) => ['mutation($id: ID!) { sendTestEvent(webhookId: $id) { id } }', { id: f.webhookId }],
  },
  retryDelivery: {
    needs: 'RETRY',
    call: (f) => ['mutation($id: ID!) { retryDelivery(id: $id) { id } }', { id: f.failedDeliveryId }],
  },
  recoverDeliveries: {
    needs: 'RETRY',
    call: (f) => [
      'mutation($id: ID!, $since: DateTime!) { recoverDeliveries(webhookId: $id, since: $since) }',
      { id: f.webhookId, since: new Date(Date.now() - 3_600_000).toISOString() },
    ],
  },
  createApiKey: { needs: 'MANAGE_API_KEYS', call: () => ['mutation { createApiKey { key { id } } }', {}] },
  revokeApiKey: {
    needs: 'MANAGE_API_KEYS',
    call: (f) => ['mutation($id: ID!) { revokeApiKey(id: $id) { id } }', { id: f.spareKeyId }],
  },
  publishEvent: { needs: 'API_KEY', call: () => [PUBLISH, { input: conversationEnded('agent_a') }] },
  publishEvents: {
    needs: 'API_KEY',
    call: () => [
      'mutation($inputs: [PublishEventInput!]!) { publishEvents(inputs: $inputs) { id } }',
      { inputs: [conversationEnded('agent_a')] },
    ],
  },
  createPortalSession: {
    needs: 'API_KEY',
    call: () => [
      'mutation($input: CreatePortalSessionInput!) { createPortalSession(input: $input) { url } }',
      { input: { capabilities: [] } },
    ],
  },
  eraseConversation: {
    needs: 'API_KEY',
    call: () => ['mutation($id: String!) { eraseConversation(conversationId: $id) { events } }', { id: 'conv_1' }],
  },
  eraseEvent: {
    needs: 'API_KEY',
    call: (f) => ['mutation($id: ID!) { eraseEvent(id: $id) }', { id: f.eventId }],
  },
};

const mutationFields = Object.keys(schema.getMutationType()?.getFields() ?? {});

describe('the capability map', () => {
  it('has a rule for every Mutation field, and this table a case for each', () => {
    expect(mutationFields.filter((name) => !MUTATION_RULES[name])).toEqual([]);
    expect(mutationFields.filter((name) => !MUTATIONS[name])).toEqual([]);
  });
});

/** Everything a mutation could change in a workspace, as one value to compare. */
async function fingerprint(workspaceId: string): Promise<string> {
  const [row] = await app.sql<{ print: string }[]>`
    select concat_ws('|',
      (select string_agg(concat_ws(',', id, name, updated_at, encode(secret_encrypted, 'hex')), ';' order by id)
         from webhooks where workspace_id = ${workspaceId}),
      (select string_agg(concat_ws(',', id, status, updated_at, attempt_count), ';' order by id)
         from deliveries where workspace_id = ${workspaceId}),
      (select string_agg(id, ';' order by id) from events where workspace_id = ${workspaceId}),
      (select string_agg(concat_ws(',', id, revoked_at), ';' order by id) from api_keys where workspace_id = ${workspaceId}),
      (select string_agg(id, ';' order by id) from dashboard_sessions
         where workspace_id = ${workspaceId} and ended_at is null)
    ) as print`;
  return row?.print ?? '';
}

async function fixture(apiKey: string): Promise<Fixture> {
  const webhook = await app.graphql(REGISTER, { apiKey, variables: { input: validWebhook({ agentId: 'agent_a' }) } });
  const webhookId = webhook.data?.registerWebhook.id as string;
  const event = await app.graphql(PUBLISH, {
    apiKey,
    variables: { input: { ...conversationEnded('agent_a'), conversationId: 'conv_1' } },
  });
  const eventId = event.data?.publishEvent.id as string;
  const [delivery] = await app.sql<{ id: string }[]>`
    update deliveries set status = 'failed', next_attempt_at = null
    where webhook_id = ${webhookId} returning id`;
  const spare = await app.graphql('mutation { createApiKey { key { id } } }', { apiKey });
  return {
    webhookId,
    eventId,
    failedDeliveryId: delivery?.id as string,
    spareKeyId: spare.data?.createApiKey.key.id as string,
  };
}

describe('every capability × every mutation', () => {
  const callers: { name: string; holds: Needs[]; headers: (apiKey: string) => Promise<Record<string, string>> }[] = [
    {
      name: 'a VIEW portal session',
      holds: ['VIEW'],
      headers: async (apiKey) => bearer((await portalSession(app, apiKey, { capabilities: [] })).token),
    },
    ...(['MANAGE_WEBHOOKS', 'RETRY', 'MANAGE_API_KEYS'] as const).map((capability) => ({
      name: `a ${capability} portal session`,
      holds: ['VIEW', capability] as Needs[],
      headers: async (apiKey: string) =>
        bearer((await portalSession(app, apiKey, { capabilities: [capability] })).token),
    })),
    {
      name: "a key's own sign-in",
      holds: ['VIEW', 'MANAGE_WEBHOOKS', 'RETRY', 'MANAGE_API_KEYS', 'API_KEY'],
      headers: async (apiKey) => cookieHeaders(await signIn(app, apiKey)),
    },
  ];

  it.each(callers)('$name: FORBIDDEN (403) and nothing written for what it lacks; the rest runs', async (caller) => {
    const { apiKey, workspaceId } = await app.newWorkspace();
    const headers = await caller.headers(apiKey);
    for (const name of mutationFields) {
      const rule = MUTATIONS[name];
      if (!rule) throw new Error(`no case for ${name}`);
      const f = await fixture(apiKey);
      const before = await fingerprint(workspaceId);
      const [query, variables] = rule.call(f);
      const res = await app.graphql(query, { headers, variables });
      const after = await fingerprint(workspaceId);
      if (caller.holds.includes(rule.needs)) {
        expect({ name, errors: res.errors }).toEqual({ name, errors: undefined });
        expect({ name, wrote: after !== before }).toEqual({ name, wrote: true });
      } else {
        expect({ name, status: res.status, code: res.errors?.[0]?.extensions?.code }).toEqual({
          name,
          status: 403,
          code: 'FORBIDDEN',
        });
        expect({ name, data: res.data }).toEqual({ name, data: null });
        expect({ name, after }).toEqual({ name, after: before });
      }
    }
  });

  it('apiKeys needs MANAGE_API_KEYS', async () => {
    const { apiKey } = await app.newWorkspace();
    const view = await portalSession(app, apiKey, { capabilities: [] });
    const keys = await portalSession(app, apiKey, { capabilities: ['MANAGE_API_KEYS'] });
    const refused = await app.graphql('{ apiKeys { id } }', { headers: bearer(view.token) });
    expect(refused.status).toBe(403);
    expect(refused.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const listed = await app.graphql('{ apiKeys { id } }', { headers: bearer(keys.token) });
    expect(listed.data?.apiKeys).toHaveLength(1);
  });
});

describe("a portal session limited to agent_a: agent_b's rows are invisible everywhere", () => {
  let key: string;
  let workspaceId: string;
  let token: string;
  const mine = { webhook: '', event: '', delivery: '' };
  const theirs = { webhook: '', event: '', delivery: '' };

  beforeAll(async () => {
    ({ apiKey: key, workspaceId } = await app.newWorkspace());
    for (const [agent, rows] of [
      ['agent_a', mine],
      ['agent_b', theirs],
    ] as const) {
      const webhook = await app.graphql(REGISTER, {
        apiKey: key,
        variables: { input: validWebhook({ agentId: agent }) },
      });
      rows.webhook = webhook.data?.registerWebhook.id;
      const event = await app.graphql(PUBLISH, { apiKey: key, variables: { input: conversationEnded(agent) } });
      rows.event = event.data?.publishEvent.id;
      const [delivery] = await app.sql<{ id: string }[]>`select id from deliveries where webhook_id = ${rows.webhook}`;
      rows.delivery = delivery?.id as string;
    }
    // A delivery of agent_a's event to agent_b's webhook (as a workspace-wide notice would
    // make): agent_a's event lists it only to a session of both.
    await app.sql`insert into deliveries (id, workspace_id, event_id, webhook_id, status)
      values (${newId('delivery')}, ${workspaceId}, ${mine.event}, ${theirs.webhook}, 'succeeded')`;
    token = (await portalSession(app, key, { agentIds: ['agent_a'], capabilities: ['MANAGE_WEBHOOKS', 'RETRY'] }))
      .token;
  });

  const read = (query: string, variables: Record<string, unknown> = {}) =>
    app.graphql(query, { headers: bearer(token), variables });

  it('in lists and their counts: webhooks, events, deliveries, and nested deliveries', async () => {
    // At most 3 totalCount a request: three requests.
    const lists = await read(`{
      webhooks(first: 5) { totalCount edges { node { id } } }
      events(first: 5) { totalCount edges { node { id deliveries(first: 5) { totalCount edges { node { id } } } } } }
    }`);
    const deliveries = await read(`{
      deliveries(first: 50) { totalCount edges { node { id webhook { id } } } }
      byWebhook: deliveries(first: 50, webhookId: "${theirs.webhook}") { totalCount }
      ofAgent: events(first: 50, agentId: "agent_b") { totalCount }
    }`);
    expect([lists.errors, deliveries.errors]).toEqual([undefined, undefined]);
    const ids = (connection: any) => connection.edges.map((e: any) => e.node.id);
    expect(ids(lists.data?.webhooks)).toEqual([mine.webhook]);
    expect(lists.data?.webhooks.totalCount).toBe(1);
    expect(ids(lists.data?.events)).toEqual([mine.event]);
    expect(lists.data?.events.totalCount).toBe(1);
    expect(lists.data?.events.edges[0].node.deliveries).toEqual({
      totalCount: 1,
      edges: [{ node: { id: mine.delivery } }],
    });
    expect(ids(deliveries.data?.deliveries)).toEqual([mine.delivery]);
    expect(deliveries.data?.deliveries.totalCount).toBe(1);
    expect(deliveries.data?.byWebhook.totalCount).toBe(0);
    expect(deliveries.data?.ofAgent.totalCount).toBe(0);
    const nested = await read('query($id: ID!) { webhook(id: $id) { deliveries { totalCount } } }', {
      id: mine.webhook,
    });
    expect(nested.data?.webhook.deliveries.totalCount).toBe(1);
    // The key sees both agents (and the extra delivery).
    const all = await app.graphql('{ webhooks { totalCount } events { totalCount } deliveries { totalCount } }', {
      apiKey: key,
    });
    expect(all.data).toEqual({ webhooks: { totalCount: 2 }, events: { totalCount: 2 }, deliveries: { totalCount: 3 } });
  });

  it('by id and through node/nodes, as ids that do not exist', async () => {
    const res = await read(
      `query($w: ID!, $e: ID!, $d: ID!, $ids: [ID!]!) {
        webhook(id: $w) { id } event(id: $e) { id } delivery(id: $d) { id }
        node(id: $w) { id } nodes(ids: $ids) { id }
      }`,
      {
        w: theirs.webhook,
        e: theirs.event,
        d: theirs.delivery,
        ids: [mine.webhook, theirs.webhook, mine.event, theirs.event, mine.delivery, theirs.delivery],
      },
    );
    expect(res.errors).toBeUndefined();
    expect(res.data).toEqual({
      webhook: null,
      event: null,
      delivery: null,
      node: null,
      nodes: [{ id: mine.webhook }, null, { id: mine.event }, null, { id: mine.delivery }, null],
    });
  });

  it('through the deliveryUpdates subscription', async () => {
    const url = await app.listen();
    const feed = await subscribe(url, 'subscription { deliveryUpdates { id webhook { id } } }', {
      headers: bearer(token),
    });
    try {
      await new Promise((resolve) => setTimeout(resolve, 300));
      await app.graphql(PUBLISH, { apiKey: key, variables: { input: conversationEnded('agent_b') } });
      await app.graphql(PUBLISH, { apiKey: key, variables: { input: conversationEnded('agent_a') } });
      await feed.until((events) => events.length >= 1);
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(feed.events.map((e) => e.data?.deliveryUpdates.webhook.id)).toEqual([mine.webhook]);
    } finally {
      await feed.close();
    }
  });

  it("to writes: another agent's rows are NOT_FOUND, another agent cannot be registered for, and nothing is written", async () => {
    const before = await fingerprint(workspaceId);
    const cases: [string, Record<string, unknown>, string][] = [
      [UPDATE, { id: theirs.webhook, input: { name: 'Taken' } }, 'NOT_FOUND'],
      [DELETE, { id: theirs.webhook }, 'NOT_FOUND'],
      ['mutation($id: ID!) { rotateWebhookSecret(id: $id) { id } }', { id: theirs.webhook }, 'NOT_FOUND'],
      ['mutation($id: ID!) { sendTestEvent(webhookId: $id) { id } }', { id: theirs.webhook }, 'NOT_FOUND'],
      ['mutation($id: ID!) { retryDelivery(id: $id) { id } }', { id: theirs.delivery }, 'NOT_FOUND'],
      [
        'mutation($id: ID!, $since: DateTime!) { recoverDeliveries(webhookId: $id, since: $since) }',
        { id: theirs.webhook, since: new Date(Date.now() - 3_600_000).toISOString() },
        'NOT_FOUND',
      ],
      [REGISTER, { input: validWebhook({ agentId: 'agent_b' }) }, 'FORBIDDEN'],
    ];
    for (const [query, variables, code] of cases) {
      const res = await read(query, variables);
      expect({ query, code: res.errors?.[0]?.extensions?.code }).toEqual({ query, code });
    }
    expect(await fingerprint(workspaceId)).toBe(before);
    // Its own agent's rows it may change.
    const own = await read(UPDATE, { id: mine.webhook, input: { name: 'Mine' } });
    expect(own.errors).toBeUndefined();
  });
});

describe("a portal session's live feed and another agent's fan-out", () => {
  it("queues only its agents' deliveries: a fan-out past the backlog of 1,000 ends a slow unscoped feed, not the portal's", async () => {
    // A read rate of one 16 KiB message a second after a burst of 64: a feed of the whole
    // workspace cannot follow 1,200 changes, and its backlog passes 1,000.
    const slow = await createTestApp({ READ_RATE_LIMIT_BYTES_PER_SECOND: '16384', MAX_RESPONSE_BYTES: '1048576' });
    const { apiKey: key } = await slow.newWorkspace();
    const register = (agentId: string) =>
      slow.graphql(REGISTER, { apiKey: key, variables: { input: validWebhook({ agentId }) } });
    const mine = (await register('agent_a')).data?.registerWebhook.id;
    for (let i = 0; i < 20; i++) expect((await register('agent_b')).errors).toBeUndefined();
    const { token } = await portalSession(slow, key, { agentIds: ['agent_a'], capabilities: [] });
    const url = await slow.listen();
    const query = 'subscription { deliveryUpdates { id webhook { id } } }';
    const portal = await subscribe(url, query, { headers: bearer(token) });
    const everything = await subscribe(url, query, { apiKey: key });
    try {
      // Both feeds listening: an agent_a event, published until each has heard of it.
      await eventually(async () => {
        await slow.graphql(PUBLISH, { apiKey: key, variables: { input: conversationEnded('agent_a') } });
        await sleep(100);
        return portal.events.length > 0 && everything.events.length > 0;
      });
      const heardBefore = portal.events.length;
      // 60 events to agent_b's 20 webhooks: 1,200 deliveries created at once.
      const fanOut = await slow.graphql(
        'mutation($inputs: [PublishEventInput!]!) { publishEvents(inputs: $inputs) { id } }',
        { apiKey: key, variables: { inputs: Array.from({ length: 60 }, () => conversationEnded('agent_b')) } },
      );
      expect(fanOut.errors).toBeUndefined();
      await everything.until((events) => events.some((e) => e.errors));
      expect(everything.events.at(-1).errors[0].extensions.code).toBe('SUBSCRIPTION_FELL_BEHIND');
      await slow.graphql(PUBLISH, { apiKey: key, variables: { input: conversationEnded('agent_a') } });
      await portal.until((events) => events.length > heardBefore);
      // Open still, and only ever told of agent_a's webhook.
      for (const event of portal.events) {
        expect(event).toEqual({ data: { deliveryUpdates: { id: expect.any(String), webhook: { id: mine } } } });
      }
    } finally {
      await portal.close();
      await everything.close();
    }
  });
});
