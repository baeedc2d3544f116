import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../src/lib/logger.js';
import { createTestApp, type TestApp } from './support/app.js';
import { REGISTER, validWebhook } from './support/operations.js';
import { eventually } from './support/receiver.js';

// The request log of the app, as JSON lines.
const lines: string[] = [];
const capture = new Writable({
  write(chunk, _encoding, done) {
    lines.push(...String(chunk).split('\n').filter(Boolean));
    done();
  },
});

let app: TestApp;
let apiKey: string;
const servers: Server[] = [];
let viaYoga: string;
let viaListener: string;

async function serve(handler: Parameters<typeof createServer>[0]): Promise<string> {
  const server = createServer(handler);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
}

beforeAll(async () => {
  app = await createTestApp({ LOG_LEVEL: 'info' }, { log: createLogger('info', capture) });
  ({ apiKey } = await app.newWorkspace());
  // The same app behind Yoga's own node adapter, and behind the listener main.ts serves.
  viaYoga = await serve((req, res) => app.yoga(req, res));
  viaListener = await serve(app.yoga.listener);
});

afterAll(async () => {
  for (const server of servers) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

const json = (body: unknown, headers: Record<string, string> = {}) => ({
  method: 'POST',
  headers: { 'content-type': 'application/json', 'x-api-key': apiKey, ...headers },
  body: typeof body === 'string' ? body : JSON.stringify(body),
});

/** Status, headers in order and body, without what differs by nature from one answer to the next. */
async function answer(url: string, init: RequestInit) {
  const response = await fetch(url, init);
  const body = (await response.text())
    .replace(/"(wh|whsec)_[\w+/=]+"/g, '"$1_…"')
    .replace(/\d{4}-\d\d-\d\dT[\d:.]+Z/g, 'time');
  const given = 'x-request-id' in (init.headers as Record<string, string>);
  const headers = [...response.headers].filter(([name]) => name !== 'date' && (name !== 'x-request-id' || given));
  return { status: response.status, headers, body };
}

describe('the node:http listener', () => {
  const register = { query: REGISTER, variables: { input: validWebhook({ agentId: 'fast' }) } };
  const cases: [string, RequestInit][] = [
    ['registerWebhook', json(register)],
    ['an unknown key (401)', json(register, { 'x-api-key': 'chk_unknown' })],
    ['no key', json(register, { 'x-api-key': '' })],
    ['bad input', json({ query: REGISTER, variables: { input: validWebhook({ url: 'nope' }) } })],
    ['a variable of the wrong type', json({ query: REGISTER, variables: { input: { name: 1 } } })],
    ['an invalid document', json({ query: '{ webhooks { nope } }' })],
    ['a syntax error', json({ query: '{ webhooks { ' })],
    ['an operation name', json({ query: 'query A { __typename } query B { workspace { id } }', operationName: 'B' })],
    ['two operations, none named', json({ query: 'query A { __typename } query B { __typename }' })],
    ['introspection without a key', json({ query: '{ __schema { queryType { name } } }' }, { 'x-api-key': '' })],
    [
      'too deep',
      json({ query: `{ ${'__schema { types { fields { type { ofType { '.repeat(4)}name${' } } } }'.repeat(4)} }` }),
    ],
    ['a cross-origin browser', json(register, { origin: 'https://app.example' })],
    ['a request id', json({ query: '{ workspace { id } }' }, { 'x-request-id': 'client-id-1' })],
    [
      'graphql-response+json',
      json({ query: '{ webhooks { nope } }' }, { accept: 'application/graphql-response+json' }),
    ],
    ['event stream accepted', json({ query: '{ workspace { id } }' }, { accept: 'text/event-stream' })],
    ['nothing acceptable', json({ query: '{ workspace { id } }' }, { accept: 'text/html' })],
    ['charset', json({ query: '{ workspace { id } }' }, { 'content-type': 'application/json; charset=utf-8' })],
    ['an unknown parameter', json({ query: '{ workspace { id } }', other: 1 })],
    ['a batch', json([{ query: '{ workspace { id } }' }])],
    ['invalid JSON', json('{"query":')],
    ['null', json('null')],
    ['no query', json({ variables: {} })],
    ['variables not an object', json({ query: '{ workspace { id } }', variables: [1] })],
    [
      'a persisted query not known',
      json({ extensions: { persistedQuery: { version: 1, sha256Hash: 'ab'.repeat(32) } } }),
    ],
    ['a simple content type (CSRF)', json({ query: '{ workspace { id } }' }, { 'content-type': 'text/plain' })],
  ];

  it.each(cases)('answers %s exactly as Yoga does', async (_name, init) => {
    expect(await answer(viaListener, init)).toEqual(await answer(viaYoga, init));
  });

  it('logs each request it serves, with its id, operation, status and error codes', async () => {
    const response = await fetch(
      viaListener,
      json(
        { query: REGISTER, variables: { input: validWebhook({ url: 'nope' }) }, operationName: 'Register' },
        { 'x-request-id': 'fast-log-1' },
      ),
    );
    expect(response.headers.get('x-request-id')).toBe('fast-log-1');
    await eventually(async () => lines.some((line) => line.includes('fast-log-1')));
    const entry = lines.map((line) => JSON.parse(line)).find((e) => e.reqId === 'fast-log-1');
    expect(entry).toMatchObject({
      msg: 'request',
      method: 'POST',
      path: '/graphql',
      operation: 'Register',
      status: 200,
      errors: ['BAD_USER_INPUT'],
    });
  });

  it('writes what it registers, once', async () => {
    const { apiKey: key, workspaceId } = await app.newWorkspace();
    const response = await fetch(viaListener, {
      ...json({ query: REGISTER, variables: { input: validWebhook({ agentId: 'once' }) } }),
      headers: { 'content-type': 'application/json', 'x-api-key': key },
    });
    const { data } = (await response.json()) as { data: { registerWebhook: { id: string; secret: string } } };
    expect(data.registerWebhook.secret).toMatch(/^whsec_/);
    const rows = await app.sql`select id from webhooks where workspace_id = ${workspaceId}`;
    expect(rows.map((r) => r.id)).toEqual([data.registerWebhook.id]);
  });
});
