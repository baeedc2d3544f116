import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../support/app.js';
import { PUBLISH, REGISTER, UPDATE, validWebhook } from '../support/operations.js';

/**
 * Arbitrary and adversarial inputs over real HTTP. Every answer is a success or a
 * BAD_USER_INPUT whose issues name a field; never an internal error; and rows change
 * only on success. `npm test` runs a few hundred cases per property; `npm run fuzz`
 * runs FUZZ_RUNS (10,000) and prints the count.
 */
const RUNS = Number(process.env.FUZZ_RUNS ?? 150);
const TIME = { timeout: 20_000 + RUNS * 30 };

let app: TestApp;
let url: string;
let apiKey: string;
let workspaceId: string;
let webhookId: string;
beforeAll(async () => {
  app = await createTestApp({ ALLOW_PRIVATE_TARGETS: 'false' });
  url = await app.listen();
  ({ apiKey, workspaceId } = await app.newWorkspace());
  const res = await app.graphql(REGISTER, { apiKey, variables: { input: validWebhook() } });
  webhookId = res.data?.registerWebhook.id;
});

const nasty = fc.constantFrom(
  '',
  ' ',
  '\u0000',
  'a\u0000b',
  '\t\n',
  "'; drop table webhooks; --",
  '$1',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a log4shell-style string, on purpose.
  '${jndi:ldap://x}',
  '<script>alert(1)</script>',
  '\ud800',
  '🦜'.repeat(40),
  'x'.repeat(129),
  'x'.repeat(3000),
  'javascript:alert(1)',
  'http://',
  'https://[::1]/',
  'http://0x7f.1/',
  'http://169.254.169.254/latest',
  'https://user:pw@example.com/',
  'https://exa mple.com/',
  'https://example.com/\u0000',
  'HTTPS://EXAMPLE.COM/',
  'https://example.com:0/',
  'https://example.com:99999/',
  'http://localhost./',
);
const text = fc.oneof(
  fc.string({ maxLength: 200 }),
  fc.string({ unit: 'grapheme', maxLength: 80 }),
  fc.string({ unit: 'binary', maxLength: 80 }),
  nasty,
  fc.webUrl(),
);
const anything = fc.oneof(
  text,
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.jsonValue({ maxDepth: 3 }),
);
const event = fc.oneof(
  fc.constantFrom('CONVERSATION_STARTED', 'CONVERSATION_ENDED', 'CONVERSATION_ANALYSED'),
  anything,
);
const events = fc.oneof(fc.array(event, { maxLength: 6 }), anything);

/** Dotted paths into data, for conditions and excluded fields: good, malformed and hostile. */
const dataPath = fc.oneof(
  fc.constantFrom('a', 'analysis.sentiment', 'a..b', '', 'a.', '.a', 'a b', 'tags[0]', '__proto__', 'x'.repeat(300)),
  fc
    .array(fc.constantFrom('a', 'b_1', '$', '"', '\\', '-'), { minLength: 1, maxLength: 20 })
    .map((keys) => keys.join('.')),
  text,
);
const condition = fc.record(
  {
    path: fc.oneof(dataPath, anything),
    operator: fc.oneof(fc.constantFrom('EQ', 'NE', 'GT', 'GTE', 'LT', 'LTE', 'IN', 'EXISTS'), anything),
    value: fc.oneof(anything, fc.array(anything, { maxLength: 60 })),
  },
  { requiredKeys: [] },
);
const conditions = fc.oneof(fc.array(condition, { maxLength: 12 }), anything);
const excludedFields = fc.oneof(fc.array(fc.oneof(dataPath, anything), { maxLength: 22 }), anything);

const registerInput = fc.record(
  {
    name: fc.oneof(text, anything),
    agentId: fc.oneof(text, anything),
    url: fc.oneof(text, fc.webUrl(), anything),
    events,
    active: anything,
    conditions,
    excludedFields,
  },
  { requiredKeys: [] },
);
const updateInput = fc.record(
  {
    name: fc.oneof(text, anything),
    url: fc.oneof(text, fc.webUrl(), anything),
    events,
    active: anything,
    conditions,
    excludedFields,
  },
  { requiredKeys: [] },
);
const publishInput = fc.record(
  {
    agentId: fc.oneof(text, anything),
    type: event,
    data: fc.oneof(fc.jsonValue({ maxDepth: 4 }), fc.dictionary(text, fc.jsonValue({ maxDepth: 2 })), anything),
    idempotencyKey: fc.oneof(text, anything),
  },
  { requiredKeys: [] },
);
/** A valid input with one field replaced: the cases closest to success. */
const oneFieldOff = (valid: Record<string, unknown>, arbitrary: fc.Arbitrary<Record<string, unknown>>) =>
  fc
    .tuple(fc.constantFrom(...Object.keys(valid)), arbitrary)
    .map(([key, random]) => ({ ...valid, [key]: random[key] }));
