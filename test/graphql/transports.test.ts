import { createHash } from 'node:crypto';
import { createYoga } from 'graphql-yoga';
import { beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { createApiKeyCache } from '../../src/auth/key-cache.js';
import { serviceUnavailable } from '../../src/graphql/errors.js';
import { useGraphQLSSESingleConnection } from '../../src/graphql/use-graphql-sse.js';
import { createBoundedStore } from '../../src/graphql/use-persisted-queries.js';
import { schema } from '../../src/schema.js';
import { createTestApp, type TestApp } from '../support/app.js';
import { sleep } from '../support/receiver.js';

let app: TestApp;
let url: string;
let apiKey: string;
beforeAll(async () => {
  app = await createTestApp();
  url = await app.listen();
  ({ apiKey } = await app.newWorkspace());
});

const post = (body: unknown, headers: Record<string, string> = {}) =>
  fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': apiKey, ...headers },
    body: JSON.stringify(body),
  });

describe('transports beside plain JSON', () => {
  it('batching stays off, and says so', async () => {
    const response = await post([{ query: '{ __typename }' }, { query: '{ __typename }' }]);
    expect(response.status).toBe(400);
    expect((await response.json()).errors[0]).toMatchObject({
      message: 'Batching is not supported.',
      extensions: { code: 'BAD_REQUEST' },
    });
  });

  it('persisted queries: a hash that does not match its query is refused, and the query is not kept', async () => {
    const query = '{ webhooks(first: 1) { totalCount } }';
    const wrong = { persistedQuery: { version: 1, sha256Hash: '0'.repeat(64) } };
    const mismatch = await post({ query, extensions: wrong });
    expect(mismatch.status).toBe(400);
    expect((await mismatch.json()).errors[0].extensions.code).toBe('PERSISTED_QUERY_MISMATCH');
    const later = await post({ extensions: wrong });
    expect(later.status).toBe(404);
    expect((await later.json()).errors[0]).toMatchObject({
      message: 'PersistedQueryNotFound',
      extensions: { code: 'PERSISTED_QUERY_NOT_FOUND' },
    });
    const right = { persistedQuery: { version: 1, sha256Hash: createHash('sha256').update(query).digest('hex') } };
    expect((await (await post({ query, extensions: right })).json()).data.webhooks.totalCount).toBe(0);
    expect((await (await post({ extensions: right })).json()).data.webhooks.totalCount).toBe(0);
    // A query that is not text, with a hash: the same 400 as without one, never INTERNAL.
    for (const notText of [1, true, { a: 1 }, ['x']]) {
      const res = await post({ query: notText, extensions: wrong });
      expect(res.status, JSON.stringify(notText)).toBe(400);
      expect(JSON.stringify(await res.json())).not.toContain('INTERNAL');
    }
  });

  it('persisted queries are kept per API key: an anonymous caller keeps nothing, another key cannot probe them', async () => {
    const query = '{ webhooks(first: 2) { totalCount } }';
    const hash = { persistedQuery: { version: 1, sha256Hash: createHash('sha256').update(query).digest('hex') } };
    const anonymous = (body: unknown) =>
      fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect((await anonymous({ query, extensions: hash })).status).toBe(401);
    expect((await post({ extensions: hash })).status).toBe(404);
    expect((await post({ query, extensions: hash })).status).toBe(200);
    expect((await post({ extensions: hash })).status).toBe(200);
    const other = (await app.newWorkspace()).apiKey;
    expect((await post({ extensions: hash }, { 'x-api-key': other })).status).toBe(404);
    expect((await anonymous({ extensions: hash })).status).toBe(404);
  });

  it('the persisted-query store is bounded in entries and in characters, least recently used out first', () => {
    const store = createBoundedStore({ maxEntries: 2, maxChars: 10 });
    store.set('a', 'aaaa');
    store.set('b', 'bbbb');
    store.get('a');
    store.set('c', 'cccc'); // three entries: b, the least recently used, goes
    expect([store.get('a'), store.get('b'), store.get('c')]).toEqual(['aaaa', undefined, 'cccc']);
    store.set('d', 'dddddddd'); // 16 characters: a and c go
    expect([store.get('a'), store.get('c'), store.get('d')]).toEqual([undefined, undefined, 'dddddddd']);
    store.set('e', 'e'.repeat(11)); // larger than the whole store: not kept
    expect([store.get('d'), store.get('e')]).toEqual(['dddddddd', undefined]);
  });

  it("graphql-sse's stream token belongs to the key that reserved it: no other key, and no caller without one, may use it", async () => {
    expect((await fetch(url, { method: 'PUT' })).status).toBe(401);
    expect((await fetch(url, { method: 'PUT', headers: { 'x-api-key': 'chk_nope' } })).status).toBe(401);
    const reserved = await fetch(url, { method: 'PUT', headers: { 'x-api-key': apiKey } });
    expect(reserved.status).toBe(201);
    const token = await reserved.text();
    const other = (await app.newWorkspace()).apiKey;
    const withToken = (headers: Record<string, string>) => ({ 'x-graphql-event-stream-token': token, ...headers });
    // Connecting: not anonymously, not with another key.
    expect((await fetch(url, { headers: withToken({ accept: 'text/event-stream' }) })).status).toBe(401);
    expect((await fetch(url, { headers: withToken({ accept: 'text/event-stream', 'x-api-key': other }) })).status).toBe(
      404,
    );
    const stream = await fetch(url, { headers: withToken({ accept: 'text/event-stream', 'x-api-key': apiKey }) });
    expect(stream.status).toBe(200);
    const reader = (stream.body as ReadableStream<Uint8Array>).getReader();
    const post = (headers: Record<string, string>, operationId: string) =>
      fetch(url, {
        method: 'POST',
        headers: withToken({ 'content-type': 'application/json', ...headers }),
        body: JSON.stringify({ query: '{ webhooks { totalCount } }', extensions: { operationId } }),
      });
    // Posting into it: not anonymously, not with another key; nothing of theirs reaches the stream.
    expect((await post({}, 'anonymous')).status).toBe(401);
    expect((await post({ 'x-api-key': other }, 'other')).status).toBe(404);
    // Stopping its operations: not anonymously.
    const stop = await fetch(`${url}?operationId=mine&token=${token}`, { method: 'DELETE' });
    expect(stop.status).toBe(401);
    expect((await post({ 'x-api-key': apiKey }, 'mine')).status).toBe(202);
    let text = '';
    while (!text.includes('event: complete')) text += new TextDecoder().decode((await reader.read()).value);
    expect(text).toContain('"totalCount"');
    expect(text).not.toContain('anonymous');
    expect(text).not.toContain('"id":"other"');
    await reader.cancel();
  });

  it("graphql-sse's stream opens only with GET, counted among the key's streams, and takes operations only once open", async () => {
    const { apiKey } = await app.newWorkspace();
    const token = await (await fetch(url, { method: 'PUT', headers: { 'x-api-key': apiKey } })).text();
    const headers = { 'x-graphql-event-stream-token': token, 'x-api-key': apiKey };
    const operation = (operationId: string) =>
      JSON.stringify({ query: '{ webhooks { totalCount } }', extensions: { operationId } });
    const postInto = (operationId: string) =>
      fetch(url, {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json' },
        body: operation(operationId),
      });
    const untilComplete = async (reader: ReadableStreamDefaultReader<Uint8Array>) => {
      let text = '';
      while (!text.includes('event: complete')) text += new TextDecoder().decode((await reader.read()).value);
      return text;
    };
    // Another method asking for the stream would open it past the count and the unread bound.
    for (const method of ['POST', 'PATCH']) {
      const res = await fetch(url, {
        method,
        headers: { ...headers, accept: 'text/event-stream', 'content-type': 'application/json' },
        body: operation('sneaky'),
      });
      expect(res.status, method).toBe(405);
      expect((await res.json()).errors[0].extensions.code).toBe('METHOD_NOT_ALLOWED');
    }
    // An operation before the stream is open would run with nobody reading.
    const early = await postInto('early');
    expect(early.status).toBe(409);
    expect((await early.json()).errors[0].extensions.code).toBe('STREAM_NOT_CONNECTED');
    // Opened with GET (an Accept with parameters asks for the same stream), it takes operations.
    const stream = await fetch(url, { headers: { ...headers, accept: 'text/event-stream; charset=utf-8' } });
    expect(stream.status).toBe(200);
    const reader = (stream.body as ReadableStream<Uint8Array>).getReader();
    const posted = await postInto('mine');
    expect(posted.status).toBe(202);
    const text = await untilComplete(reader);
    expect(text).toContain('"totalCount"');
    expect(text).not.toContain('early');
    // A second GET is refused, and the open stream stays the one operations go into: it had
    // replaced the open stream's bookkeeping, which then ran unbounded and took no more posts.
    const again = await fetch(url, { headers: { ...headers, accept: 'text/event-stream' } });
    expect(again.status).toBe(409);
    expect((await again.json()).errors[0].extensions.code).toBe('STREAM_ALREADY_OPEN');
    const after = await postInto('after');
    expect(after.status).toBe(202);
    expect(await untilComplete(reader)).toContain('"totalCount"');
    await reader.cancel();
  });

  it('a chunked PUT or DELETE body is refused like a chunked POST', async () => {
    for (const method of ['PUT', 'DELETE']) {
      const response = await fetch(url, {
        method,
        headers: { 'x-api-key': apiKey },
        body: new Blob(['x']).stream(),
        duplex: 'half',
      } as RequestInit);
      expect(response.status, method).toBe(411);
    }
  });
});

