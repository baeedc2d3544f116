import { NetworkError } from 'graphql-sse';
import { beforeAll, describe, expect, it } from 'vitest';
import { revokeApiKey } from '../../src/auth/api-keys.js';
import { createTestApp } from '../support/app.js';
import { eventually, sleep } from '../support/receiver.js';
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
import { createSSEClient } from './snippets/graphql-sse.js';

let f: ClientFixture;
beforeAll(async () => {
  f = await startServer();
});

/** One result of a query or mutation sent through graphql-sse. */
async function once(client: ReturnType<typeof createSSEClient>, query: string, variables: Record<string, unknown>) {
  for await (const result of client.iterate({ query, variables })) return result as { data?: any; errors?: any[] };
  throw new Error('no result');
}

describe.each([
  { mode: 'distinct connections (default)', singleConnection: false },
  { mode: 'single connection', singleConnection: true },
])('graphql-sse 2, $mode', ({ singleConnection }) => {
  it('registers, pages forwards and backwards, updates, deletes and publishes', async () => {
    const client = createSSEClient(f.url, f.apiKey, { singleConnection });
    const agentId = `sse-${singleConnection}`;
    try {
      const ids: string[] = [];
      for (const name of ['one', 'two', 'three']) {
        const { data } = await once(client, REGISTER, { input: webhookInput(f.receiverUrl, agentId, name) });
        ids.push(data.registerWebhook.id);
      }
      const seen: string[] = [];
      let after: string | null = null;
      do {
        const { data } = await once(client, LIST, { agentId, first: 2, after });
        seen.push(...data.webhooks.edges.map((e: any) => e.node.id));
        after = data.webhooks.pageInfo.hasNextPage ? data.webhooks.pageInfo.endCursor : null;
      } while (after);
      expect(seen).toEqual([...ids].reverse());
      const back = await pageBackwards(async (before) => (await once(client, LIST, { agentId, last: 2, before })).data);
      expect(back).toEqual(seen);
      const updated = await once(client, UPDATE, { id: ids[0], input: { name: 'renamed' } });
      expect(updated.data.updateWebhook).toMatchObject({ id: ids[0], name: 'renamed' });
      expect((await once(client, DELETE, { id: ids[1] })).data.deleteWebhook).toBe(ids[1]);
      const published = await once(client, PUBLISH, {
        input: { agentId, type: 'CONVERSATION_ENDED', data: { ok: true } },
      });
      expect(published.data.publishEvent).toMatchObject({ type: 'conversation_ended', agentId });
    } finally {
      client.dispose();
    }
  });

  it('reads event data as it was published, two events in one answer, escapes and all', async () => {
    const client = createSSEClient(f.url, f.apiKey, { singleConnection });
    try {
      // Strings that look like the stand-in a single-connection stream writes, and text to escape.
      const data = [
        { text: 'quote " backslash \\ nul \u0000 line\nbreak ☎ 😀', standIn: '\u0000not-a-nonce:0' },
        { nested: { list: [1, 2.5, null, true, 'é'] }, empty: {} },
      ];
      const ids: string[] = [];
      for (const one of data) {
        const res = await once(client, PUBLISH, {
          input: { agentId: 'sse-data', type: 'CONVERSATION_ENDED', data: one },
        });
        ids.push(res.data.publishEvent.id);
      }
      const read = await once(client, 'query($ids: [ID!]!) { nodes(ids: $ids) { ... on Event { data } } }', { ids });
      expect(read.errors).toBeUndefined();
      expect(read.data.nodes.map((node: { data: unknown }) => node.data)).toEqual(data);
    } finally {
      client.dispose();
    }
  });

  it('a subscription sees a test delivery', async () => {
    const client = createSSEClient(f.url, f.apiKey, { singleConnection });
    const seen: any[] = [];
    const errors: unknown[] = [];
    try {
      const webhookId = (await once(client, REGISTER, { input: webhookInput(f.receiverUrl, 'sse-live') })).data
        .registerWebhook.id;
      const stop = client.subscribe(
        { query: FEED, variables: { webhookId } },
        {
          next: (result: any) => (result.data ? seen.push(result.data.deliveryUpdates) : errors.push(result.errors)),
          error: (error) => errors.push(error),
          complete: () => {},
        },
      );
      try {
        const id = await untilDelivered(
          seen,
          async () => (await once(client, SEND_TEST, { webhookId })).data.sendTestEvent.id,
        );
        expect(seen.filter((d) => d.id === id).at(-1)).toMatchObject({
          status: 'SUCCEEDED',
          event: { type: 'webhook.test' },
        });
        expect(errors).toEqual([]);
      } finally {
        stop();
      }
    } finally {
      client.dispose();
    }
  });

  it('an unknown key: a NetworkError whose response is the 401', async () => {
    const client = createSSEClient(f.url, 'chk_not-a-key', { singleConnection, retryAttempts: 0 });
    try {
      const error = await once(client, LIST, {}).then(
        (r) => r,
        (e: unknown) => e,
      );
      // Distinct connections: the operation's own request answers 401; single connection:
      // the stream's reservation (PUT) does, before any operation is sent.
      expect(error).toBeInstanceOf(NetworkError);
      expect((error as NetworkError).response?.status).toBe(401);
    } finally {
      client.dispose();
    }
  });

  it('bad input: the result carries BAD_USER_INPUT and its issues', async () => {
    const client = createSSEClient(f.url, f.apiKey, { singleConnection });
    try {
      const result = await once(client, REGISTER, { input: { ...webhookInput('ftp://nope', 'sse'), name: '' } });
      expect(result.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT' });
      expect(result.errors?.[0]?.extensions.issues.map((i: any) => i.path)).toEqual([
        ['input', 'name'],
        ['input', 'url'],
      ]);
    } finally {
      client.dispose();
    }
  });
});

describe('graphql-sse single connection keeps the per-key subscription limit', () => {
  it('a second subscription is refused with TOO_MANY_SUBSCRIPTIONS; a stopped one makes room at once', async () => {
    // The connection itself is one of the key's streams, its subscription the other.
    const app = await createTestApp({ SUBSCRIPTIONS_PER_KEY: '2' });
    const url = await app.listen();
    const { apiKey } = await app.newWorkspace();
    const client = createSSEClient(url, apiKey, { singleConnection: true });
    const open = (results: any[]) =>
      client.subscribe(
        { query: FEED },
        { next: (r) => results.push(r), error: (e) => results.push({ transport: String(e) }), complete: () => {} },
      );
    try {
      const first: any[] = [];
      let stopFirst = open(first);
      // The first is live once a probe is refused. Operations of one connection may reach
      // the server in either order: a probe that won the slot is stopped, and a first that
      // was refused is opened again.
      await eventually(async () => {
        if (first.length > 0) {
          first.length = 0;
          stopFirst = open(first);
        }
        const probe: any[] = [];
        const stopProbe = open(probe);
        await sleep(300);
        if (probe[0]?.errors?.[0]?.extensions?.code === 'TOO_MANY_SUBSCRIPTIONS' && first.length === 0) return true;
        stopProbe();
        return false;
      });
      expect(first).toEqual([]);
      stopFirst();
      // Nothing happens to the workspace meanwhile: the slot must be freed by the stop itself.
      await eventually(async () => {
        const third: any[] = [];
        const stop = open(third);
        await sleep(300);
        if (third.length === 0) {
          stopFirst = stop;
          return true;
        }
        return false;
      });
      stopFirst();
    } finally {
      client.dispose();
    }
  });
});

describe('graphql-sse single connection and a revoked key', () => {
  it('a subscription ends with a last UNAUTHENTICATED result, not a broken connection', async () => {
    const app = await createTestApp();
    const url = await app.listen();
    const { apiKey, keyId } = await app.newWorkspace();
    const client = createSSEClient(url, apiKey, { singleConnection: true, retryAttempts: 0 });
    const results: any[] = [];
    let completed = false;
    try {
      client.subscribe(
        { query: FEED },
        {
          next: (r) => results.push(r),
          error: (e) => results.push({ transport: String(e) }),
          complete: () => {
            completed = true;
          },
        },
      );
      await sleep(500);
      await revokeApiKey(app.sql, keyId);
      await eventually(async () => completed);
      expect(results).toEqual([
        {
          data: null,
          errors: [
            expect.objectContaining({ message: 'The API key was revoked', extensions: { code: 'UNAUTHENTICATED' } }),
          ],
        },
      ]);
    } finally {
      client.dispose();
    }
  });
});
