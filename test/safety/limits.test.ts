import { beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createPool } from '../../src/db/sql.js';
import { createTestApp, type GraphQLResponse, type TestApp } from '../support/app.js';
import { conversationEnded, PUBLISH, REGISTER, validWebhook } from '../support/operations.js';

/**
 * What one request may make the server do: its cost counts every list at the page size it
 * will have (the default when `first` is left out), nested lists multiply, a page's
 * relations load in a fixed number of statements, and what it reads is capped.
 */
let app: TestApp;
let apiKey: string;
let webhookIds: string[];
let busyWebhook: string;

/** The statements the app sends while `act` runs (postgres.js calls `debug` for each). */
async function statementsDuring(act: () => Promise<unknown>): Promise<string[]> {
  const seen: string[] = [];
  const options = app.sql.options as { debug?: unknown };
  // Our statements are named (`/* webhooks.find */`); postgres.js's own type lookups are not.
  options.debug = (_connection: number, query: string) => {
    const name = /\/\* ([\w.-]+) \*\//.exec(query)?.[1];
    if (name) seen.push(name);
  };
  try {
    await act();
  } finally {
    options.debug = false;
  }
  return seen;
}

beforeAll(async () => {
  app = await createTestApp();
  ({ apiKey } = await app.newWorkspace());
  webhookIds = [];
  for (let i = 0; i < 20; i++) {
    const res = await app.graphql(REGISTER, { apiKey, variables: { input: validWebhook({ agentId: 'crowd' }) } });
    webhookIds.push(res.data?.registerWebhook.id);
  }
  for (let i = 0; i < 20; i++) {
    await app.graphql(PUBLISH, {
      apiKey,
      variables: { input: conversationEnded('crowd', { i, pad: 'x'.repeat(1000) }) },
    });
  }
  const busy = await app.graphql(REGISTER, { apiKey, variables: { input: validWebhook({ agentId: 'busy' }) } });
  busyWebhook = busy.data?.registerWebhook.id;
  for (let i = 0; i < 100; i++) {
    await app.graphql(PUBLISH, { apiKey, variables: { input: conversationEnded('busy', { i }) } });
  }
  // Some attempts to read.
  await app.sql`
    insert into delivery_attempts (delivery_id, attempted_at, status_code, duration_ms, error)
    select id, now(), 500, 12, 'HTTP 500' from deliveries where webhook_id = ${busyWebhook}`;
});

// The request that took a production server down: every list left at its default page.
const NESTED = 'webhooks{edges{node{deliveries{edges{node{event{deliveries{edges{node{event{data}}}}}}}}}}}';

describe('the cost of an operation', () => {
  it('counts a list without `first` at its default page size: the nested query is refused before it reads a row', async () => {
    let res: GraphQLResponse | undefined;
    const statements = await statementsDuring(async () => {
      res = await app.graphql(`{ a: ${NESTED} b: ${NESTED} }`, { apiKey });
    });
    expect(res?.status).toBe(400);
    expect(res?.data ?? null).toBeNull();
    expect(res?.errors).toHaveLength(1);
    expect(res?.errors?.[0]?.extensions).toMatchObject({ code: 'OPERATION_TOO_COMPLEX', maxCost: 10_000 });
    expect(res?.errors?.[0]?.message).toMatch(/ask for smaller pages/);
    // Nothing was read: the API key comes from this process's cache (auth/key-cache.ts).
    expect(statements).toEqual([]);
  });

  it('counts the page size asked for, and lets the same shape through with small pages', async () => {
    const small =
      'webhooks(first: 3){edges{node{deliveries(first: 3){edges{node{event{deliveries(first: 3){edges{node{id}}}}}}}}}}';
    const res = await app.graphql(`{ ${small} }`, { apiKey });
    expect(res.errors).toBeUndefined();
    expect(res.data?.webhooks.edges).toHaveLength(3);
    const large = '{ webhooks(first: 100) { edges { node { deliveries(first: 100) { edges { node { id } } } } } } }';
    expect((await app.graphql(large, { apiKey })).errors?.[0]?.extensions?.code).toBe('OPERATION_TOO_COMPLEX');
  });

  it('takes page sizes from variables too', async () => {
    const query =
      'query($n: Int) { webhooks(first: $n) { edges { node { deliveries(first: $n) { edges { node { attempts { statusCode } } } } } } } }';
    expect((await app.graphql(query, { apiKey, variables: { n: 100 } })).status).toBe(400);
    expect((await app.graphql(query, { apiKey, variables: { n: 5 } })).errors).toBeUndefined();
  });
});

