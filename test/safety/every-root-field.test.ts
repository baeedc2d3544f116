import {
  type GraphQLArgument,
  type GraphQLField,
  type GraphQLInputType,
  getNamedType,
  isEnumType,
  isInputObjectType,
  isListType,
  isNonNullType,
  isScalarType,
} from 'graphql';
import { describe, expect, it } from 'vitest';
import { schema } from '../../src/schema.js';
import { createTestApp } from '../support/app.js';
import { conversationEnded, PUBLISH } from '../support/operations.js';
import { subscribe } from '../support/sse.js';

/**
 * Every root field, read from the schema: each must meet the budget that bounds it, so a
 * field added tomorrow cannot forget one. Queries meet the key's read rate; mutations the
 * mutation rate (publishing, the publish rate); subscriptions SUBSCRIPTIONS_PER_KEY. Each
 * is sent with arguments built from its types (valid in type; its resolver may still
 * refuse them, after the budget was charged), alone in its operation.
 */

/** A value of `type` that coerces: the smallest a client could send. */
function sampleValue(type: GraphQLInputType): unknown {
  if (isNonNullType(type)) return sampleValue(type.ofType);
  if (isListType(type)) return [sampleValue(type.ofType)];
  if (isEnumType(type)) return type.getValues()[0]?.name;
  if (isInputObjectType(type)) {
    const fields = Object.values(type.getFields()).filter((f) => isNonNullType(f.type));
    return Object.fromEntries(fields.map((f) => [f.name, sampleValue(f.type)]));
  }
  if (isScalarType(type)) {
    const scalars: Record<string, unknown> = {
      ID: 'wh_0000000000000000',
      String: 'agent',
      Int: 1,
      Float: 1,
      Boolean: true,
      DateTime: new Date().toISOString(),
      JSON: {},
    };
    return scalars[type.name] ?? 'x';
  }
  return null;
}

/** `field` alone in an operation of `kind`, with its required arguments as variables. */
function operationFor(kind: 'query' | 'mutation' | 'subscription', field: GraphQLField<unknown, unknown>) {
  const required = field.args.filter((a: GraphQLArgument) => isNonNullType(a.type));
  const declared = required.map((a) => `$${a.name}: ${a.type.toString()}`).join(', ');
  const passed = required.map((a) => `${a.name}: $${a.name}`).join(', ');
  const named = getNamedType(field.type);
  const selection = 'getFields' in named ? '{ __typename }' : '';
  return {
    query: `${kind}${declared ? `(${declared})` : ''} { ${field.name}${passed ? `(${passed})` : ''} ${selection} }`,
    variables: Object.fromEntries(required.map((a) => [a.name, sampleValue(a.type)])),
  };
}

const fields = (type: 'Query' | 'Mutation' | 'Subscription'): GraphQLField<unknown, unknown>[] => {
  const root = {
    Query: schema.getQueryType(),
    Mutation: schema.getMutationType(),
    Subscription: schema.getSubscriptionType(),
  }[type];
  return Object.values(root?.getFields() ?? {});
};

// Root fields whose budget is checked another way, and where.
const PUBLISHING = new Set(['publishEvent', 'publishEvents']);

describe('every root field meets its budget', () => {
  it('every query field is refused with RATE_LIMITED while its key owes its read rate', async () => {
    const app = await createTestApp({
      READ_RATE_LIMIT_BYTES_PER_SECOND: '1024',
      MAX_RESPONSE_BYTES: String(1024 * 1024),
    });
    const { apiKey } = await app.newWorkspace();
    for (let i = 0; i < 4; i++) {
      await app.graphql(PUBLISH, {
        apiKey,
        variables: { input: conversationEnded('debt', { b: 'd'.repeat(250 * 1024) }) },
      });
    }
    const spend = '{ events(agentId: "debt") { edges { node { data } } } }';
    expect((await app.graphql(spend, { apiKey })).status).toBe(200);
    expect((await app.graphql(spend, { apiKey })).status).toBe(200);
    const queries = fields('Query');
    expect(queries.length).toBeGreaterThan(10);
    for (const field of queries) {
      const { query, variables } = operationFor('query', field);
      const res = await app.graphql(query, { apiKey, variables });
      expect({ field: field.name, code: res.errors?.[0]?.extensions?.code }).toEqual({
        field: field.name,
        code: 'RATE_LIMITED',
      });
    }
  });

  it('every mutation is charged where it executes: past the burst, each is refused with RATE_LIMITED', async () => {
    const app = await createTestApp({
      RATE_LIMIT_PER_SECOND: '0.001',
      RATE_LIMIT_BURST: '1',
      PUBLISH_RATE_LIMIT_PER_SECOND: '0.001',
      PUBLISH_RATE_LIMIT_BURST: '100',
    });
    const { apiKey } = await app.newWorkspace();
    // Spend both buckets: one mutation, and a burst of events.
    await app.graphql('mutation { deleteWebhook(id: "wh_0000000000000000") }', { apiKey });
    const inputs = Array.from({ length: 100 }, () => conversationEnded('spent'));
    const spent = await app.graphql(
      'mutation($inputs: [PublishEventInput!]!) { publishEvents(inputs: $inputs) { id } }',
      {
        apiKey,
        variables: { inputs },
      },
    );
    expect(spent.errors).toBeUndefined();
    const mutations = fields('Mutation');
    expect(mutations.length).toBeGreaterThan(10);
    for (const field of mutations) {
      const { query, variables } = operationFor('mutation', field);
      const res = await app.graphql(query, { apiKey, variables });
      expect({ field: field.name, code: res.errors?.[0]?.extensions?.code }).toEqual({
        field: field.name,
        code: 'RATE_LIMITED',
      });
      const message = res.errors?.[0]?.message ?? '';
      expect(message).toContain(PUBLISHING.has(field.name) ? 'events published' : 'mutations per second');
    }
  });

  it('every subscription counts toward SUBSCRIPTIONS_PER_KEY', async () => {
    const app = await createTestApp({ SUBSCRIPTIONS_PER_KEY: '1' });
    const url = await app.listen();
    const { apiKey } = await app.newWorkspace();
    for (const field of fields('Subscription')) {
      const { query, variables } = operationFor('subscription', field);
      const first = await subscribe(url, query, { apiKey, variables });
      try {
        expect(first.status).toBe(200);
        const second = await subscribe(url, query, { apiKey, variables });
        await second.ended;
        const refused =
          second.events[0] ??
          (await second.response
            .clone()
            .json()
            .catch(() => null));
        expect({ field: field.name, code: refused?.errors?.[0]?.extensions?.code }).toEqual({
          field: field.name,
          code: 'TOO_MANY_SUBSCRIPTIONS',
        });
      } finally {
        await first.close();
      }
    }
  });
});
