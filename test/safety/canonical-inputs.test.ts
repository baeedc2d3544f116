import { beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../support/app.js';

/** Inputs that JavaScript reads one way and PostgreSQL or JSON store another. */

let app: TestApp;
let apiKey: string;
beforeAll(async () => {
  app = await createTestApp();
  ({ apiKey } = await app.newWorkspace());
});

/** A publishEvent sent as raw JSON text, so numbers reach the server as the client wrote them. */
async function publishRaw(idempotencyKey: string, dataJson: string) {
  const body = `{"query":"mutation($i: PublishEventInput!) { publishEvent(input: $i) { id } }","variables":{"i":{"agentId":"raw","type":"CONVERSATION_ENDED","idempotencyKey":${JSON.stringify(idempotencyKey)},"data":${dataJson}}}}`;
  const response = await app.yoga.fetch('http://localhost/graphql', {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-api-key': apiKey,
      'content-length': String(Buffer.byteLength(body)),
    },
    body,
  });
  return { status: response.status, ...((await response.json()) as { data?: any; errors?: any[] }) };
}

describe('an idempotent retry compares values as they are stored', () => {
  it.each([
    ['-0 against 0', '{"x": -0}', '{"x": 0}'],
    ['-0 against itself', '{"x": -0}', '{"x": -0}'],
    ['1.0 against 1', '{"x": 1.0}', '{"x": 1}'],
    ['an escaped pair against the character', '{"x": "\\ud83d\\ude00"}', '{"x": "😀"}'],
  ])('%s is the same event, answered with the first id', async (label, first, retry) => {
    const key = `retry ${label}`;
    const a = await publishRaw(key, first);
    const b = await publishRaw(key, retry);
    expect(a.errors).toBeUndefined();
    expect(b.errors).toBeUndefined();
    expect(b.data?.publishEvent.id).toBe(a.data?.publishEvent.id);
  });

  it('a number JSON cannot hold (1e400) is refused naming data, not stored as null', async () => {
    const res = await publishRaw('too big', '{"x": 1e400}');
    expect(res.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(res.errors?.[0]?.extensions?.issues).toEqual([
      { path: ['input', 'data'], message: 'must hold only finite numbers' },
    ]);
  });

  it('an idempotency key with an unpaired surrogate is refused naming it, on the first try and the second', async () => {
    for (let i = 0; i < 2; i++) {
      const res = await publishRaw('\ud800', '{"x": 1}');
      expect(res.errors?.[0]?.extensions?.issues).toEqual([
        { path: ['input', 'idempotencyKey'], message: 'must be valid Unicode (no unpaired surrogates)' },
      ]);
    }
  });
});

describe('dates outside 0001–9999', () => {
  it.each(['0000-01-01T00:00:00Z', '0000-12-31T23:59:59.999Z'])(
    '%s is refused as BAD_USER_INPUT naming the variable, never INTERNAL',
    async (since) => {
      const res = await app.graphql('query($s: DateTime) { events(since: $s) { totalCount } }', {
        apiKey,
        variables: { s: since },
      });
      expect(res.status).toBe(400);
      expect(res.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      expect(res.errors?.[0]?.extensions?.issues?.[0]?.path).toEqual(['s']);
      const inline = await app.graphql(`{ deliveries(since: "${since}") { totalCount } }`, { apiKey });
      expect(inline.errors?.[0]?.extensions?.code).not.toBe('INTERNAL_SERVER_ERROR');
      expect(inline.data ?? null).toBeNull();
    },
  );
});
