import fc from 'fast-check';
import {
  type GraphQLArgument,
  type GraphQLField,
  type GraphQLInputType,
  type GraphQLObjectType,
  getNamedType,
  getNullableType,
  isEnumType,
  isInputObjectType,
  isLeafType,
  isListType,
  isNonNullType,
  isScalarType,
} from 'graphql';
import { beforeAll, describe, expect, it } from 'vitest';
import { schema } from '../../src/schema.js';
import { createTestApp, type TestApp } from '../support/app.js';
import { conversationEnded, PUBLISH, REGISTER, validWebhook } from '../support/operations.js';

/**
 * Every argument of every query and mutation, and of every field below them, read from
 * the schema itself: a new argument is fuzzed without anyone writing a case for it.
 * Each run sends one field with arbitrary and adversarial values over real HTTP. Every
 * answer is a success, or an error a client is told to expect (BAD_USER_INPUT naming
 * the argument, NOT_FOUND, a refused operation); never INTERNAL_SERVER_ERROR, a 5xx or
 * a leak. `npm test` runs a few hundred cases; `npm run fuzz` runs FUZZ_RUNS (10,000).
 */
const RUNS = Number(process.env.FUZZ_RUNS ?? 300);

const EXPECTED_CODES = new Set(['BAD_USER_INPUT', 'NOT_FOUND', 'OPERATION_TOO_COMPLEX', 'RESPONSE_TOO_LARGE']);

let app: TestApp;
let url: string;
let apiKey: string;
const known: Record<string, string> = {};

beforeAll(async () => {
  app = await createTestApp({ ALLOW_PRIVATE_TARGETS: 'false' });
  url = await app.listen();
  ({ apiKey } = await app.newWorkspace());
  const agentId = 'fuzz-agent';
  const registered = await app.graphql(REGISTER, { apiKey, variables: { input: validWebhook({ agentId }) } });
  known.webhook = registered.data?.registerWebhook.id;
  const published = await app.graphql(PUBLISH, { apiKey, variables: { input: conversationEnded(agentId) } });
  known.event = published.data?.publishEvent.id;
  const [delivery] = await app.sql<{ id: string }[]>`select id from deliveries where event_id = ${known.event ?? ''}`;
  known.delivery = delivery?.id ?? '';
});

// ---- values for each input type --------------------------------------------------------

const nastyText = fc.constantFrom(
  '',
  ' ',
  '\u0000',
  'a\u0000b',
  '\u001b[31m',
  '\t\n',
  '\ud800',
  "'; drop table webhooks; --",
  '%00',
  '🦜'.repeat(40),
  'x'.repeat(5000),
  'null',
  '-1',
  '1e309',
);
/** Cursors: real shapes with absurd contents, and plain garbage. */
const cursor = fc.oneof(
  fc
    .tuple(fc.oneof(fc.bigInt({ min: 0n, max: 10n ** 30n }).map(String), fc.string()), fc.string({ maxLength: 50 }))
    .map(([micros, id]) => Buffer.from(`${micros}:${id}`).toString('base64url')),
  fc.constantFrom(
    Buffer.from('9999999999999999999:x').toString('base64url'),
    Buffer.from('9223372036854775807:wh_0000000000000000').toString('base64url'),
    Buffer.from('-1:x').toString('base64url'),
    '====',
  ),
);
const text = fc.oneof(fc.string({ maxLength: 100 }), fc.string({ unit: 'binary', maxLength: 60 }), nastyText, cursor);
const wrongType = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.constant([]),
  fc.constant({}),
  text,
);
const deepJson = fc
  .integer({ min: 1, max: 3000 })
  .map((depth) => JSON.parse(`${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`) as unknown);

function idsFor(arg: string, root: Site['root']): fc.Arbitrary<string> {
  const kind = /webhook/i.test(arg)
    ? 'webhook'
    : /delivery/i.test(arg)
      ? 'delivery'
      : /event/i.test(arg)
        ? 'event'
        : '';
  const shaped = fc
    .constantFrom('wh_', 'evt_', 'dlv_', 'key_', 'org_')
    .chain((prefix) => fc.stringMatching(/^[0-9A-Za-z]{16}$/).map((rest) => prefix + rest));
  // Reads also get the ids of real rows; mutations do not, or one deleteWebhook would end the reads' cases.
  return root === 'query'
    ? fc.oneof(shaped, text, fc.constant(known[kind] ?? known.webhook ?? ''))
    : fc.oneof(shaped, text);
}

function valueFor(type: GraphQLInputType, name: string, root: Site['root'], depth = 0): fc.Arbitrary<unknown> {
  const inner = getNullableType(type) as GraphQLInputType;
  const base = ((): fc.Arbitrary<unknown> => {
    if (isListType(inner)) return fc.array(valueFor(inner.ofType, name, root, depth + 1), { maxLength: 5 });
    if (isInputObjectType(inner)) {
      if (depth > 3) return fc.constant({});
      const fields = Object.values(inner.getFields());
      return fc.record(Object.fromEntries(fields.map((f) => [f.name, valueFor(f.type, f.name, root, depth + 1)])), {
        requiredKeys: [],
      });
    }
    if (isEnumType(inner)) return fc.oneof(fc.constantFrom(...inner.getValues().map((v) => v.name)), text);
    if (isScalarType(inner)) {
      switch (inner.name) {
        case 'Int':
          return fc.oneof(
            fc.integer({ min: -5, max: 200 }),
            fc.constantFrom(0, -1, 2 ** 31 - 1, -(2 ** 31), 2 ** 53),
            fc.integer(),
          );
        case 'Boolean':
          return fc.boolean();
        case 'ID':
          return idsFor(name, root);
        case 'DateTime':
          return fc.oneof(
            fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
            fc.constantFrom('0000-01-01T00:00:00Z', '9999-12-31T23:59:59Z', 'yesterday', '2026-02-30T00:00:00Z'),
          );
        case 'JSON':
          return fc.oneof(fc.jsonValue({ maxDepth: 4 }), deepJson, fc.dictionary(text, fc.jsonValue({ maxDepth: 2 })));
        default:
          return text;
      }
    }
    return text;
  })();
  // Mostly the right type, now and then anything at all.
  return fc.oneof({ weight: 8, arbitrary: base }, { weight: 1, arbitrary: wrongType });
}

