import type { GraphQLError } from 'graphql';
import { beforeAll, describe, expect, it } from 'vitest';
import { createReadBudget } from '../../src/graphql/read-budget.js';
import { createTestApp, type TestApp } from '../support/app.js';
import { conversationEnded, PUBLISH, REGISTER, validWebhook } from '../support/operations.js';
import { subscribe } from '../support/sse.js';

/**
 * Budgets charged where the work and the bytes happen: a response is weighed as it is
 * produced, every copy of every value, whatever shape the request takes to ask for it.
 */

let app: TestApp;
beforeAll(async () => {
  app = await createTestApp();
});

const aliases = (count: number, selection: string) =>
  Array.from({ length: count }, (_, i) => `a${i}: ${selection}`).join('\n');

describe('response bytes are counted per copy, not per row read', () => {
  it('one 250 KiB event asked for 100 times in nodes, under 9 aliases, is refused with RESPONSE_TOO_LARGE', async () => {
    const { apiKey } = await app.newWorkspace();
    const event = await app.graphql(PUBLISH, {
      apiKey,
      variables: { input: conversationEnded('big', { blob: 'x'.repeat(250 * 1024) }) },
    });
    const id = event.data?.publishEvent.id as string;
    const ids = JSON.stringify(Array(100).fill(id));
    // Asked once, it is answered: the limit is about copies, not about the event.
    const once = await app.graphql(`{ nodes(ids: ["${id}"]) { ... on Event { data } } }`, { apiKey });
    expect(once.status).toBe(200);
    expect(once.data?.nodes[0].data.blob).toHaveLength(250 * 1024);

    const query = `{ ${aliases(9, `nodes(ids: ${ids}) { ... on Event { data } }`)} }`;
    expect(query.length).toBeLessThan(30_000);
    const res = await app.graphql(query, { apiKey });
    expect(res.status).toBe(400);
    expect(res.data ?? null).toBeNull();
    expect(res.errors).toHaveLength(1);
    expect(res.errors?.[0]?.extensions?.code).toBe('RESPONSE_TOO_LARGE');

    // Execution stopped where the budget ran out: the key is charged the 16 MiB the server
    // produced, not the 225 MB the query asked for (which would be 27 s of debt at 8 MiB/s).
    const next = await app.yoga.fetch('http://localhost/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': apiKey },
      body: JSON.stringify({ query: `{ nodes(ids: ["${id}"]) { id } }` }),
    });
    expect(Number(next.headers.get('retry-after') ?? 0)).toBeLessThanOrEqual(1);
  });

  it("a webhook's url and headers asked for 100 times under 20 aliases: refused for the 40,000 header objects it would make, before making any", async () => {
    const { apiKey } = await app.newWorkspace();
    const headers = Array.from({ length: 20 }, (_, i) => ({ name: `X-Pad-${i}`, value: 'v'.repeat(400) }));
    const url = `https://receiver.example.com/${'p'.repeat(2000)}`;
    const registered = await app.graphql(REGISTER, { apiKey, variables: { input: validWebhook({ url, headers }) } });
    expect(registered.errors).toBeUndefined();
    const variables = { ids: Array(100).fill(registered.data?.registerWebhook.id) };
    const selection = 'nodes(ids: $ids) { ... on Webhook { url headers { name value } } }';
    // Each copy costs its 20 headers: four aliases (about 8,000) fit MAX_QUERY_COST, twenty (40,000) do not.
    const four = await app.graphql(`query($ids: [ID!]!) { ${aliases(4, selection)} }`, { apiKey, variables });
    expect(four.status).toBe(200);
    const twenty = await app.graphql(`query($ids: [ID!]!) { ${aliases(20, selection)} }`, { apiKey, variables });
    expect(twenty.status).toBe(400);
    expect(twenty.errors?.[0]?.extensions?.code).toBe('OPERATION_TOO_COMPLEX');
    expect(twenty.errors?.[0]?.extensions?.cost).toBeGreaterThanOrEqual(40_000);
  });

  it('a 2 KB url asked for 900 times counts as the 1.8 MB it would be, not as the one row it was read from', async () => {
    const small = await createTestApp({
      MAX_RESPONSE_BYTES: String(1024 * 1024),
      READ_RATE_LIMIT_BYTES_PER_SECOND: String(100 * 1024),
    });
    const { apiKey } = await small.newWorkspace();
    const url = `https://receiver.example.com/${'p'.repeat(2000)}`;
    const registered = await small.graphql(REGISTER, { apiKey, variables: { input: validWebhook({ url }) } });
    expect(registered.errors).toBeUndefined();
    const variables = { ids: Array(100).fill(registered.data?.registerWebhook.id) };
    // Cost 900: cheap to ask for, 1.8 MB to answer against a 1 MiB budget.
    const query = `query($ids: [ID!]!) { ${aliases(9, 'nodes(ids: $ids) { ... on Webhook { url } }')} }`;
    const res = await small.graphql(query, { apiKey, variables });
    expect(res.errors?.[0]?.extensions?.code).toBe('RESPONSE_TOO_LARGE');
    expect(res.status).toBe(400);
    // What it made the server produce before it was stopped is charged to the key's read rate.
    const next = await small.graphql(`query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, { apiKey, variables });
    expect(next.status).toBe(429);
  });
});

describe("mutations and the key's read rate", () => {
  it('a mutation that reads pages is charged and, while the key is in debt, refused before it writes; one answering what it wrote is not held back', async () => {
    const small = await createTestApp({
      MAX_RESPONSE_BYTES: String(1024 * 1024),
      READ_RATE_LIMIT_BYTES_PER_SECOND: String(1024),
    });
    const { apiKey } = await small.newWorkspace();
    const registered = await small.graphql(REGISTER, { apiKey, variables: { input: validWebhook({ agentId: 'm' }) } });
    const id = registered.data?.registerWebhook.id;
    for (let i = 0; i < 4; i++) {
      const published = await small.graphql(PUBLISH, {
        apiKey,
        variables: { input: conversationEnded('m', { blob: 'b'.repeat(200 * 1024) }) },
      });
      expect(published.errors).toBeUndefined();
    }
    // An update that answers with its deliveries' event data: 800 KB of reads, charged to the
    // key. Twice: past the 1 MiB burst.
    const reading = `mutation($id: ID!, $input: UpdateWebhookInput!) {
      updateWebhook(id: $id, input: $input) { id name deliveries { edges { node { event { data } } } } } }`;
    for (let i = 0; i < 2; i++) {
      const first = await small.graphql(reading, { apiKey, variables: { id, input: { name: 'first' } } });
      expect(first.errors).toBeUndefined();
    }
    // In debt now (1 KiB/s after a 1 MiB burst): a query waits, and so does the same update, which writes nothing.
    expect((await small.graphql('{ webhooks { totalCount } }', { apiKey })).status).toBe(429);
    const again = await small.graphql(reading, { apiKey, variables: { id, input: { name: 'second' } } });
    expect(again.status).toBe(429);
    expect(again.errors?.[0]?.extensions?.code).toBe('RATE_LIMITED');
    const [row] = await small.sql`select name from webhooks where id = ${id}`;
    expect(row?.name).toBe('first');
    // Publishing and answering the new id only: not held back by the key's reads.
    const published = await small.graphql(PUBLISH, { apiKey, variables: { input: conversationEnded('m') } });
    expect(published.errors).toBeUndefined();
  });
});

describe('live feeds are bounded and charged', () => {
  const FEED = 'subscription { deliveryUpdates { id status event { id data } } }';

  it("each message is charged to the key's read rate: past it, the stream waits instead of sending", async () => {
    const tight = await createTestApp({
      READ_RATE_LIMIT_BYTES_PER_SECOND: String(50 * 1024),
      MAX_RESPONSE_BYTES: String(1024 * 1024),
    });
    const tightUrl = await tight.listen();
    const reader = await tight.newWorkspace();
    await tight.graphql(REGISTER, { apiKey: reader.apiKey, variables: { input: validWebhook({ agentId: 'feed' }) } });
    const tightFeed = await subscribe(tightUrl, FEED, { apiKey: reader.apiKey });
    try {
      const started = performance.now();
      for (let i = 0; i < 8; i++) {
        await tight.graphql(PUBLISH, {
          apiKey: reader.apiKey,
          variables: { input: conversationEnded('feed', { blob: 'z'.repeat(200 * 1024) }) },
        });
      }
      await tightFeed.until((events) => events.length >= 8, 20_000);
      // 1.6 MB against a 1 MiB burst and 50 KiB/s: the last messages waited for the rate, several seconds.
      expect(performance.now() - started).toBeGreaterThan(3_000);
      expect(tightFeed.events.every((e) => e.data?.deliveryUpdates.event.data.blob.length === 200 * 1024)).toBe(true);
    } finally {
      await tightFeed.close();
    }
  });

  it('each message costs at least 16 KiB of the read rate: small changes cannot be streamed without limit', async () => {
    // 50 messages a second at 16 KiB each, after a burst of 64 (1 MiB).
    const metered = await createTestApp({
      READ_RATE_LIMIT_BYTES_PER_SECOND: String(50 * 16 * 1024),
      MAX_RESPONSE_BYTES: String(1024 * 1024),
    });
    const url = await metered.listen();
    const { apiKey } = await metered.newWorkspace();
    await metered.graphql(REGISTER, { apiKey, variables: { input: validWebhook({ agentId: 'small' }) } });
    const feed = await subscribe(url, 'subscription { deliveryUpdates { id status } }', { apiKey });
    try {
      const started = performance.now();
      const inputs = Array.from({ length: 100 }, () => conversationEnded('small'));
      for (let i = 0; i < 3; i++) {
        const published = await metered.graphql(
          'mutation($inputs: [PublishEventInput!]!) { publishEvents(inputs: $inputs) { id } }',
          { apiKey, variables: { inputs } },
        );
        expect(published.errors).toBeUndefined();
      }
      await feed.until((events) => events.length >= 300, 20_000);
      // 300 messages of about 100 bytes: 30 KB had they been charged what they carried, all
      // within the burst. At 16 KiB each, in pages of 100: the second page waits 0.75 s for
      // the rate, the third 2 s more.
      expect(performance.now() - started).toBeGreaterThan(2_000);
      expect(feed.events.every((e) => e.data?.deliveryUpdates.status === 'PENDING')).toBe(true);
    } finally {
      await feed.close();
    }
  });

  it('a subscriber more than 1,000 changes behind is closed with SUBSCRIPTION_FELL_BEHIND, not queued for', async () => {
    const reading = await createTestApp({
      READ_RATE_LIMIT_BYTES_PER_SECOND: String(1024),
      MAX_RESPONSE_BYTES: String(1024 * 1024),
    });
    const url = await reading.listen();
    const { apiKey } = await reading.newWorkspace();
    for (let i = 0; i < 11; i++) {
      await reading.graphql(REGISTER, { apiKey, variables: { input: validWebhook({ agentId: 'fan' }) } });
    }
    // The key spends its burst on two large reads: from now on it may be sent 1 KiB a second.
    for (let i = 0; i < 4; i++) {
      const blob = await reading.graphql(PUBLISH, {
        apiKey,
        variables: { input: conversationEnded('other', { blob: 'b'.repeat(250 * 1024) }) },
      });
      expect(blob.errors).toBeUndefined();
    }
    for (let i = 0; i < 2; i++) {
      const read = await reading.graphql('{ events(agentId: "other") { edges { node { data } } } }', { apiKey });
      expect(read.status).toBe(200);
    }
    const feed = await subscribe(url, FEED, { apiKey });
    try {
      // 11 webhooks × 100 events: 1,100 new deliveries, more than one subscriber may have waiting.
      const inputs = Array.from({ length: 100 }, () => conversationEnded('fan'));
      const published = await reading.graphql(
        'mutation($inputs: [PublishEventInput!]!) { publishEvents(inputs: $inputs) { id } }',
        { apiKey, variables: { inputs } },
      );
      expect(published.status).toBe(200);
      await feed.ended;
      const last = feed.events.at(-1);
      expect(last?.errors?.[0]?.extensions?.code).toBe('SUBSCRIPTION_FELL_BEHIND');
      expect(feed.events.length).toBeLessThan(1_000);
    } finally {
      await feed.close();
    }
  });
});

describe('rate limits count what executes, however the document spells it', () => {
  const inputs = (n: number) => Array.from({ length: n }, () => conversationEnded('rl'));

  it.each([
    [
      'aliases inside `... on Mutation`',
      (n: number) =>
        `mutation($inputs: [PublishEventInput!]!) { ... on Mutation { ${aliases(n, 'publishEvents(inputs: $inputs) { id }')} } }`,
    ],
    [
      'a variable whose default is the batch',
      (n: number) =>
        `mutation($inputs: [PublishEventInput!]! = ${JSON.stringify(inputs(10))
          .replace(/"(\w+)":/g, '$1:')
          .replace(
            /"CONVERSATION_ENDED"/g,
            'CONVERSATION_ENDED',
          )}) { ${aliases(n, 'publishEvents(inputs: $inputs) { id }')} }`,
    ],
  ])('20 batches through %s publish only what the limit allows (100 events)', async (_label, document) => {
    const limited = await createTestApp({ PUBLISH_RATE_LIMIT_PER_SECOND: '1', PUBLISH_RATE_LIMIT_BURST: '100' });
    const { apiKey, workspaceId } = await limited.newWorkspace();
    const usesDefault = _label.includes('default');
    const res = await limited.graphql(document(20), { apiKey, variables: usesDefault ? {} : { inputs: inputs(100) } });
    // Root mutation fields are non-null: the first refused one ends the operation, so the rest never run.
    expect(res.errors?.map((e) => e.extensions?.code)).toEqual(['RATE_LIMITED']);
    const [row] = await limited.sql<{ count: number }[]>`
      select count(*)::int as count from events where workspace_id = ${workspaceId}`;
    expect(row?.count).toBe(100);
  });

  it('every other mutation is charged per field that runs: 20 aliased createApiKey against a burst of 5 make 5 keys', async () => {
    const limited = await createTestApp({ RATE_LIMIT_PER_SECOND: '1', RATE_LIMIT_BURST: '5' });
    const { apiKey, workspaceId } = await limited.newWorkspace();
    const res = await limited.graphql(
      `mutation { ... on Mutation { ${aliases(20, 'createApiKey { key { id } }')} } }`,
      {
        apiKey,
      },
    );
    expect(res.status).toBe(429);
    expect(res.errors?.map((e) => e.extensions?.code)).toEqual(['RATE_LIMITED']);
    const [row] = await limited.sql<{ count: number }[]>`
      select count(*)::int as count from api_keys where workspace_id = ${workspaceId}`;
    expect(row?.count).toBe(1 + 5);
  });
});

describe("graphql-sse's single connection is bounded like any stream", () => {
  it('a stream nobody reads is closed once a response worth of results waits in it; its token is then gone', async () => {
    const limited = await createTestApp({ MAX_RESPONSE_BYTES: String(1024 * 1024) });
    const url = await limited.listen();
    const { apiKey } = await limited.newWorkspace();
    for (let i = 0; i < 3; i++) {
      await limited.graphql(PUBLISH, {
        apiKey,
        variables: { input: conversationEnded('unread', { blob: 'u'.repeat(250 * 1024) }) },
      });
    }
    const token = await (await fetch(url, { method: 'PUT', headers: { 'x-api-key': apiKey } })).text();
    const headers = { 'x-api-key': apiKey, 'x-graphql-event-stream-token': token };
    // Opened, never read.
    const stream = await fetch(url, { headers: { ...headers, accept: 'text/event-stream' } });
    expect(stream.status).toBe(200);
    const statuses: number[] = [];
    for (let i = 0; i < 40; i++) {
      const posted = await fetch(url, {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json' },
        body: JSON.stringify({ query: '{ events { edges { node { data } } } }', extensions: { operationId: `q${i}` } }),
      });
      statuses.push(posted.status);
      if (posted.status !== 202) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    // 750 KiB a result; the socket's own buffers take some, then the stream is closed.
    expect(statuses.at(-1)).toBe(404);
    expect(statuses.filter((s) => s === 202).length).toBeLessThan(40);
    await stream.body?.cancel();
  });
});

describe('amplification is bounded: webhooks per agent and per workspace', () => {
  it('the 4th webhook of an agent is refused with LIMIT_EXCEEDED naming MAX_WEBHOOKS_PER_AGENT, nothing written; a deletion frees a slot', async () => {
    const capped = await createTestApp({ MAX_WEBHOOKS_PER_AGENT: '3', MAX_WEBHOOKS_PER_WORKSPACE: '5' });
    const { apiKey, workspaceId } = await capped.newWorkspace();
    const register = (agentId: string) =>
      capped.graphql(REGISTER, { apiKey, variables: { input: validWebhook({ agentId }) } });
    // Ten at once on one agent: exactly three are taken, whatever the interleaving.
    const results = await Promise.all(Array.from({ length: 10 }, () => register('a')));
    const ok = results.filter((r) => r.data?.registerWebhook);
    expect(ok).toHaveLength(3);
    const refusal = results.find((r) => r.errors)?.errors?.[0];
    expect(refusal?.extensions).toMatchObject({ code: 'LIMIT_EXCEEDED', limit: 'MAX_WEBHOOKS_PER_AGENT', max: 3 });
    expect(refusal?.message).toContain('MAX_WEBHOOKS_PER_AGENT');
    // The workspace: 3 + 2 more on another agent, then its own limit.
    expect((await register('b')).data?.registerWebhook).toBeTruthy();
    expect((await register('b')).data?.registerWebhook).toBeTruthy();
    expect((await register('c')).errors?.[0]?.extensions).toMatchObject({
      limit: 'MAX_WEBHOOKS_PER_WORKSPACE',
      max: 5,
    });
    const count = async () =>
      (
        await capped.sql<{ n: number }[]>`select count(*)::int as n from webhooks where workspace_id = ${workspaceId}`
      )[0]?.n;
    expect(await count()).toBe(5);
    // Deleting one gives both of its slots back.
    const id = ok[0]?.data?.registerWebhook.id;
    expect(
      (await capped.graphql('mutation($id: ID!) { deleteWebhook(id: $id) }', { apiKey, variables: { id } })).errors,
    ).toBeUndefined();
    expect((await register('a')).data?.registerWebhook).toBeTruthy();
    expect(await count()).toBe(5);
    // Another workspace has its own slots.
    const other = await capped.newWorkspace();
    const theirs = await capped.graphql(REGISTER, {
      apiKey: other.apiKey,
      variables: { input: validWebhook({ agentId: 'a' }) },
    });
    expect(theirs.data?.registerWebhook).toBeTruthy();
  });

  it('registrations, refusals and deletes never write the workspace row every foreign key share-locks', async () => {
    // An update of that row rolled back (a refusal) could make PostgreSQL fail the next one
    // with "new multixact has more than one updating member" (migrations/0027).
    const capped = await createTestApp({ MAX_WEBHOOKS_PER_AGENT: '1', MAX_WEBHOOKS_PER_WORKSPACE: '2' });
    const { apiKey, workspaceId } = await capped.newWorkspace();
    const version = async () =>
      (await capped.sql<{ xmin: string }[]>`select xmin::text from workspaces where id = ${workspaceId}`)[0]?.xmin;
    const before = await version();
    const register = (agentId: string) =>
      capped.graphql(REGISTER, { apiKey, variables: { input: validWebhook({ agentId }) } });
    const id = (await register('a')).data?.registerWebhook.id;
    expect((await register('a')).errors?.[0]?.extensions?.limit).toBe('MAX_WEBHOOKS_PER_AGENT');
    expect((await register('b')).data?.registerWebhook).toBeTruthy();
    expect((await register('c')).errors?.[0]?.extensions?.limit).toBe('MAX_WEBHOOKS_PER_WORKSPACE');
    await capped.graphql('mutation($id: ID!) { deleteWebhook(id: $id) }', { apiKey, variables: { id } });
    expect((await register('c')).data?.registerWebhook).toBeTruthy();
    expect(await version()).toBe(before);
  });
});

describe('the publish limit counts what an event fans out to', () => {
  it('a key whose publishes created more deliveries than FANOUT_RATE_LIMIT allows is refused its next publish', async () => {
    const limited = await createTestApp({ FANOUT_RATE_LIMIT_PER_SECOND: '1', FANOUT_RATE_LIMIT_BURST: '100' });
    const { apiKey } = await limited.newWorkspace();
    for (let i = 0; i < 10; i++) {
      await limited.graphql(REGISTER, { apiKey, variables: { input: validWebhook({ agentId: 'fan' }) } });
    }
    const batch = 'mutation($inputs: [PublishEventInput!]!) { publishEvents(inputs: $inputs) { id } }';
    const inputs = Array.from({ length: 20 }, () => conversationEnded('fan'));
    // 20 events × 10 webhooks: 200 deliveries against a burst of 100. The batch itself runs
    // (its fan-out is known once it committed); the key then owes 100 deliveries.
    expect((await limited.graphql(batch, { apiKey, variables: { inputs } })).errors).toBeUndefined();
    const next = await limited.graphql(PUBLISH, { apiKey, variables: { input: conversationEnded('fan') } });
    expect(next.status).toBe(429);
    expect(next.errors?.[0]?.extensions?.code).toBe('RATE_LIMITED');
    expect(next.errors?.[0]?.message).toContain('deliveries per second');
    // Events to no webhook fan out to nothing, but the key still owes: refused too.
    const quiet = await limited.graphql(PUBLISH, { apiKey, variables: { input: conversationEnded('nobody') } });
    expect(quiet.errors?.[0]?.extensions?.code).toBe('RATE_LIMITED');
  });
});

describe('exact counts are few per request', () => {
  it('20 aliased totalCount are refused before anything is read (not page by page, error by error); 3 are answered', async () => {
    const { apiKey } = await app.newWorkspace();
    // The deliveries table locked: an operation that read a page would wait here. Every
    // alias used to read its page first and then meet its count: 20 reads and 17 errors a
    // request, which held a server's CPU at 98 % from one client sending them one at a time.
    const refused = await app.sql.begin(async (tx) => {
      await tx`lock table deliveries in access exclusive mode`;
      return app.graphql(`{ ${aliases(20, 'deliveries(first: 1) { totalCount }')} }`, { apiKey });
    });
    expect(refused.status).toBe(400);
    expect(refused.errors).toHaveLength(1);
    expect(refused.errors?.[0]?.extensions?.code).toBe('OPERATION_TOO_COMPLEX');
    expect(refused.errors?.[0]?.message).toContain('at most 3');
    // Fragments count every time they are spread (here 2^3 times), and a fragment spread
    // many times over is walked once.
    const spread = Array.from(
      { length: 3 },
      (_, i) => `fragment F${i} on Query { __typename ...F${i + 1} ...F${i + 1} }`,
    );
    const nested = await app.graphql(
      `{ ...F0 } ${spread.join(' ')} fragment F3 on Query { deliveries(first: 1) { totalCount } }`,
      { apiKey },
    );
    expect(nested.errors?.[0]?.message, JSON.stringify(nested.errors)).toContain('at most 3');
    const twice = await app.graphql(
      `{ a: deliveries(first: 1) { ...C } b: deliveries(first: 1) { ...C } } fragment C on DeliveryConnection { totalCount boundedCount { count } }`,
      { apiKey },
    );
    expect(twice.errors?.[0]?.extensions?.code).toBe('OPERATION_TOO_COMPLEX');
    const three = await app.graphql(`{ ${aliases(3, 'deliveries(first: 1) { totalCount }')} }`, { apiKey });
    expect(three.errors).toBeUndefined();
    expect(three.data?.a2.totalCount).toBe(0);
  });
});

describe('counts past the limit at run time (one per parent, where the document shows one)', () => {
  it('stop the operation with one refusal, thrown again by every count after it', () => {
    const budget = createReadBudget({ rows: 100, bytes: 1_000_000, counts: 3 });
    const stopped: unknown[] = [];
    budget.stopWith((reason) => stopped.push(reason));
    for (let i = 0; i < 3; i++) budget.count();
    const refusals = Array.from({ length: 5 }, () => {
      try {
        budget.count();
        return undefined;
      } catch (error) {
        return error;
      }
    });
    expect(new Set(refusals).size).toBe(1);
    expect(stopped).toEqual([refusals[0]]);
    expect((refusals[0] as GraphQLError).extensions.code).toBe('OPERATION_TOO_COMPLEX');
    expect(() => budget.spend(1)).toThrow(refusals[0] as GraphQLError);
  });
});

describe("each key's share of the process", () => {
  it('past OPERATIONS_PER_KEY running and OPERATIONS_WAITING_PER_KEY waiting, a key is refused 429; another key is not', async () => {
    const shared = await createTestApp({ OPERATIONS_PER_KEY: '2', OPERATIONS_WAITING_PER_KEY: '4' });
    const busy = await shared.newWorkspace();
    const bystander = await shared.newWorkspace();
    const read =
      '{ webhooks(first: 100) { totalCount edges { node { id url } } } deliveries(first: 100) { totalCount } }';
    const flood = Array.from({ length: 40 }, () => shared.graphql(read, { apiKey: busy.apiKey }));
    const theirs = await shared.graphql(read, { apiKey: bystander.apiKey });
    expect(theirs.status).toBe(200);
    const statuses = (await Promise.all(flood)).map((r) => r.status);
    // 2 run and 4 wait at any moment: of 40 sent at once, most are turned away, at least 6 answered.
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThanOrEqual(6);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThan(0);
    expect(statuses.every((s) => s === 200 || s === 429)).toBe(true);
    // Nothing is left holding a slot: the key works again at once.
    expect((await shared.graphql(read, { apiKey: busy.apiKey })).status).toBe(200);
  });
});