describe('relations of a page', () => {
  it('load for the whole page at once: 100 deliveries with their webhook, event, its data and attempts in 6 statements', async () => {
    let res: GraphQLResponse | undefined;
    const statements = await statementsDuring(async () => {
      res = await app.graphql(
        `query($id: ID!) { webhook(id: $id) { deliveries(first: 100) { edges { node {
          id webhook { name } event { id data } attempts { statusCode error } } } } } }`,
        { apiKey, variables: { id: busyWebhook } },
      );
    });
    expect(res?.errors).toBeUndefined();
    const edges = res?.data?.webhook.deliveries.edges as { node: any }[];
    expect(edges).toHaveLength(100);
    expect(edges.every((e) => e.node.webhook.name && e.node.event.data && e.node.attempts.length === 1)).toBe(true);
    expect(statements.sort()).toEqual(
      [
        'webhooks.find',
        'deliveries.list',
        'webhooks.find-many',
        'events.find-many',
        'events.payloads',
        'deliveries.attempts',
      ].sort(),
    );
  });

  it('nested connections read every parent’s page in one statement, and count them in one', async () => {
    let res: GraphQLResponse | undefined;
    const statements = await statementsDuring(async () => {
      res = await app.graphql(
        `{ webhooks(agentId: "crowd") { edges { node { id
            deliveries(first: 5) { totalCount edges { node { id event { type } } } } } } } }`,
        { apiKey },
      );
    });
    expect(res?.errors).toBeUndefined();
    const webhooks = res?.data?.webhooks.edges as { node: any }[];
    expect(webhooks).toHaveLength(20);
    for (const { node } of webhooks) {
      expect(node.deliveries.totalCount).toBe(20);
      expect(node.deliveries.edges).toHaveLength(5);
    }
    expect(statements.sort()).toEqual(
      ['webhooks.list', 'deliveries.list', 'deliveries.count', 'events.find-many'].sort(),
    );
  });

  it('page each parent on its own: every webhook gets its own newest deliveries', async () => {
    const res = await app.graphql(
      `{ webhooks(agentId: "crowd", first: 2) { edges { node { id deliveries(first: 2) { edges { node { webhook { id } } } } } } } }`,
      { apiKey },
    );
    const webhooks = (res.data?.webhooks.edges ?? []) as { node: any }[];
    expect(webhooks).toHaveLength(2);
    for (const { node } of webhooks) {
      expect(node.deliveries.edges).toHaveLength(2);
      for (const { node: delivery } of node.deliveries.edges) expect(delivery.webhook.id).toBe(node.id);
    }
  });
});

describe('what one request may read', () => {
  it('stops at MAX_RESPONSE_BYTES of event data with one RESPONSE_TOO_LARGE error, not a partial answer', async () => {
    const small = await createTestApp({
      MAX_RESPONSE_BYTES: String(1024 * 1024),
      READ_RATE_LIMIT_BYTES_PER_SECOND: '0',
    });
    const tenant = await small.newWorkspace();
    await small.graphql(REGISTER, { apiKey: tenant.apiKey, variables: { input: validWebhook({ agentId: 'big' }) } });
    for (let i = 0; i < 6; i++) {
      const res = await small.graphql(PUBLISH, {
        apiKey: tenant.apiKey,
        variables: { input: conversationEnded('big', { blob: 'y'.repeat(250 * 1024) }) },
      });
      expect(res.errors).toBeUndefined();
    }
    const query = '{ webhooks { edges { node { deliveries { edges { node { event { data } } } } } } } }';
    const res = await small.graphql(query, { apiKey: tenant.apiKey });
    expect(res.status).toBe(400);
    expect(res.data ?? null).toBeNull();
    expect(res.errors).toHaveLength(1);
    expect(res.errors?.[0]?.extensions?.code).toBe('RESPONSE_TOO_LARGE');
    // Within the limit the same data is served.
    const three = '{ webhooks { edges { node { deliveries(first: 3) { edges { node { event { data } } } } } } } }';
    expect((await small.graphql(three, { apiKey: tenant.apiKey })).errors).toBeUndefined();
  });
});

