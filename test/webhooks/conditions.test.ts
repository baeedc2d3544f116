import { beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../support/app.js';
import { PUBLISH, REGISTER, UPDATE, validWebhook } from '../support/operations.js';
import { createReceiver, eventually, sleep } from '../support/receiver.js';

/** Conditions on event data: what they let through, against a real receiver, and what they refuse. */
let app: TestApp;
beforeAll(async () => {
  app = await createTestApp();
  app.startWorker();
});

const WITH_CONDITIONS = `conditions { path operator value } excludedFields`;
const REGISTER_WITH = `mutation Register($input: RegisterWebhookInput!) {
  registerWebhook(input: $input) { id ${WITH_CONDITIONS} }
}`;
const UPDATE_WITH = `mutation Update($id: ID!, $input: UpdateWebhookInput!) {
  updateWebhook(id: $id, input: $input) { id ${WITH_CONDITIONS} }
}`;

type Condition = { path: string; operator: string; value?: unknown };
const c = (path: string, operator: string, value?: unknown): Condition =>
  value === undefined ? { path, operator } : { path, operator, value };

/** The events of the table, by name: each is published once with `marker` set to its name. */
const EVENTS: Record<string, Record<string, unknown>> = {
  full: {
    durationSeconds: 90,
    analysis: { sentiment: 'positive', score: 0.8 },
    tags: ['vip'],
    caller: { country: 'FR' },
    flagged: null,
  },
  stringNumber: { durationSeconds: '90', analysis: { sentiment: 'negative' } },
  short: { durationSeconds: 30 },
  flatAnalysis: { analysis: 'positive' },
  empty: {},
};

/** Each case: the conditions of one webhook, and exactly the events it must receive. */
const CASES: { name: string; conditions: Condition[]; receives: string[] }[] = [
  { name: 'no conditions', conditions: [], receives: Object.keys(EVENTS) },
  { name: 'EQ a number', conditions: [c('durationSeconds', 'EQ', 90)], receives: ['full'] },
  {
    name: 'EQ a string is not EQ a number',
    conditions: [c('durationSeconds', 'EQ', '90')],
    receives: ['stringNumber'],
  },
  {
    name: 'NE: present and of another type or value; a missing path is false',
    conditions: [c('durationSeconds', 'NE', 90)],
    receives: ['stringNumber', 'short'],
  },
  { name: 'GT compares numbers only with numbers', conditions: [c('durationSeconds', 'GT', 60)], receives: ['full'] },
  { name: 'LTE', conditions: [c('durationSeconds', 'LTE', 30)], receives: ['short'] },
  { name: 'GTE on strings (code points)', conditions: [c('analysis.sentiment', 'GTE', 'o')], receives: ['full'] },
  {
    name: 'IN strings, nested path',
    conditions: [c('analysis.sentiment', 'IN', ['positive', 'neutral'])],
    receives: ['full'],
  },
  {
    name: 'IN with mixed types is strict',
    conditions: [c('durationSeconds', 'IN', [30, '90'])],
    receives: ['stringNumber', 'short'],
  },
  {
    name: 'EXISTS on a nested path (not through a string)',
    conditions: [c('analysis.sentiment', 'EXISTS')],
    receives: ['full', 'stringNumber'],
  },
  { name: 'EXISTS holds for a JSON null', conditions: [c('flagged', 'EXISTS')], receives: ['full'] },
  { name: 'EQ null matches a JSON null only', conditions: [c('flagged', 'EQ', null)], receives: ['full'] },
  {
    name: 'NE on a nested path, missing through a string',
    conditions: [c('analysis.sentiment', 'NE', 'positive')],
    receives: ['stringNumber'],
  },
  {
    name: 'all conditions must hold',
    conditions: [c('analysis.sentiment', 'EQ', 'positive'), c('durationSeconds', 'LT', 100)],
    receives: ['full'],
  },
  {
    name: 'all conditions must hold (one fails)',
    conditions: [c('analysis.sentiment', 'EQ', 'positive'), c('durationSeconds', 'LT', 60)],
    receives: [],
  },
  { name: 'arrays are not searched', conditions: [c('tags', 'EQ', 'vip')], receives: [] },
  { name: 'a path below a scalar is missing', conditions: [c('caller.country.code', 'EXISTS')], receives: [] },
];

describe('conditions decide which events a webhook receives', () => {
  it('delivers exactly the events that meet them (the table of cases)', async () => {
    const { apiKey } = await app.newWorkspace();
    const receiver = await createReceiver();
    for (const [i, testCase] of CASES.entries()) {
      const res = await app.graphql(REGISTER_WITH, {
        apiKey,
        variables: {
          input: validWebhook({
            url: `${receiver.url}?case=${i}`,
            agentId: 'agent-c',
            conditions: testCase.conditions,
          }),
        },
      });
      expect(res.errors, testCase.name).toBeUndefined();
    }
    for (const [marker, data] of Object.entries(EVENTS)) {
      const res = await app.graphql(PUBLISH, {
        apiKey,
        variables: { input: { agentId: 'agent-c', type: 'CONVERSATION_ENDED', data: { ...data, marker } } },
      });
      expect(res.errors).toBeUndefined();
    }
    const expected = CASES.reduce((sum, testCase) => sum + testCase.receives.length, 0);
    await receiver.waitFor(expected);
    await sleep(300);
    const got = CASES.map(() => [] as string[]);
    for (const request of receiver.received) {
      const i = Number(new URL(request.path, 'http://x').searchParams.get('case'));
      got[i]?.push((JSON.parse(request.body) as { data: { marker: string } }).data.marker);
    }
    for (const [i, testCase] of CASES.entries()) {
      expect({ case: testCase.name, got: got[i]?.sort() }).toEqual({
        case: testCase.name,
        got: [...testCase.receives].sort(),
      });
    }
    expect(receiver.received).toHaveLength(expected);
  });

  it('a webhook whose conditions fail gets no delivery row at all', async () => {
    const { apiKey } = await app.newWorkspace();
    const receiver = await createReceiver();
    const res = await app.graphql(REGISTER_WITH, {
      apiKey,
      variables: {
        input: validWebhook({ url: receiver.url, agentId: 'agent-rows', conditions: [c('score', 'GT', 5)] }),
      },
    });
    const webhookId = res.data?.registerWebhook.id;
    await app.graphql(PUBLISH, {
      apiKey,
      variables: { input: { agentId: 'agent-rows', type: 'CONVERSATION_ENDED', data: { score: 1 } } },
    });
    const [row] = await app.sql`select count(*)::int as n from deliveries where webhook_id = ${webhookId}`;
    expect(row?.n).toBe(0);
  });

  it('are read back as set, replaced by updateWebhook, and [] removes them', async () => {
    const { apiKey } = await app.newWorkspace();
    const receiver = await createReceiver();
    const conditions = [c('analysis.sentiment', 'IN', ['positive', 'neutral']), c('durationSeconds', 'EXISTS')];
    const res = await app.graphql(REGISTER_WITH, {
      apiKey,
      variables: { input: validWebhook({ url: receiver.url, agentId: 'agent-u', conditions }) },
    });
    const webhook = res.data?.registerWebhook;
    expect(webhook.conditions).toEqual([
      { path: 'analysis.sentiment', operator: 'IN', value: ['positive', 'neutral'] },
      { path: 'durationSeconds', operator: 'EXISTS', value: null },
    ]);
    const publish = (data: unknown) =>
      app.graphql(PUBLISH, { apiKey, variables: { input: { agentId: 'agent-u', type: 'CONVERSATION_ENDED', data } } });

    await publish({ durationSeconds: 5 });
    const updated = await app.graphql(UPDATE_WITH, {
      apiKey,
      variables: { id: webhook.id, input: { conditions: [c('durationSeconds', 'GT', 10)] } },
    });
    expect(updated.data?.updateWebhook.conditions).toEqual([{ path: 'durationSeconds', operator: 'GT', value: 10 }]);
    await publish({ durationSeconds: 5, n: 1 });
    await publish({ durationSeconds: 20, n: 2 });
    const cleared = await app.graphql(UPDATE_WITH, {
      apiKey,
      variables: { id: webhook.id, input: { conditions: [] } },
    });
    expect(cleared.data?.updateWebhook.conditions).toEqual([]);
    await publish({ n: 3 });
    await receiver.waitFor(2);
    await sleep(300);
    expect(receiver.received.map((r) => JSON.parse(r.body).data.n)).toEqual([2, 3]);
  });

  it('notices and test events ignore them', async () => {
    const { apiKey } = await app.newWorkspace();
    const receiver = await createReceiver();
    const res = await app.graphql(REGISTER_WITH, {
      apiKey,
      variables: {
        input: validWebhook({ url: receiver.url, agentId: 'agent-t', conditions: [c('never', 'EXISTS')] }),
      },
    });
    await app.graphql(`mutation($id: ID!) { sendTestEvent(webhookId: $id) { id } }`, {
      apiKey,
      variables: { id: res.data?.registerWebhook.id },
    });
    await receiver.waitFor(1);
    expect(JSON.parse(receiver.received[0]?.body as string).type).toBe('webhook.test');
  });
});

type Issue = { path: (string | number)[]; message: string };
const issuesOf = (res: { errors?: { extensions?: Record<string, any> }[] }) => {
  expect(res.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  return ((res.errors?.[0]?.extensions?.issues ?? []) as Issue[]).map((issue) => issue.path);
};

describe('bad conditions and excluded fields', () => {
  let apiKey: string;
  const webhookCount = async () => ((await app.sql`select count(*)::int as n from webhooks`)[0] as { n: number }).n;
  beforeAll(async () => {
    ({ apiKey } = await app.newWorkspace());
  });

  const register = (overrides: Record<string, unknown>) =>
    app.graphql(REGISTER, { apiKey, variables: { input: validWebhook({ agentId: 'agent-bad', ...overrides }) } });

  const BAD_CONDITIONS: [string, Condition, string | number][] = [
    ['an empty path', c('', 'EQ', 1), 'path'],
    ['an empty segment', c('a..b', 'EQ', 1), 'path'],
    ['a space in a key', c('a b', 'EQ', 1), 'path'],
    ['a trailing dot', c('analysis.', 'EQ', 1), 'path'],
    ['a bracket', c('tags[0]', 'EQ', 1), 'path'],
    ['too long a path', c('a'.repeat(257), 'EQ', 1), 'path'],
    ['IN without a list', c('a', 'IN', 'x'), 'value'],
    ['IN with an empty list', c('a', 'IN', []), 'value'],
    [
      'IN with 51 values',
      c(
        'a',
        'IN',
        Array.from({ length: 51 }, (_, i) => i),
      ),
      'value',
    ],
    ['IN with a nested list', c('a', 'IN', [[1]]), 'value'],
    ['GT with a boolean', c('a', 'GT', true), 'value'],
    ['GT with null', c('a', 'GT', null), 'value'],
    ['LT without a value', c('a', 'LT'), 'value'],
    ['GTE with a list', c('a', 'GTE', [1]), 'value'],
    ['EXISTS with a value', c('a', 'EXISTS', true), 'value'],
    ['EQ with an object', c('a', 'EQ', { b: 1 }), 'value'],
    ['EQ without a value', c('a', 'EQ'), 'value'],
    ['NE with a list', c('a', 'NE', [1]), 'value'],
    ['EQ with a NUL in a string', c('a', 'EQ', 'x\u0000y'), 'value'],
    ['EQ with too long a string', c('a', 'EQ', 'x'.repeat(1001)), 'value'],
  ];

  it.each(BAD_CONDITIONS)('%s is BAD_USER_INPUT naming the condition, nothing written', async (_name, bad, field) => {
    const before = await webhookCount();
    const res = await register({ conditions: [c('ok', 'EXISTS'), bad] });
    expect(issuesOf(res)).toEqual([['input', 'conditions', 1, field]]);
    expect(await webhookCount()).toBe(before);
  });

  it('an unknown operator is refused by GraphQL itself, naming the variable', async () => {
    const res = await register({ conditions: [{ path: 'a', operator: 'CONTAINS', value: 1 }] });
    expect(res.errors?.[0]?.message).toMatch(/input\.conditions\[0\]\.operator|CONTAINS/);
  });

  it('more than 10 conditions, or 20 excluded fields, are refused', async () => {
    const before = await webhookCount();
    const res = await register({
      conditions: Array.from({ length: 11 }, (_, i) => c(`k${i}`, 'EXISTS')),
      excludedFields: Array.from({ length: 21 }, (_, i) => `k${i}`),
    });
    expect(issuesOf(res)).toEqual([
      ['input', 'conditions'],
      ['input', 'excludedFields'],
    ]);
    expect(await webhookCount()).toBe(before);
  });

  it('a malformed excluded field is named by its index, with every other issue at once', async () => {
    const res = await register({
      conditions: [c('a', 'IN', 3)],
      excludedFields: ['transcript', 'caller phone', 'a..b'],
    });
    expect(issuesOf(res)).toEqual([
      ['input', 'conditions', 0, 'value'],
      ['input', 'excludedFields', 1],
      ['input', 'excludedFields', 2],
    ]);
  });

  it('updateWebhook refuses the same, and null, leaving the webhook as it was', async () => {
    const receiver = await createReceiver();
    const made = await app.graphql(REGISTER_WITH, {
      apiKey,
      variables: {
        input: validWebhook({
          url: receiver.url,
          agentId: 'agent-bad',
          conditions: [c('a', 'EQ', 1)],
          excludedFields: ['x'],
        }),
      },
    });
    const id = made.data?.registerWebhook.id;
    for (const [input, path] of [
      [{ conditions: [c('a', 'GT', 'x'), c('b', 'IN', 1)] }, ['input', 'conditions', 1, 'value']],
      [{ conditions: null }, ['input', 'conditions']],
      [{ excludedFields: null }, ['input', 'excludedFields']],
      [{ excludedFields: ['ok', ''] }, ['input', 'excludedFields', 1]],
      [{ name: 'renamed', excludedFields: ['a.'] }, ['input', 'excludedFields', 0]],
    ] as const) {
      const res = await app.graphql(UPDATE, { apiKey, variables: { id, input } });
      expect(issuesOf(res)).toEqual([path]);
    }
    const read = await app.graphql(`query($id: ID!) { webhook(id: $id) { name ${WITH_CONDITIONS} } }`, {
      apiKey,
      variables: { id },
    });
    expect(read.data?.webhook).toEqual({
      name: 'Call events - production',
      conditions: [{ path: 'a', operator: 'EQ', value: 1 }],
      excludedFields: ['x'],
    });
  });

  it('data whose path runs through a string, a list or another type is published and simply not delivered there', async () => {
    // The fan-out is one statement: a condition that cannot apply must not fail the publish for the other webhooks.
    const { apiKey: key } = await app.newWorkspace();
    const receiver = await createReceiver();
    await app.graphql(REGISTER, {
      apiKey: key,
      variables: { input: validWebhook({ url: receiver.url, agentId: 'agent-mix', conditions: [c('x.y', 'GT', 1)] }) },
    });
    await app.graphql(REGISTER, {
      apiKey: key,
      variables: { input: validWebhook({ url: receiver.url, agentId: 'agent-mix' }) },
    });
    // The last: data PostgreSQL's jsonb cannot hold (a NUL) meets no condition, and is still published.
    for (const data of [
      { x: 'string' },
      { x: [1, 2] },
      { x: { y: '2' } },
      { x: { y: 2 } },
      { x: { y: 3, 'n\u0000': 1 } },
    ]) {
      const res = await app.graphql(PUBLISH, {
        apiKey: key,
        variables: { input: { agentId: 'agent-mix', type: 'CONVERSATION_ENDED', data } },
      });
      expect(res.errors).toBeUndefined();
    }
    await eventually(async () => receiver.received.length >= 6);
    await sleep(300);
    expect(receiver.received).toHaveLength(6);
  });
});
