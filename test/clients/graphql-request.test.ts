import { ClientError } from 'graphql-request';
import { beforeAll, describe, expect, it } from 'vitest';
import { sleep } from '../support/receiver.js';
import {
  type ClientFixture,
  DELETE,
  LIST,
  PUBLISH,
  pageBackwards,
  REGISTER,
  SEND_TEST,
  startServer,
  UPDATE,
  webhookInput,
} from './fixture.js';
import { createRequestClient } from './snippets/graphql-request.js';

let f: ClientFixture;
beforeAll(async () => {
  f = await startServer();
});

describe('graphql-request 7 (the README snippet)', () => {
  it('registers, pages forwards and backwards, updates, deletes and publishes', async () => {
    const client = createRequestClient(f.url, f.apiKey);
    const ids: string[] = [];
    for (const name of ['one', 'two', 'three']) {
      const data = await client.request<any>(REGISTER, { input: webhookInput(f.receiverUrl, 'request', name) });
      ids.push(data.registerWebhook.id);
    }
    const seen: string[] = [];
    let after: string | null = null;
    do {
      const data: any = await client.request(LIST, { agentId: 'request', first: 2, after });
      seen.push(...data.webhooks.edges.map((e: any) => e.node.id));
      after = data.webhooks.pageInfo.hasNextPage ? data.webhooks.pageInfo.endCursor : null;
    } while (after);
    expect(seen).toEqual([...ids].reverse());
    const back = await pageBackwards((before) => client.request<any>(LIST, { agentId: 'request', last: 2, before }));
    expect(back).toEqual(seen);

    const updated = await client.request<any>(UPDATE, { id: ids[0], input: { name: 'renamed' } });
    expect(updated.updateWebhook).toMatchObject({ id: ids[0], name: 'renamed' });
    expect((await client.request<any>(DELETE, { id: ids[1] })).deleteWebhook).toBe(ids[1]);
    const published = await client.request<any>(PUBLISH, {
      input: { agentId: 'request', type: 'CONVERSATION_ENDED', data: { ok: true } },
    });
    expect(published.publishEvent).toMatchObject({ type: 'conversation_ended', agentId: 'request' });
  });

  it('a test delivery, read back by polling (graphql-request has no subscriptions)', async () => {
    const client = createRequestClient(f.url, f.apiKey);
    const webhookId = (await client.request<any>(REGISTER, { input: webhookInput(f.receiverUrl, 'request-test') }))
      .registerWebhook.id;
    const { sendTestEvent } = await client.request<any>(SEND_TEST, { webhookId });
    const query = `query Delivery($id: ID!) { delivery(id: $id) { id status event { type } } }`;
    let delivery: any;
    for (let i = 0; i < 100 && delivery?.status !== 'SUCCEEDED'; i++) {
      delivery = (await client.request<any>(query, { id: sendTestEvent.id })).delivery;
      await sleep(100);
    }
    expect(delivery).toMatchObject({ id: sendTestEvent.id, status: 'SUCCEEDED', event: { type: 'webhook.test' } });
  });

  it('an unknown key: ClientError with status 401 and UNAUTHENTICATED', async () => {
    const client = createRequestClient(f.url, 'chk_not-a-key');
    const error = await client.request(LIST).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ClientError);
    expect((error as ClientError).response.status).toBe(401);
    expect((error as ClientError).response.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  it('bad input: ClientError with BAD_USER_INPUT and the issues', async () => {
    const client = createRequestClient(f.url, f.apiKey);
    const error = await client
      .request(REGISTER, { input: { ...webhookInput('ftp://nope', 'request'), name: '' } })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ClientError);
    expect((error as ClientError).response.errors?.[0]?.extensions).toEqual({
      code: 'BAD_USER_INPUT',
      issues: [
        { path: ['input', 'name'], message: expect.any(String) },
        { path: ['input', 'url'], message: 'must start with http:// or https://' },
      ],
    });
  });
});