describe('the deadline of an operation (REQUEST_TIMEOUT_MS)', () => {
  /** Holds an exclusive lock on `webhooks` (as a long migration would) while `act` runs. */
  async function whileWebhooksLocked<T>(sql: TestApp['sql'], act: () => Promise<T>): Promise<T> {
    let release = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let locked = () => {};
    const isLocked = new Promise<void>((resolve) => {
      locked = resolve;
    });
    const holder = sql.begin(async (tx) => {
      await tx`lock table webhooks in access exclusive mode`;
      locked();
      await held;
    });
    await isLocked;
    try {
      return await act();
    } finally {
      release();
      await holder;
    }
  }

  it('cuts a query off with 503 REQUEST_TIMEOUT, and the server answers on', async () => {
    const quick = await createTestApp({ REQUEST_TIMEOUT_MS: '300' });
    const tenant = await quick.newWorkspace();
    const started = performance.now();
    const res = await whileWebhooksLocked(quick.sql, () =>
      quick.graphql('{ webhooks { totalCount } }', { apiKey: tenant.apiKey }),
    );
    expect(res.status).toBe(503);
    expect(res.errors?.[0]?.extensions?.code).toBe('REQUEST_TIMEOUT');
    expect(res.errors?.[0]?.message).toMatch(/longer than 300 ms/);
    expect(performance.now() - started).toBeLessThan(5_000);
    expect((await quick.graphql('{ webhooks { totalCount } }', { apiKey: tenant.apiKey })).status).toBe(200);
  });

  it("answers a statement cancelled by the database's statement_timeout with REQUEST_TIMEOUT too", async () => {
    const config = loadConfig({
      ...process.env,
      DATABASE_URL: app.db.url,
      SECRET_ENCRYPTION_KEY: app.secretKey.toString('hex'),
      REQUEST_TIMEOUT_MS: '300',
      LOG_LEVEL: 'silent',
      ALLOW_PRIVATE_TARGETS: 'true',
    });
    const pool = createPool(app.db.url, { max: 2, statementTimeoutMs: config.requestTimeoutMs });
    try {
      const yoga = createApp({ sql: pool, config, secretKey: app.secretKey, log: app.log });
      const body = JSON.stringify({ query: REGISTER, variables: { input: validWebhook() } });
      const res = await whileWebhooksLocked(app.sql, async () =>
        yoga.fetch('http://localhost/graphql', {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-api-key': apiKey, 'content-length': String(body.length) },
          body,
        }),
      );
      expect(res.status).toBe(503);
      expect((await res.json()).errors[0].extensions.code).toBe('REQUEST_TIMEOUT');
    } finally {
      await pool.end();
    }
  });
});