const validRegister = {
  name: 'n',
  agentId: 'a',
  url: 'https://example.com/h',
  events: ['CONVERSATION_ENDED'],
  conditions: [{ path: 'analysis.sentiment', operator: 'EQ', value: 'positive' }],
  excludedFields: ['transcript'],
};
const validPublish = { agentId: 'a', type: 'CONVERSATION_ENDED', data: { x: 1 } };

// Sometimes not even an object.
const orGarbage = <T>(input: fc.Arbitrary<T>) =>
  fc.oneof({ weight: 9, arbitrary: input }, { weight: 1, arbitrary: anything });

async function send(query: string, variables: Record<string, unknown>) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': apiKey },
    body: JSON.stringify({ query, variables }),
  });
  const body = await res.json();
  return { status: res.status, body };
}

async function counts() {
  const [row] = await app.sql`
    select (select count(*)::int from webhooks where workspace_id = ${workspaceId}) as webhooks,
           (select count(*)::int from events where workspace_id = ${workspaceId}) as events,
           (select max(updated_at) from webhooks where workspace_id = ${workspaceId}) as touched`;
  return row as { webhooks: number; events: number; touched: Date };
}

const tally = { accepted: 0, refused: 0 };

/** The answer is a success, or BAD_USER_INPUT naming fields of the input; nothing else. */
function expectSuccessOrBadInput(answer: { status: number; body: any }, field: string) {
  expect([200, 400]).toContain(answer.status);
  if (!answer.body.errors) {
    expect(answer.body.data[field]).toBeTruthy();
    tally.accepted++;
    return true;
  }
  tally.refused++;
  expect(answer.body.data ?? null).toBeNull();
  for (const error of answer.body.errors) {
    expect(error.extensions?.code, JSON.stringify(error)).toBe('BAD_USER_INPUT');
    expect(error.extensions.issues.length).toBeGreaterThan(0);
    for (const issue of error.extensions.issues) {
      expect(issue.path[0]).toBe('input');
      expect(typeof issue.message).toBe('string');
    }
    expect(JSON.stringify(error)).not.toMatch(/stack|postgres|select |insert |whsec_/i);
  }
  return false;
}

describe(`fuzzing (${RUNS} runs per property)`, () => {
  it('registerWebhook', TIME, async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(orGarbage(registerInput), oneFieldOff(validRegister, registerInput)), async (input) => {
        const before = await counts();
        const answer = await send(REGISTER, { input });
        const ok = expectSuccessOrBadInput(answer, 'registerWebhook');
        expect((await counts()).webhooks).toBe(before.webhooks + (ok ? 1 : 0));
      }),
      { numRuns: RUNS },
    );
  });

  it('updateWebhook', TIME, async () => {
    await fc.assert(
      fc.asyncProperty(orGarbage(updateInput), async (input) => {
        const before = await counts();
        const answer = await send(UPDATE, { id: webhookId, input });
        const ok = expectSuccessOrBadInput(answer, 'updateWebhook');
        if (!ok) expect((await counts()).touched).toEqual(before.touched);
      }),
      { numRuns: RUNS },
    );
  });

  it('publishEvent', TIME, async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(orGarbage(publishInput), oneFieldOff(validPublish, publishInput)), async (input) => {
        const before = await counts();
        const answer = await send(PUBLISH, { input });
        const ok = expectSuccessOrBadInput(answer, 'publishEvent');
        const after = await counts();
        if (!ok) expect(after.events).toBe(before.events);
        else expect(after.events - before.events).toBeLessThanOrEqual(1);
      }),
      { numRuns: RUNS },
    );
    if (process.env.FUZZ_RUNS) {
      process.stdout.write(
        `fuzz: ${tally.accepted + tally.refused} cases over HTTP (${tally.accepted} accepted, ${tally.refused} refused as BAD_USER_INPUT), no other answer\n`,
      );
    }
  });
});
