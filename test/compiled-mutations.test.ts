import { GraphQLError } from 'graphql';
import { createSchema, createYoga, type Plugin } from 'graphql-yoga';
import { describe, expect, it } from 'vitest';
import { useCompiledMutations } from '../src/graphql/use-compiled-mutations.js';
import { useInputErrors } from '../src/graphql/use-input-errors.js';

/** A Yoga with graphql-jit for mutations, and a count of what reached Yoga's own executor. */
function server(compiled = true) {
  let interpreted = 0;
  const countInterpreted: Plugin = {
    onExecute({ executeFn, setExecuteFn }) {
      setExecuteFn((args) => {
        interpreted++;
        return executeFn(args);
      });
    },
  };
  const yoga = createYoga({
    schema: createSchema({
      typeDefs: /* GraphQL */ `
        type Query { hello: String! }
        input SumInput { numbers: [Int!]! }
        type Mutation { sum(input: SumInput!): Int!, refuse: Int!, fail: Int! }
      `,
      resolvers: {
        Query: { hello: () => 'hi' },
        Mutation: {
          sum: (_: unknown, { input }: { input: { numbers: number[] } }) => input.numbers.reduce((a, b) => a + b, 0),
          refuse: () => {
            throw new GraphQLError('no', { extensions: { code: 'BAD_USER_INPUT', issues: [{ path: ['x'] }] } });
          },
          fail: () => {
            throw new Error('select secret from somewhere');
          },
        },
      },
    }),
    plugins: [countInterpreted, useInputErrors(), ...(compiled ? [useCompiledMutations()] : [])],
  });
  const ask = async (query: string, variables?: Record<string, unknown>) => {
    const response = await yoga.fetch('http://localhost/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query, variables }),
    });
    return { status: response.status, ...((await response.json()) as { data?: any; errors?: any[] }) };
  };
  return { ask, interpreted: () => interpreted };
}

const SUM = 'mutation Sum($input: SumInput!) { sum(input: $input) }';

describe('mutations compiled by graphql-jit', () => {
  it('answer from the compiled function, without Yoga’s executor', async () => {
    const { ask, interpreted } = server();
    expect(await ask(SUM, { input: { numbers: [1, 2, 3] } })).toEqual({ status: 200, data: { sum: 6 } });
    expect(await ask(SUM, { input: { numbers: [4] } })).toEqual({ status: 200, data: { sum: 4 } });
    expect(interpreted()).toBe(0);
  });

  it('leave refused variables to Yoga’s executor, whose errors name the field path', async () => {
    const { ask, interpreted } = server();
    const res = await ask(SUM, { input: { numbers: [1, 'two'] } });
    expect(interpreted()).toBe(1);
    expect(res.status).toBe(400);
    expect(res.errors?.[0].extensions).toEqual({
      code: 'BAD_USER_INPUT',
      issues: [{ path: ['input', 'numbers', 1], message: expect.stringMatching(/^Int cannot represent/) }],
    });
  });

  it('answer errors as Yoga’s executor does: a GraphQLError as thrown, with its place; any other masked', async () => {
    const { ask, interpreted } = server();
    const reference = server(false);
    const refuse = 'mutation Both {\n  first: sum(input: { numbers: [1] })\n  refuse\n}';
    const refused = await ask(refuse);
    expect(refused).toEqual(await reference.ask(refuse));
    expect(refused.errors).toEqual([
      {
        message: 'no',
        path: ['refuse'],
        locations: [{ line: 3, column: 3 }],
        extensions: { code: 'BAD_USER_INPUT', issues: [{ path: ['x'] }] },
      },
    ]);
    const failed = await ask('mutation { fail }');
    expect(failed).toEqual(await reference.ask('mutation { fail }'));
    expect(failed.errors?.[0].message).toBe('Unexpected error.');
    expect(JSON.stringify(failed)).not.toContain('secret');
    expect(interpreted()).toBe(0);
  });

  it('leave queries to Yoga’s executor (it stops at the query deadline)', async () => {
    const { ask, interpreted } = server();
    expect(await ask('{ hello }')).toEqual({ status: 200, data: { hello: 'hi' } });
    expect(interpreted()).toBe(1);
  });
});