describe('the responses one key may be sent per second', () => {
  it('past its burst (MAX_RESPONSE_BYTES) and READ_RATE_LIMIT_BYTES_PER_SECOND, the key is refused with 429 and Retry-After; others are not', async () => {
    const limited = await createTestApp({
      MAX_RESPONSE_BYTES: String(1024 * 1024),
      READ_RATE_LIMIT_BYTES_PER_SECOND: String(64 * 1024),
    });
    const reader = await limited.newWorkspace();
    const bystander = await limited.newWorkspace();
    await limited.graphql(REGISTER, { apiKey: reader.apiKey, variables: { input: validWebhook({ agentId: 'r' }) } });
    for (let i = 0; i < 3; i++) {
      await limited.graphql(PUBLISH, {
        apiKey: reader.apiKey,
        variables: { input: conversationEnded('r', { blob: 'y'.repeat(200 * 1024) }) },
      });
    }
    const read = '{ webhooks { edges { node { deliveries { edges { node { event { data } } } } } } } }';
    const answers: number[] = [];
    for (let i = 0; i < 4; i++) answers.push((await limited.graphql(read, { apiKey: reader.apiKey })).status);
    // ~600 KiB a read against a 1 MiB burst: the second read runs into debt, the third is refused.
    expect(answers.slice(0, 2)).toEqual([200, 200]);
    const refused = await limited.yoga.fetch('http://localhost/graphql', {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-api-key': reader.apiKey,
        'content-length': String(JSON.stringify({ query: read }).length),
      },
      body: JSON.stringify({ query: read }),
    });
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect((await refused.json()).errors[0].extensions.code).toBe('RATE_LIMITED');
    // Another workspace's key reads on.
    expect((await limited.graphql('{ webhooks { totalCount } }', { apiKey: bystander.apiKey })).status).toBe(200);
  });
});

describe('bad arguments answer BAD_USER_INPUT naming the argument', () => {
  const cursor = (text: string) => Buffer.from(text).toString('base64url');

  it.each([
    ['a bigint out of range', cursor('9999999999999999999:x')],
    ['an interval out of range', cursor('9223372036854775807:wh_0000000000000000')],
    ['a negative time', cursor('-5:x')],
    ['garbage', '!!!'],
    ['a very long string', 'A'.repeat(10_000)],
  ])('a cursor holding %s', async (_label, after) => {
    for (const query of [
      'query($after: String) { webhooks(after: $after) { totalCount } }',
      'query($id: ID!, $after: String) { webhook(id: $id) { deliveries(after: $after) { totalCount } } }',
    ]) {
      const res = await app.graphql(query, { apiKey, variables: { after, id: busyWebhook } });
      expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', issues: [{ path: ['after'] }] });
    }
  });

  it.each([['\u0000'], ['a\u0007b'], [''], ['x'.repeat(65)]])('a filter agentId of %j', async (agentId) => {
    const res = await app.graphql('query($a: String) { webhooks(agentId: $a) { totalCount } }', {
      apiKey,
      variables: { a: agentId },
    });
    expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', issues: [{ path: ['agentId'] }] });
  });

  it('publishEvent data nested deeper than 64 levels, at any size up to the data cap', async () => {
    // Written by hand: JSON.stringify itself would overflow on the deepest of these.
    const publishNested = async (data: string) => {
      const body = `{"query":${JSON.stringify(PUBLISH)},"variables":{"input":{"agentId":"deep","type":"CONVERSATION_ENDED","data":${data}}}}`;
      const response = await app.yoga.fetch('http://localhost/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': apiKey, 'content-length': String(body.length) },
        body,
      });
      return (await response.json()) as { errors?: { extensions?: Record<string, unknown> }[] };
    };
    for (const depth of [65, 5_000, 100_000]) {
      const res = await publishNested(`${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`);
      expect(res.errors?.[0]?.extensions).toMatchObject({
        code: 'BAD_USER_INPUT',
        issues: [{ path: ['input', 'data'], message: 'must not be nested more than 64 levels deep' }],
      });
    }
    // Arrays count as levels too.
    const arrays = await publishNested(`{"a":${'['.repeat(70)}${']'.repeat(70)}}`);
    expect(arrays.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(await app.sql`select 1 from events where agent_id = 'deep'`).toHaveLength(0);
  });

  it('64 levels are accepted, and replaying such an event by its idempotency key returns it', async () => {
    const input = {
      ...conversationEnded('deep', JSON.parse(`${'{"a":'.repeat(63)}1${'}'.repeat(63)}`)),
      idempotencyKey: 'deep-1',
    };
    const first = await app.graphql(PUBLISH, { apiKey, variables: { input } });
    expect(first.errors).toBeUndefined();
    const again = await app.graphql(PUBLISH, { apiKey, variables: { input } });
    expect(again.data?.publishEvent.id).toBe(first.data?.publishEvent.id);
  });
});
