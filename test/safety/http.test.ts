import net from 'node:net';
import { beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../support/app.js';
import { REGISTER, validWebhook } from '../support/operations.js';

/** Malformed and hostile HTTP against a real listening server: each gets the right 4xx, and the process carries on. */
let app: TestApp;
let url: string;
let apiKey: string;
beforeAll(async () => {
  app = await createTestApp();
  url = await app.listen();
  ({ apiKey } = await app.newWorkspace());
});

// The GraphQL-over-HTTP media type: request errors answer 4xx (legacy application/json answers 200).
const post = (body: string, headers: Record<string, string> = {}) =>
  fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/graphql-response+json',
      'x-api-key': apiKey,
      ...headers,
    },
    body,
  });

async function stillServing() {
  const res = await post(JSON.stringify({ query: '{ webhooks { totalCount } }' }));
  expect(res.status).toBe(200);
}

describe('malformed requests', () => {
  it('a body that is not JSON: 400', async () => {
    const res = await post('{"query": ');
    expect(res.status).toBe(400);
    expect((await res.json()).errors[0].message).toMatch(/JSON/);
    await stillServing();
  });

  it('JSON that is not a GraphQL request: 400', async () => {
    for (const body of [
      '[]',
      '42',
      '"x"',
      'null',
      '{}',
      '{"query": 7}',
      '{"query": "{ webhooks { totalCount } }", "variables": "x"}',
    ]) {
      const res = await post(body);
      expect(res.status, body).toBe(400);
    }
    await stillServing();
  });

  it('batched operations in an array: refused with 400', async () => {
    const op = { query: '{ webhooks { totalCount } }' };
    const res = await post(JSON.stringify([op, op]));
    expect(res.status).toBe(400);
  });

  it('a GraphQL syntax error: 400 with the location', async () => {
    const res = await post(JSON.stringify({ query: '{ webhooks { ' }));
    expect(res.status).toBe(400);
    expect((await res.json()).errors[0].message).toMatch(/Syntax Error/);
  });

  it('a mutation over GET: 405', async () => {
    const query = encodeURIComponent('mutation { deleteWebhook(id: "wh_0000000000000000") }');
    const res = await fetch(`${url}?query=${query}`, { headers: { 'x-api-key': apiKey, accept: 'application/json' } });
    expect(res.status).toBe(405);
  });

  it('GraphQL is served at /graphql only: /graphql/, /x/graphql and /x?y=/graphql answer 404 and run nothing (the door in front counts /graphql)', async () => {
    const base = new URL(url).origin;
    const count = async () =>
      (await (await post(JSON.stringify({ query: '{ webhooks { totalCount } }' }))).json()).data.webhooks.totalCount;
    const before = await count();
    const body = JSON.stringify({ query: REGISTER, variables: { input: validWebhook() } });
    for (const path of ['/graphql/', '/x/graphql', '/x?y=/graphql', '/graphql/x/graphql']) {
      const res = await fetch(`${base}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': apiKey },
        body,
      });
      expect(res.status, path).toBe(404);
      expect((await res.json()).errors[0].extensions.code, path).toBe('NOT_FOUND');
    }
    expect(await count()).toBe(before);
    // What other paths serve is answered before: the probes and the metrics.
    for (const path of ['/health', '/ready', '/metrics'])
      expect((await fetch(`${base}${path}`)).status, path).toBe(200);
    // And /graphql with a query string is /graphql.
    const res = await fetch(`${url}?x=1`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': apiKey },
      body,
    });
    expect((await res.json()).data.registerWebhook.id).toMatch(/^wh_/);
  });

  it('an unsupported method: 405', async () => {
    // (PUT and DELETE are graphql-sse's single-connection reservations.)
    const res = await fetch(url, { method: 'PATCH', headers: { 'x-api-key': apiKey }, body: '{}' });
    expect(res.status).toBe(405);
  });

  it('a simple cross-site request (text/plain or form body, no custom header): 403', async () => {
    for (const contentType of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': contentType },
        body: JSON.stringify({ query: '{ __typename }' }),
      });
      expect(res.status, contentType).toBe(403);
    }
  });

  it('variables or extensions that are not JSON, in a query string or a form body: 400 naming them', async () => {
    const query = encodeURIComponent('{ webhooks { totalCount } }');
    for (const [params, named] of [
      ['variables=%7B', '`variables`'],
      ['variables=undefined', '`variables`'],
      ['variables=%7B%7D&extensions=NaN', '`extensions`'],
    ] as const) {
      const res = await fetch(`${url}?query=${query}&${params}`, { headers: { 'x-api-key': apiKey } });
      expect(res.status, params).toBe(400);
      const body = await res.json();
      expect(body.errors[0].extensions.code).toBe('BAD_REQUEST');
      expect(body.errors[0].message).toBe(`${named} must be JSON`);
    }
    const form = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-graphql-yoga-csrf': '1' },
      body: `query=${query}&variables=%7B`,
    });
    expect(form.status).toBe(400);
    expect((await form.json()).errors[0].message).toBe('`variables` and `extensions` must be JSON');
    await stillServing();
  });

  /** A raw GET, as sent: fetch would normalise the target and refuse such a Host. */
  const rawGet = (host: string, target: string) =>
    new Promise<string>((resolve, reject) => {
      const socket = net.connect(Number(new URL(url).port), '127.0.0.1');
      let text = '';
      socket.on('connect', () =>
        socket.write(`GET ${target} HTTP/1.1\r\nHost: ${host}\r\nx-api-key: ${apiKey}\r\nConnection: close\r\n\r\n`),
      );
      socket.on('data', (chunk) => {
        text += chunk;
      });
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
    });
  const typename = '?query=%7B__typename%7D';

  it('a Host header that makes no URL: 400, without a stack', async () => {
    for (const host of ['[', 'a b', 'exa%mple.com', 'x:99999', '[::1']) {
      const answer = await rawGet(host, `/graphql${typename}`);
      expect(answer, host).toMatch(/^HTTP\/1\.1 400 /);
      expect(answer).toContain('"code":"BAD_REQUEST"');
      expect(answer).not.toMatch(/ at |node_modules|TypeError/);
    }
    await stillServing();
  });

  it('a target or Host that only resolves to /graphql (dot segments, a fragment, a path in Host): 400, not served past the door', async () => {
    for (const [host, target] of [
      ['x', `/./graphql${typename}`],
      ['x', `/x/../graphql${typename}`],
      ['x', `/%2e/graphql${typename}`],
      ['x', '/graphql#'],
      ['x', `/\\graphql${typename}`],
      ['x/graphql#', `/${typename}`],
      ['user@x', `/graphql${typename}`],
    ] as const) {
      const answer = await rawGet(host, target);
      expect(answer, `${host} ${target}`).toMatch(/^HTTP\/1\.1 400 /);
      expect(answer).toContain('"code":"BAD_REQUEST"');
    }
    // The same request in normal form is served.
    expect(await rawGet('x', `/graphql${typename}`)).toMatch(/^HTTP\/1\.1 200 [\s\S]*"__typename":"Query"/);
  });

  it('an absolute-form target (as sent through a forward proxy) is served as its path, and held to the same rules', async () => {
    expect(await rawGet('ignored', `http://x/graphql${typename}`)).toMatch(
      /^HTTP\/1\.1 200 [\s\S]*"__typename":"Query"/,
    );
    expect(await rawGet('ignored', `HTTPS://x:8443/graphql${typename}`)).toMatch(/^HTTP\/1\.1 200 /);
    for (const target of [
      `http://x/./graphql${typename}`,
      `http://user@x/graphql${typename}`,
      `http://[/graphql${typename}`,
      `http:///graphql${typename}`,
    ]) {
      const answer = await rawGet('x', target);
      expect(answer, target).toMatch(/^HTTP\/1\.1 400 /);
      expect(answer).toContain('"code":"BAD_REQUEST"');
    }
  });

  it('a multipart body that cannot be read (no boundary, cut short, a map or operations of the wrong shape): 400', async () => {
    const form = (contentType: string, body: string) =>
      fetch(url, { method: 'POST', headers: { 'content-type': contentType, 'x-graphql-yoga-csrf': '1' }, body });
    const part = (name: string, value: string) =>
      `--b\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`;
    const operations = part('operations', JSON.stringify({ query: '{ __typename }', variables: { x: null } }));
    for (const [contentType, body] of [
      ['multipart/form-data', 'hello'],
      ['multipart/form-data; boundary=b', '--b\r\nContent-Disposition: form-data; name="operations"\r\n\r\n{"qu'],
      ['multipart/form-data; boundary=b', `${operations}${part('map', '{"0":5}')}--b--\r\n`],
      ['multipart/form-data; boundary=b', `${operations}${part('map', '{"0":[5]}')}--b--\r\n`],
      ['multipart/form-data; boundary=b', `${part('operations', '"abc"')}${part('map', '{"0":["x"]}')}--b--\r\n`],
    ] as const) {
      const res = await form(contentType, body);
      expect(res.status, body).toBe(400);
      expect((await res.json()).errors[0].extensions.code).toBe('BAD_REQUEST');
    }
    await stillServing();
  });

  it('a body over the limit: 413, without reading it', async () => {
    const res = await post(
      JSON.stringify({ query: '{ __typename }', variables: { pad: 'x'.repeat(3 * 1024 * 1024) } }),
    );
    expect(res.status).toBe(413);
    expect((await res.json()).errors[0].extensions.code).toBe('PAYLOAD_TOO_LARGE');
    await stillServing();
  });

  it('a chunked body without Content-Length: 411', async () => {
    const stream = new ReadableStream({
      start(controller) {
        controller.enqueue(new TextEncoder().encode(JSON.stringify({ query: '{ __typename }' })));
        controller.close();
      },
    });
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': apiKey },
      body: stream,
      duplex: 'half',
    } as RequestInit);
    expect(res.status).toBe(411);
  });

  it('huge headers: 431 from the HTTP layer', async () => {
    const res = await post(JSON.stringify({ query: '{ __typename }' }), { 'x-padding': 'x'.repeat(64 * 1024) });
    expect(res.status).toBe(431);
    await stillServing();
  });

  it('a GraphiQL page for browsers, served without a key', async () => {
    const res = await fetch(url, { headers: { accept: 'text/html' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/html/);
  });
});

describe('bounded operations', () => {
  const errorOf = async (query: string) => {
    const res = await post(JSON.stringify({ query }));
    const body = await res.json();
    const messages = (body.errors ?? []).map((e: { message: string }) => e.message).join(' | ');
    const codes = (body.errors ?? []).map((e: { extensions?: { code?: string } }) => e.extensions?.code);
    return { status: res.status, message: messages, codes, data: body.data };
  };

  it('refuses a query nested deeper than 12 levels', async () => {
    let inner = 'id';
    for (let i = 0; i < 8; i++) inner = `deliveries { edges { node { webhook { ${inner} } } } }`;
    const { status, message, codes } = await errorOf(`{ webhooks { edges { node { ${inner} } } } }`);
    expect(status).toBe(400);
    expect(message).toMatch(/depth/i);
    expect(codes).toContain('OPERATION_TOO_COMPLEX');
  });

  it('refuses more than 20 aliases', async () => {
    const aliases = Array.from({ length: 25 }, (_, i) => `a${i}: webhooks { totalCount }`).join(' ');
    const { status, message } = await errorOf(`{ ${aliases} }`);
    expect(status).toBe(400);
    expect(message).toMatch(/alias/i);
  });

  it('refuses a document of more than 2000 tokens', async () => {
    const fields = Array.from({ length: 2100 }, () => '__typename').join(' ');
    const { status, message } = await errorOf(`{ ${fields} }`);
    expect(status).toBe(400);
    expect(message).toMatch(/token/i);
  });

  it('refuses brackets nested deeper than 100 before parsing (deeper, the parser ran out of stack), and counts none in strings or comments', async () => {
    for (const depth of [101, 1990]) {
      const { status, message, codes } = await errorOf(
        `{ nodes(ids: ${'['.repeat(depth)}"x"${']'.repeat(depth)}) { id } }`,
      );
      expect(status, String(depth)).toBe(400);
      expect(message).toMatch(/deeper than 100/);
      expect(codes).toEqual(['OPERATION_TOO_COMPLEX']);
    }
    // Event data written into the document may nest as deep as data may (64 levels).
    const data = `${'{ a: '.repeat(63)}1${' }'.repeat(63)}`;
    const published = await errorOf(
      `mutation { publishEvent(input: { agentId: "nesting", type: CONVERSATION_ENDED, data: ${data} }) { id } }`,
    );
    expect(published.status).toBe(200);
    const quoted = await errorOf(`# ${'['.repeat(500)}\n{ webhooks(agentId: "${'['.repeat(500)}") { totalCount } }`);
    expect(quoted.status).toBe(200);
    // Nor in a block string, or after an escaped quote.
    const block = await errorOf(`{ webhooks(agentId: """\\""" ${'['.repeat(500)}""") { totalCount } }`);
    expect(block.status).toBe(200);
    const escaped = await errorOf(`{ webhooks(agentId: "\\" ${'['.repeat(500)}") { totalCount } }`);
    expect(escaped.status).toBe(200);
  });

  it('refuses directive floods', async () => {
    const { status, message } = await errorOf(`{ __typename ${'@include(if: true) '.repeat(50)} }`);
    expect(status).toBe(400);
    expect(message).toMatch(/directive/i);
  });

  it('still serves GraphiQL introspection, which is deep', async () => {
    const introspection = `{ __schema { types { name fields { name type { name ofType { name ofType { name ofType { name ofType { name ofType { name ofType { name } } } } } } } } } } }`;
    const { status, data } = await errorOf(introspection);
    expect(status).toBe(200);
    expect(data.__schema.types.length).toBeGreaterThan(10);
  });
});

describe('rate limiting mutations per API key', () => {
  it('answers 429 RATE_LIMITED with Retry-After past the burst, per key, and lets reads through', async () => {
    const limited = await createTestApp({ RATE_LIMIT_PER_SECOND: '1', RATE_LIMIT_BURST: '3' });
    const a = await limited.newWorkspace();
    const b = await limited.newWorkspace();
    const register = (key: string) => limited.graphql(REGISTER, { apiKey: key, variables: { input: validWebhook() } });
    for (let i = 0; i < 3; i++) expect((await register(a.apiKey)).status).toBe(200);
    const refused = await limited.yoga.fetch('http://localhost/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': a.apiKey, 'content-length': '0' },
      body: JSON.stringify({ query: REGISTER, variables: { input: validWebhook() } }),
    });
    // content-length is checked only for being present and small; the real body is what is parsed.
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect((await refused.json()).errors[0].extensions.code).toBe('RATE_LIMITED');
    expect((await register(b.apiKey)).status).toBe(200);
    expect((await limited.graphql('{ webhooks { totalCount } }', { apiKey: a.apiKey })).status).toBe(200);
    const [row] = await limited.sql`select count(*)::int as n from webhooks where workspace_id = ${a.workspaceId}`;
    expect(row?.n).toBe(3);
  });
});