describe('an unknown enum value (the shape the README shows)', () => {
  const ask = (body: unknown, accept: string) =>
    fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept, 'x-api-key': apiKey },
      body: JSON.stringify(body),
    });
  const input = { name: 'x', agentId: 'a', url: 'https://example.com/hooks', events: ['CONVERSATION_NOPE'] };

  it('written inline: GRAPHQL_VALIDATION_FAILED, no issues (HTTP 400, or 200 to an application/json-only client)', async () => {
    const query = `mutation { registerWebhook(input: { name: "x", agentId: "a", url: "https://example.com/hooks", events: [CONVERSATION_NOPE] }) { id } }`;
    for (const [accept, status] of [
      ['application/graphql-response+json, application/json', 400],
      ['application/json', 200],
    ] as const) {
      const response = await ask({ query }, accept);
      expect(response.status, accept).toBe(status);
      const { data, errors } = await response.json();
      expect(data).toBeUndefined();
      expect(errors).toEqual([
        {
          message: expect.stringMatching(/^Value "CONVERSATION_NOPE" does not exist in "WebhookEvent" enum/),
          locations: [expect.any(Object)],
          extensions: { code: 'GRAPHQL_VALIDATION_FAILED' },
        },
      ]);
    }
  });

  it('as a variable: BAD_USER_INPUT with issues naming the path (HTTP 400)', async () => {
    const query = `mutation Register($input: RegisterWebhookInput!) { registerWebhook(input: $input) { id } }`;
    for (const accept of ['application/graphql-response+json, application/json', 'application/json']) {
      const response = await ask({ query, variables: { input } }, accept);
      expect(response.status, accept).toBe(400);
      const { errors } = await response.json();
      expect(errors[0].extensions).toEqual({
        code: 'BAD_USER_INPUT',
        issues: [
          { path: ['input', 'events', 0], message: expect.stringMatching(/^Value "CONVERSATION_NOPE" does not exist/) },
        ],
      });
    }
  });
});

