import { createHash } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../support/app.js';
import { conversationEnded, PUBLISH } from '../support/operations.js';
import { subscribe } from '../support/sse.js';

/**
 * The budgets hold whichever way an operation arrives: JSON POST, GET, server-sent events
 * (graphql-sse's distinct connections and its single connection), persisted queries, and
 * multipart subscriptions. A key that owes its read rate is refused a query on each; a key
 * at SUBSCRIPTIONS_PER_KEY is refused a stream on each.
 */

const QUERY = '{ webhooks(first: 5) { totalCount } }';
let app: TestApp;
let url: string;
let apiKey: string;

beforeAll(async () => {
  app = await createTestApp({
    READ_RATE_LIMIT_BYTES_PER_SECOND: '1024',
    MAX_RESPONSE_BYTES: String(1024 * 1024),
    SUBSCRIPTIONS_PER_KEY: '1',
  });
  url = await app.listen();
  ({ apiKey } = await app.newWorkspace());
  // Two reads of about a megabyte: the key owes its read rate for many minutes.
  for (let i = 0; i < 4; i++) {
    await app.graphql(PUBLISH, {
      apiKey,
      variables: { input: conversationEnded('debt', { b: 'd'.repeat(250 * 1024) }) },
    });
  }
  for (let i = 0; i < 2; i++) {
    expect((await app.graphql('{ events(agentId: "debt") { edges { node { data } } } }', { apiKey })).status).toBe(200);
  }
});

const code = (body: any) => body?.errors?.[0]?.extensions?.code;

describe('a key that owes its read rate is refused a query on every transport', () => {
  it('JSON POST', async () => {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': apiKey },
      body: JSON.stringify({ query: QUERY }),
    });
    expect(res.status).toBe(429);
    expect(code(await res.json())).toBe('RATE_LIMITED');
  });

  it('GET', async () => {
    const res = await fetch(`${url}?query=${encodeURIComponent(QUERY)}`, {
      headers: { 'x-api-key': apiKey, accept: 'application/json' },
    });
    expect(res.status).toBe(429);
    expect(code(await res.json())).toBe('RATE_LIMITED');
  });

  it('an automatic persisted query', async () => {
    const extensions = { persistedQuery: { version: 1, sha256Hash: createHash('sha256').update(QUERY).digest('hex') } };
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': apiKey },
      body: JSON.stringify({ query: QUERY, extensions }),
    });
    expect(code(await res.json())).toBe('RATE_LIMITED');
  });

  it('server-sent events (distinct connections)', async () => {
    const stream = await subscribe(url, QUERY, { apiKey });
    await stream.ended;
    const first = stream.events[0] ?? (await stream.response.json().catch(() => null));
    expect(code(first)).toBe('RATE_LIMITED');
  });

  it("graphql-sse's single connection", async () => {
    const token = await (await fetch(url, { method: 'PUT', headers: { 'x-api-key': apiKey } })).text();
    const headers = { 'x-api-key': apiKey, 'x-graphql-event-stream-token': token };
    const stream = await fetch(url, { headers: { ...headers, accept: 'text/event-stream' } });
    expect(stream.status).toBe(200);
    const reader = (stream.body as ReadableStream<Uint8Array>).getReader();
    const posted = await fetch(url, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json' },
      body: JSON.stringify({ query: QUERY, extensions: { operationId: 'q' } }),
    });
    expect(posted.status).toBe(202);
    let text = '';
    while (!text.includes('event: complete')) text += new TextDecoder().decode((await reader.read()).value);
    expect(text).toContain('"RATE_LIMITED"');
    await reader.cancel();
  });
});

describe('a key at SUBSCRIPTIONS_PER_KEY is refused a stream on every transport', () => {
  const FEED = 'subscription { deliveryUpdates { id } }';

  it('server-sent events, multipart, and a graphql-sse single connection', async () => {
    const { apiKey: key } = await app.newWorkspace();
    const held = await subscribe(url, FEED, { apiKey: key });
    try {
      expect(held.status).toBe(200);
      const sse = await subscribe(url, FEED, { apiKey: key });
      await sse.ended;
      expect(code(sse.events[0] ?? (await sse.response.json().catch(() => null)))).toBe('TOO_MANY_SUBSCRIPTIONS');

      const multipart = await fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'multipart/mixed;subscriptionSpec="1.0", application/json',
          'x-api-key': key,
        },
        body: JSON.stringify({ query: FEED }),
      });
      expect(await multipart.text()).toContain('TOO_MANY_SUBSCRIPTIONS');
      // A client that accepts only multipart is told the refusal too, not 406.
      const multipartOnly = await fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'multipart/mixed;subscriptionSpec="1.0"',
          'x-api-key': key,
        },
        body: JSON.stringify({ query: FEED }),
      });
      expect(multipartOnly.status).toBe(429);
      expect(code(await multipartOnly.json())).toBe('TOO_MANY_SUBSCRIPTIONS');

      const token = await (await fetch(url, { method: 'PUT', headers: { 'x-api-key': key } })).text();
      const single = await fetch(url, {
        headers: { 'x-api-key': key, 'x-graphql-event-stream-token': token, accept: 'text/event-stream' },
      });
      expect(single.status).toBe(429);
      expect(code(await single.json())).toBe('TOO_MANY_SUBSCRIPTIONS');
    } finally {
      await held.close();
    }
  });
});
