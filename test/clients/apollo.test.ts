import { CombinedGraphQLErrors, gql } from '@apollo/client';
import { beforeAll, describe, expect, it } from 'vitest';
import { revokeApiKey } from '../../src/auth/api-keys.js';
import { sleep } from '../support/receiver.js';
import {
  type ClientFixture,
  DELETE,
  FEED,
  LIST,
  PUBLISH,
  pageBackwards,
  REGISTER,
  SEND_TEST,
  startServer,
  UPDATE,
  untilDelivered,
  webhookInput,
} from './fixture.js';
import { createApolloClient } from './snippets/apollo.js';

let f: ClientFixture;
beforeAll(async () => {
  f = await startServer();
});

describe('Apollo Client 4 (the README snippet: PersistedQueryLink + HttpLink)', () => {
  it('registers, pages forwards and backwards, updates, deletes and publishes', async () => {
    const client = createApolloClient(f.url, f.apiKey);
    const ids: string[] = [];
    for (const name of ['one', 'two', 'three']) {
      const { data } = await client.mutate<any>({
        mutation: gql(REGISTER),
        variables: { input: webhookInput(f.receiverUrl, 'apollo', name) },
      });
      expect(data.registerWebhook.secret).toMatch(/^whsec_/);
      ids.push(data.registerWebhook.id);
    }
    const seen: string[] = [];
    let after: string | null = null;
    do {
      const { data }: { data: any } = await client.query({
        query: gql(LIST),
        variables: { agentId: 'apollo', first: 2, after },
        fetchPolicy: 'network-only',
      });
      seen.push(...data.webhooks.edges.map((e: any) => e.node.id));
      after = data.webhooks.pageInfo.hasNextPage ? data.webhooks.pageInfo.endCursor : null;
    } while (after);
    expect(seen).toEqual([...ids].reverse());
    const back = await pageBackwards(
      async (before) =>
        (
          await client.query<any>({
            query: gql(LIST),
            variables: { agentId: 'apollo', last: 2, before },
            fetchPolicy: 'network-only',
          })
        ).data,
    );
    expect(back).toEqual(seen);

    const updated = await client.mutate<any>({
      mutation: gql(UPDATE),
      variables: { id: ids[0], input: { name: 'renamed', active: false } },
    });
    expect(updated.data.updateWebhook).toMatchObject({ id: ids[0], name: 'renamed', active: false });
    const deleted = await client.mutate<any>({ mutation: gql(DELETE), variables: { id: ids[1] } });
    expect(deleted.data.deleteWebhook).toBe(ids[1]);
    const published = await client.mutate<any>({
      mutation: gql(PUBLISH),
      variables: { input: { agentId: 'apollo', type: 'CONVERSATION_ENDED', data: { ok: true } } },
    });
    expect(published.data.publishEvent).toMatchObject({ type: 'conversation_ended', agentId: 'apollo' });
  });

  it('persisted queries: the hash alone, PersistedQueryNotFound, then hash and query, then the hash alone again', async () => {
    const bodies: Record<string, any>[] = [];
    const answers: number[] = [];
    // What goes over the wire: Apollo's HttpLink calls the global fetch.
    const original = globalThis.fetch;
    globalThis.fetch = async (input, init) => {
      bodies.push(JSON.parse(String(init?.body)));
      const response = await original(input, init);
      answers.push(response.status);
      return response;
    };
    try {
      const query = `query Count { webhooks(first: 1) { edges { node { id } } } }`;
      for (const client of [createApolloClient(f.url, f.apiKey), createApolloClient(f.url, f.apiKey)]) {
        const { data }: { data: any } = await client.query({ query: gql(query) });
        expect(data.webhooks.edges).toBeInstanceOf(Array);
      }
    } finally {
      globalThis.fetch = original;
    }
    // First client: unknown hash (404 PersistedQueryNotFound), then the full query.
    // Second client: the server knows the hash now.
    expect(bodies.map((b) => [typeof b.query, typeof b.extensions?.persistedQuery?.sha256Hash])).toEqual([
      ['undefined', 'string'],
      ['string', 'string'],
      ['undefined', 'string'],
    ]);
    expect(answers).toEqual([404, 200, 200]);
  });

  it('client.subscribe over HttpLink (multipart/mixed) sees a test delivery', async () => {
    const client = createApolloClient(f.url, f.apiKey);
    const webhookId = (
      await client.mutate<any>({
        mutation: gql(REGISTER),
        variables: { input: webhookInput(f.receiverUrl, 'apollo-live') },
      })
    ).data.registerWebhook.id;
    const seen: any[] = [];
    const errors: unknown[] = [];
    const subscription = client.subscribe({ query: gql(FEED), variables: { webhookId } }).subscribe({
      next: (result: any) => {
        if (result.data) seen.push(result.data.deliveryUpdates);
        if (result.error) errors.push(result.error);
      },
      error: (error) => errors.push(error),
    });
    try {
      const id = await untilDelivered(seen, async () => {
        const { data } = await client.mutate<any>({ mutation: gql(SEND_TEST), variables: { webhookId } });
        return data.sendTestEvent.id;
      });
      expect(seen.filter((d) => d.id === id).at(-1)).toMatchObject({
        status: 'SUCCEEDED',
        event: { type: 'webhook.test' },
      });
      expect(errors).toEqual([]);
    } finally {
      subscription.unsubscribe();
    }
  });

  it('a subscription with an unknown key ends in CombinedGraphQLErrors with UNAUTHENTICATED', async () => {
    const client = createApolloClient(f.url, 'chk_not-a-key');
    const error = await new Promise((resolve) => {
      client.subscribe({ query: gql(FEED) }).subscribe({
        next: (result) => result.error && resolve(result.error),
        error: resolve,
      });
    });
    expect(CombinedGraphQLErrors.is(error)).toBe(true);
    expect((error as CombinedGraphQLErrors).errors[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  it('a subscription whose key is revoked ends with UNAUTHENTICATED', async () => {
    const { apiKey, keyId } = await f.app.newWorkspace();
    const client = createApolloClient(f.url, apiKey);
    const seen: unknown[] = [];
    const ended = new Promise<void>((resolve) => {
      client.subscribe({ query: gql(FEED) }).subscribe({
        next: (result) => seen.push(result.error ?? result.data),
        error: (error) => {
          seen.push(error);
          resolve();
        },
        complete: resolve,
      });
    });
    await sleep(500);
    await revokeApiKey(f.app.sql, keyId);
    await ended;
    expect(seen).toHaveLength(1);
    expect(CombinedGraphQLErrors.is(seen[0])).toBe(true);
    expect((seen[0] as CombinedGraphQLErrors).errors[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  it('an unknown key is CombinedGraphQLErrors with UNAUTHENTICATED (HTTP 401, graphql-response+json)', async () => {
    const client = createApolloClient(f.url, 'chk_not-a-key');
    const error = await client.query({ query: gql(LIST) }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(CombinedGraphQLErrors.is(error)).toBe(true);
    expect((error as CombinedGraphQLErrors).errors[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  it('bad input is CombinedGraphQLErrors with BAD_USER_INPUT and the issues', async () => {
    const client = createApolloClient(f.url, f.apiKey);
    const error = await client
      .mutate({ mutation: gql(REGISTER), variables: { input: { ...webhookInput('ftp://nope', 'apollo'), name: '' } } })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(CombinedGraphQLErrors.is(error)).toBe(true);
    const [first] = (error as CombinedGraphQLErrors).errors;
    expect(first?.extensions).toEqual({
      code: 'BAD_USER_INPUT',
      issues: [
        { path: ['input', 'name'], message: expect.any(String) },
        { path: ['input', 'url'], message: 'must start with http:// or https://' },
      ],
    });
  });
});
