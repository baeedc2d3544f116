import { CombinedError } from '@urql/core';
import { beforeAll, describe, expect, it } from 'vitest';
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
import { createUrqlClient } from './snippets/urql.js';

let f: ClientFixture;
beforeAll(async () => {
  f = await startServer();
});

describe('urql 6 (the README snippet: fetchExchange + graphql-sse subscriptionExchange)', () => {
  it('registers, pages forwards and backwards, updates, deletes and publishes', async () => {
    const client = createUrqlClient(f.url, f.apiKey);
    const ids: string[] = [];
    for (const name of ['one', 'two', 'three']) {
      const { data, error } = await client.mutation(REGISTER, { input: webhookInput(f.receiverUrl, 'urql', name) });
      expect(error).toBeUndefined();
      ids.push(data.registerWebhook.id);
    }
    const seen: string[] = [];
    let after: string | null = null;
    do {
      const { data }: { data?: any } = await client.query(
        LIST,
        { agentId: 'urql', first: 2, after },
        { requestPolicy: 'network-only' },
      );
      seen.push(...data.webhooks.edges.map((e: any) => e.node.id));
      after = data.webhooks.pageInfo.hasNextPage ? data.webhooks.pageInfo.endCursor : null;
    } while (after);
    expect(seen).toEqual([...ids].reverse());
    const back = await pageBackwards(
      async (before) =>
        (await client.query(LIST, { agentId: 'urql', last: 2, before }, { requestPolicy: 'network-only' })).data,
    );
    expect(back).toEqual(seen);

    const updated = await client.mutation(UPDATE, { id: ids[0], input: { name: 'renamed' } });
    expect(updated.data.updateWebhook).toMatchObject({ id: ids[0], name: 'renamed' });
    expect((await client.mutation(DELETE, { id: ids[1] })).data.deleteWebhook).toBe(ids[1]);
    const published = await client.mutation(PUBLISH, {
      input: { agentId: 'urql', type: 'CONVERSATION_ENDED', data: { ok: true } },
    });
    expect(published.data.publishEvent).toMatchObject({ type: 'conversation_ended', agentId: 'urql' });
  });

  it('a subscription (over graphql-sse) sees a test delivery', async () => {
    const client = createUrqlClient(f.url, f.apiKey);
    const webhookId = (await client.mutation(REGISTER, { input: webhookInput(f.receiverUrl, 'urql-live') })).data
      .registerWebhook.id;
    const seen: any[] = [];
    const errors: unknown[] = [];
    const { unsubscribe } = client.subscription(FEED, { webhookId }).subscribe((result) => {
      if (result.data) seen.push(result.data.deliveryUpdates);
      if (result.error) errors.push(result.error);
    });
    try {
      const id = await untilDelivered(
        seen,
        async () => (await client.mutation(SEND_TEST, { webhookId })).data.sendTestEvent.id,
      );
      expect(seen.filter((d) => d.id === id).at(-1)).toMatchObject({
        status: 'SUCCEEDED',
        event: { type: 'webhook.test' },
      });
      expect(errors).toEqual([]);
    } finally {
      unsubscribe();
    }
  });

  it('an unknown key: CombinedError with the 401 response and UNAUTHENTICATED', async () => {
    const client = createUrqlClient(f.url, 'chk_not-a-key');
    const { data, error } = await client.query(LIST, {});
    expect(data).toBeUndefined();
    expect(error).toBeInstanceOf(CombinedError);
    expect((error?.response as Response | undefined)?.status).toBe(401);
    expect(error?.graphQLErrors[0]?.extensions.code).toBe('UNAUTHENTICATED');
  });

  it('bad input: CombinedError with BAD_USER_INPUT and the issues', async () => {
    const client = createUrqlClient(f.url, f.apiKey);
    const { error } = await client.mutation(REGISTER, { input: { ...webhookInput('ftp://nope', 'urql'), name: '' } });
    expect(error).toBeInstanceOf(CombinedError);
    expect(error?.graphQLErrors[0]?.extensions).toEqual({
      code: 'BAD_USER_INPUT',
      issues: [
        { path: ['input', 'name'], message: expect.any(String) },
        { path: ['input', 'url'], message: 'must start with http:// or https://' },
      ],
    });
  });
});
