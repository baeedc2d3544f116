import { Writable } from 'node:stream';
import { Webhook } from 'standardwebhooks';
import { beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/lib/logger.js';
import { RESERVED_HEADER_NAMES } from '../../src/webhooks/rules.js';
import { createTestApp, type TestApp } from '../support/app.js';
import { conversationEnded, PUBLISH, validWebhook } from '../support/operations.js';
import { createReceiver, eventually } from '../support/receiver.js';

const lines: string[] = [];
const capture = new Writable({
  write(chunk, _encoding, done) {
    lines.push(...String(chunk).split('\n').filter(Boolean));
    done();
  },
});

let app: TestApp;
let apiKey: string;
let workspaceId: string;
beforeAll(async () => {
  app = await createTestApp({ LOG_LEVEL: 'debug' }, { log: createLogger('debug', capture) });
  ({ apiKey, workspaceId } = await app.newWorkspace());
  app.startWorker();
});

const FIELDS = 'id secret headers { name value }';
const REGISTER = `mutation($input: RegisterWebhookInput!) { registerWebhook(input: $input) { ${FIELDS} } }`;
const UPDATE = `mutation($id: ID!, $input: UpdateWebhookInput!) { updateWebhook(id: $id, input: $input) { ${FIELDS} } }`;
const GET = `query($id: ID!) { webhook(id: $id) { ${FIELDS} } }`;

const webhookCount = async () =>
  (await app.sql`select count(*)::int as n from webhooks where workspace_id = ${workspaceId}`)[0]?.n as number;

/** Registers with these headers; expects BAD_USER_INPUT with nothing written, and returns the issues. */
async function refused(headers: unknown) {
  const before = await webhookCount();
  const res = await app.graphql(REGISTER, { apiKey, variables: { input: validWebhook({ headers }) } });
  expect(res.data ?? null).toBeNull();
  expect(res.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  expect(await webhookCount()).toBe(before);
  return res.errors?.[0]?.extensions?.issues as { path: (string | number)[]; message: string }[];
}

describe('custom headers: input rules', () => {
  const reserved = [
    ...RESERVED_HEADER_NAMES,
    'Host',
    'Content-Type',
    'WEBHOOK-SIGNATURE',
    'webhook-id',
    'webhook-timestamp',
    'webhook-anything',
    'Proxy-Authorization',
    'X-Forwarded-For',
  ];
  it.each(reserved)('refuses the reserved name %s, naming the entry', async (name) => {
    const issues = await refused([
      { name: 'Authorization', value: 'Bearer ok' },
      { name, value: 'x' },
    ]);
    expect(issues).toEqual([{ path: ['input', 'headers', 1, 'name'], message: expect.stringMatching(/reserved/) }]);
  });

  it.each([
    ['CR', 'a\rb'],
    ['LF', 'a\nb'],
    ['CRLF at the end', 'token\r\n'],
    ['NUL', 'a\u0000b'],
  ])('refuses a value with %s', async (_label, value) => {
    const issues = await refused([{ name: 'X-Token', value }]);
    expect(issues).toEqual([{ path: ['input', 'headers', 0, 'value'], message: 'must not contain CR, LF or NUL' }]);
  });

  it('refuses names that are not HTTP tokens, other control or non-ASCII characters, and over-long values', async () => {
    const issues = await refused([
      { name: 'X Token', value: 'a' },
      { name: 'X-Tab', value: 'a\u0007b' },
      { name: 'X-Unicode', value: 'café' },
      { name: '', value: 'a' },
      { name: 'X-Long', value: 'v'.repeat(1001) },
      { name: 'x:colon', value: 'a' },
    ]);
    expect(issues.map((i) => i.path)).toEqual([
      ['input', 'headers', 0, 'name'],
      ['input', 'headers', 1, 'value'],
      ['input', 'headers', 2, 'value'],
      ['input', 'headers', 3, 'name'],
      ['input', 'headers', 4, 'value'],
      ['input', 'headers', 5, 'name'],
    ]);
  });

  it('refuses more than 20 headers, and a name repeated in another case', async () => {
    const many = Array.from({ length: 21 }, (_, i) => ({ name: `X-H${i}`, value: 'v' }));
    expect(await refused(many)).toEqual([{ path: ['input', 'headers'], message: 'must be at most 20 headers' }]);
    const repeated = await refused([
      { name: 'X-Token', value: 'a' },
      { name: 'x-token', value: 'b' },
    ]);
    expect(repeated).toEqual([{ path: ['input', 'headers', 1, 'name'], message: expect.stringMatching(/repeats/) }]);
  });

  it('bounds the names and values together', async () => {
    const big = Array.from({ length: 9 }, (_, i) => ({ name: `X-Big-${i}`, value: 'v'.repeat(1000) }));
    expect(await refused(big)).toEqual([
      { path: ['input', 'headers'], message: expect.stringContaining('at most 8192 characters') },
    ]);
  });

  it('on update too, writing nothing; an explicit null is refused', async () => {
    const created = await app.graphql(REGISTER, {
      apiKey,
      variables: { input: validWebhook({ headers: [{ name: 'X-Keep', value: 'kept' }] }) },
    });
    const id = created.data?.registerWebhook.id;
    const bad = await app.graphql(UPDATE, {
      apiKey,
      variables: { id, input: { name: 'renamed', headers: [{ name: 'Content-Length', value: '1' }] } },
    });
    expect(bad.errors?.[0]?.extensions?.issues).toEqual([
      { path: ['input', 'headers', 0, 'name'], message: expect.stringMatching(/reserved/) },
    ]);
    const nulled = await app.graphql(UPDATE, { apiKey, variables: { id, input: { headers: null } } });
    expect(nulled.errors?.[0]?.extensions?.issues).toEqual([
      { path: ['input', 'headers'], message: expect.stringContaining('must not be null') },
    ]);
    const now = await app.graphql(GET, { apiKey, variables: { id } });
    expect(now.data?.webhook.headers).toEqual([{ name: 'X-Keep', value: 'kept' }]);
  });
});

describe('custom headers: delivery and storage', () => {
  it('arrive at the receiver with every delivery, beside an unchanged signed body', async () => {
    const receiver = await createReceiver();
    const headers = [
      { name: 'Authorization', value: 'Bearer tok_arrive_3b7c9d' },
      { name: 'X-Tenant', value: '  acme  ' },
    ];
    const res = await app.graphql(REGISTER, {
      apiKey,
      variables: { input: validWebhook({ url: receiver.url, agentId: 'headers-arrive', headers }) },
    });
    expect(res.errors).toBeUndefined();
    const secret = res.data?.registerWebhook.secret as string;
    // Values are trimmed, names kept as given, and shown to the workspace that set them.
    expect(res.data?.registerWebhook.headers).toEqual([
      { name: 'Authorization', value: 'Bearer tok_arrive_3b7c9d' },
      { name: 'X-Tenant', value: 'acme' },
    ]);

    const published = await app.graphql(PUBLISH, {
      apiKey,
      variables: { input: conversationEnded('headers-arrive') },
    });
    await receiver.waitFor(1);
    const [request] = receiver.received;
    expect(request?.headers.authorization).toBe('Bearer tok_arrive_3b7c9d');
    expect(request?.headers['x-tenant']).toBe('acme');
    expect(request?.headers['content-type']).toBe('application/json');
    expect(request?.headers['webhook-id']).toBe(published.data?.publishEvent.id);
    const event = new Webhook(secret).verify(request?.body ?? '', request?.headers as Record<string, string>);
    expect(event).toMatchObject({ id: published.data?.publishEvent.id, type: 'conversation_ended' });
    expect(request?.body).not.toContain('tok_arrive');
  });

  it('update replaces the whole set, [] clears it, and leaving it out keeps it; deliveries follow', async () => {
    const receiver = await createReceiver();
    const created = await app.graphql(REGISTER, {
      apiKey,
      variables: {
        input: validWebhook({
          url: receiver.url,
          agentId: 'headers-update',
          headers: [
            { name: 'X-One', value: '1' },
            { name: 'X-Two', value: '2' },
          ],
        }),
      },
    });
    const id = created.data?.registerWebhook.id;
    const deliverOne = async (count: number) => {
      await app.graphql(PUBLISH, { apiKey, variables: { input: conversationEnded('headers-update') } });
      await receiver.waitFor(count);
      return receiver.received[count - 1]?.headers ?? {};
    };
    expect(await deliverOne(1)).toMatchObject({ 'x-one': '1', 'x-two': '2' });

    const replaced = await app.graphql(UPDATE, {
      apiKey,
      variables: { id, input: { headers: [{ name: 'X-Three', value: '3' }] } },
    });
    expect(replaced.data?.updateWebhook.headers).toEqual([{ name: 'X-Three', value: '3' }]);
    const second = await deliverOne(2);
    expect(second['x-three']).toBe('3');
    expect(second['x-one']).toBeUndefined();

    const renamed = await app.graphql(UPDATE, { apiKey, variables: { id, input: { name: 'still has headers' } } });
    expect(renamed.data?.updateWebhook.headers).toEqual([{ name: 'X-Three', value: '3' }]);

    const cleared = await app.graphql(UPDATE, { apiKey, variables: { id, input: { headers: [] } } });
    expect(cleared.data?.updateWebhook.headers).toEqual([]);
    const [row] = await app.sql`select headers_encrypted from webhooks where id = ${id}`;
    expect(row?.headersEncrypted).toBeNull();
    const third = await deliverOne(3);
    expect(third['x-three']).toBeUndefined();
    expect(third['webhook-signature']).toMatch(/^v1,/);
  });

  it('cost nothing extra to list: a full page of webhooks with their headers is within the query cost', async () => {
    const res = await app.graphql('{ webhooks(first: 100) { edges { node { id headers { name value } } } } }', {
      apiKey,
    });
    expect(res.errors).toBeUndefined();
    expect(res.data?.webhooks.edges.some((e: any) => e.node.headers.length > 0)).toBe(true);
  });

  it('are encrypted at rest and never logged', async () => {
    const receiver = await createReceiver((n) => ({ status: n === 0 ? 500 : 200 }));
    const value = 'Bearer tok_atrest_9f8e7d6c5b4a';
    const res = await app.graphql(REGISTER, {
      apiKey,
      variables: {
        input: validWebhook({
          url: receiver.url,
          agentId: 'headers-at-rest',
          headers: [{ name: 'Authorization', value }],
        }),
      },
    });
    const id = res.data?.registerWebhook.id;
    const [row] = await app.sql`select * from webhooks where id = ${id}`;
    const raw = JSON.stringify(row, (_key, v) => (v?.type === 'Buffer' ? Buffer.from(v.data).toString('latin1') : v));
    expect(raw).not.toContain('tok_atrest');
    expect(raw).not.toContain('Authorization');
    expect(Buffer.isBuffer(row?.headersEncrypted)).toBe(true);

    // A failed attempt is logged; then a success.
    await app.graphql(PUBLISH, { apiKey, variables: { input: conversationEnded('headers-at-rest') } });
    await receiver.waitFor(2, 15_000);
    expect(receiver.received[1]?.headers.authorization).toBe(value);
    await app.graphql(GET, { apiKey, variables: { id } });
    await eventually(async () => lines.some((line) => line.includes('delivery attempt failed') && line.includes(id)));
    const log = lines.join('\n');
    expect(log).not.toContain('tok_atrest');
  });
});