// ---- every field with arguments, and how to reach it -------------------------------------

type Site = {
  label: string;
  field: GraphQLField<unknown, unknown>;
  wrap: (inner: string) => string;
  root: 'query' | 'mutation';
};

/** `Webhook.deliveries` is reached through `webhook(id:)`, and so on for each type with such a root field. */
function sites(): Site[] {
  const query = schema.getQueryType() as GraphQLObjectType;
  const mutation = schema.getMutationType() as GraphQLObjectType;
  const found: Site[] = [];
  for (const [root, type] of [
    ['query', query],
    ['mutation', mutation],
  ] as const) {
    for (const field of Object.values(type.getFields())) {
      found.push({ label: `${type.name}.${field.name}`, field, wrap: (inner) => inner, root });
    }
  }
  for (const entry of Object.values(query.getFields())) {
    const target = getNamedType(entry.type);
    if (isLeafType(target) || !entry.args.some((a) => a.name === 'id')) continue;
    for (const field of Object.values((target as GraphQLObjectType).getFields())) {
      if (field.args.length === 0) continue;
      const kind = entry.name;
      found.push({
        label: `${target.name}.${field.name}`,
        field,
        wrap: (inner) => `${entry.name}(id: "${known[kind] ?? ''}") { ${inner} }`,
        root: 'query',
      });
    }
  }
  return found.filter((site) => site.field.args.length > 0);
}

function selectionFor(field: GraphQLField<unknown, unknown>): string {
  return isLeafType(getNamedType(field.type)) ? '' : ' { __typename }';
}

function operationFor(site: Site): string {
  const decls = site.field.args.map((a: GraphQLArgument) => `$${a.name}: ${String(a.type)}`).join(', ');
  const uses = site.field.args.map((a) => `${a.name}: $${a.name}`).join(', ');
  const inner = `${site.field.name}(${uses})${selectionFor(site.field)}`;
  return `${site.root} Fuzz(${decls}) { ${site.wrap(inner)} }`;
}

const variablesFor = (site: Site) =>
  fc.record(
    Object.fromEntries(site.field.args.map((a) => [a.name, valueFor(a.type, a.name, site.root)])),
    // Required arguments are left out now and then too.
    { requiredKeys: site.field.args.filter((a) => isNonNullType(a.type) && Math.random() < 0.9).map((a) => a.name) },
  );

async function send(query: string, variables: Record<string, unknown>) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': apiKey },
    body: JSON.stringify({ query, variables }),
  });
  return { status: res.status, text: await res.text() };
}

describe(`every argument of the schema, fuzzed (${RUNS} runs)`, () => {
  const all = sites();
  const tally = new Map<string, { ok: number; refused: number }>();

  it('reaches every field that takes arguments', () => {
    const labels = new Set(all.map((s) => s.label));
    for (const type of Object.values(schema.getTypeMap())) {
      if (type.name.startsWith('__') || !('getFields' in type) || isInputObjectType(type)) continue;
      if (type === schema.getSubscriptionType()) continue; // streams: tested in deliveries/subscription
      for (const field of Object.values((type as GraphQLObjectType).getFields())) {
        if (field.args.length > 0) expect(labels, `${type.name}.${field.name}`).toContain(`${type.name}.${field.name}`);
      }
    }
  });

  it('answers every case with a success or an error clients are told to expect', {
    timeout: 30_000 + RUNS * 40,
  }, async () => {
    // Cases carry the site's label, not the site: a counterexample then prints readably.
    const bySite = new Map(all.map((site) => [site.label, site]));
    const cases = fc
      .constantFrom(...all)
      .chain((site) => variablesFor(site).map((variables) => ({ label: site.label, variables })));
    await fc.assert(
      fc.asyncProperty(cases, async ({ label, variables }) => {
        const site = bySite.get(label) as Site;
        const answer = await send(operationFor(site), variables);
        const context = `${site.label} ${JSON.stringify(variables).slice(0, 300)} → ${answer.status} ${answer.text.slice(0, 300)}`;
        expect(answer.status, context).toBeLessThan(500);
        expect(answer.text, context).not.toMatch(/INTERNAL_SERVER_ERROR|Unexpected error|stack|postgres|whsec_/i);
        const body = JSON.parse(answer.text) as { errors?: { extensions?: { code?: string; issues?: unknown[] } }[] };
        const entry = tally.get(site.label) ?? { ok: 0, refused: 0 };
        tally.set(site.label, entry);
        if (!body.errors) {
          entry.ok++;
          return;
        }
        entry.refused++;
        for (const error of body.errors) {
          expect(EXPECTED_CODES, context).toContain(error.extensions?.code);
          if (error.extensions?.code === 'BAD_USER_INPUT')
            expect(error.extensions.issues?.length, context).toBeGreaterThan(0);
        }
      }),
      { numRuns: RUNS },
    );
    if (process.env.FUZZ_RUNS) {
      const lines = [...tally].map(([label, t]) => `  ${label}: ${t.ok} answered, ${t.refused} refused`);
      process.stdout.write(`fuzz: ${RUNS} cases over ${all.length} fields with arguments\n${lines.join('\n')}\n`);
    }
  });
});