describe('graphql-sse reservations that nobody connects to', () => {
  it('count against the key until they are dropped after their time', async () => {
    const keys = createApiKeyCache(app.sql);
    onTestFinished(() => keys.close());
    const yoga = createYoga({
      schema,
      plugins: [
        useGraphQLSSESingleConnection({
          endpoint: '/graphql',
          authenticate: (key) => keys.authenticate(key),
          pendingPerKey: 1,
          reservationTtlMs: 300,
          maskError: (e) => e as Error,
          openStream: async () => ({ signal: new AbortController().signal, close: () => {} }),
          maxUnreadBytes: 1024 * 1024,
        }),
      ],
    });
    const reserve = () => yoga.fetch('http://localhost/graphql', { method: 'PUT', headers: { 'x-api-key': apiKey } });
    const first = await reserve();
    expect(first.status).toBe(201);
    const token = await first.text();
    const second = await reserve();
    expect(second.status).toBe(429);
    expect((await second.json()).errors[0].extensions.code).toBe('TOO_MANY_SUBSCRIPTIONS');
    await sleep(600);
    expect((await reserve()).status).toBe(201);
    // The dropped reservation is gone: its token finds no stream to attach an operation to.
    const attach = await yoga.fetch('http://localhost/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': apiKey, 'x-graphql-event-stream-token': token },
      body: JSON.stringify({ query: '{ __typename }', extensions: { operationId: '1' } }),
    });
    expect(attach.status).toBe(404);
  });

  it('are refused with 503 and Retry-After, not 401, while too many unknown keys are being looked up', async () => {
    const yoga = createYoga({
      schema,
      plugins: [
        useGraphQLSSESingleConnection({
          endpoint: '/graphql',
          authenticate: async () => 'busy',
          pendingPerKey: 1,
          reservationTtlMs: 300,
          maskError: (e) => e as Error,
          openStream: async () => ({ signal: new AbortController().signal, close: () => {} }),
          maxUnreadBytes: 1024 * 1024,
        }),
      ],
    });
    const response = await yoga.fetch('http://localhost/graphql', { method: 'PUT', headers: { 'x-api-key': apiKey } });
    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).toBe('1');
    expect((await response.json()).errors[0].extensions.code).toBe('SERVICE_UNAVAILABLE');
  });

  it('are refused with 503 and Retry-After, not 500, while the database is away', async () => {
    const yoga = createYoga({
      schema,
      plugins: [
        useGraphQLSSESingleConnection({
          endpoint: '/graphql',
          authenticate: async () => {
            throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
          },
          pendingPerKey: 1,
          reservationTtlMs: 300,
          // What the app's masking makes of a database that cannot be reached.
          maskError: () => serviceUnavailable(),
          openStream: async () => ({ signal: new AbortController().signal, close: () => {} }),
          maxUnreadBytes: 1024 * 1024,
        }),
      ],
    });
    const response = await yoga.fetch('http://localhost/graphql', { method: 'PUT', headers: { 'x-api-key': apiKey } });
    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).toBe('5');
    const body = await response.json();
    expect(body.errors[0].extensions).toEqual({ code: 'SERVICE_UNAVAILABLE' });
  });
});
