import { beforeAll, describe, expect, it } from 'vitest';
import { revokeApiKey } from '../../src/auth/api-keys.js';
import { createTestApp, type TestApp } from '../support/app.js';
import { conversationEnded, PUBLISH, REGISTER, validWebhook } from '../support/operations.js';
import { whenReady } from '../support/processes.js';
import { sleep } from '../support/receiver.js';
import { subscribe } from '../support/sse.js';

const FEED = 'subscription { deliveryUpdates { id status } }';

let app: TestApp;
let url: string;
beforeAll(async () => {
  app = await createTestApp({ SUBSCRIPTIONS_PER_KEY: '3' });
  url = await app.listen();
});

describe('open subscriptions of an API key', () => {
  it(`are capped per key (SUBSCRIPTIONS_PER_KEY); a closed one makes room`, async () => {
    const { apiKey } = await app.newWorkspace();
    const other = await app.newWorkspace();
    const open = await Promise.all([1, 2, 3].map(() => subscribe(url, FEED, { apiKey })));
    try {
      await sleep(100);
      const refused = await subscribe(url, FEED, { apiKey });
      await refused.ended;
      expect(refused.events).toHaveLength(1);
      expect(refused.events[0].errors[0]).toMatchObject({
        message: expect.stringMatching(/At most 3 subscriptions/),
        extensions: { code: 'TOO_MANY_SUBSCRIPTIONS' },
      });
      // Another key is not affected.
      const others = await subscribe(url, FEED, { apiKey: other.apiKey });
      await sleep(100);
      expect(others.events).toHaveLength(0);
      await others.close();

      await open.pop()?.close();
      await sleep(100);
      const again = await subscribe(url, FEED, { apiKey });
      await sleep(100);
      expect(again.events).toHaveLength(0);
      open.push(again);
    } finally {
      await Promise.all(open.map((feed) => feed.close()));
    }
  });

  it('arriving together, they still get only SUBSCRIPTIONS_PER_KEY slots (each takes its slot as it is accepted, not when first read)', async () => {
    const { apiKey } = await app.newWorkspace();
    // In process: all ten are accepted within the same few turns of the event loop, before any stream is read.
    const clients = Array.from({ length: 10 }, () => new AbortController());
    const responses = await Promise.all(
      clients.map((client) =>
        app.yoga.fetch('http://localhost/graphql', {
          method: 'POST',
          headers: { 'content-type': 'application/json', accept: 'text/event-stream', 'x-api-key': apiKey },
          body: JSON.stringify({ query: FEED }),
          signal: client.signal,
        }),
      ),
    );
    expect(responses.map((r) => r.status).sort()).toEqual([200, 200, 200, 429, 429, 429, 429, 429, 429, 429]);
    for (const client of clients) client.abort();
    // Their clients gone, each gives its slot back, though none was ever read.
    await sleep(200);
    const again = await subscribe(url, FEED, { apiKey });
    await sleep(100);
    expect(again.events).toHaveLength(0);
    await again.close();
  });

  it('end on every instance within 2 s of the key being revoked, and nothing more is streamed', async () => {
    const { apiKey, keyId, workspaceId } = await app.newWorkspace();
    const api = app.spawnServer({ ROLE: 'api', PORT: '0' }, /GraphQL API and GraphiQL at http:\/\/localhost:(\d+)\//);
    try {
      const [, port] = await api.started;
      const otherUrl = await whenReady(api, `http://127.0.0.1:${port}`);
      await app.graphql(REGISTER, { apiKey, variables: { input: validWebhook({ agentId: 'r' }) } });
      const here = await subscribe(url, FEED, { apiKey });
      const there = await subscribe(`${otherUrl}/graphql`, FEED, { apiKey });
      await sleep(300);
      await app.graphql(PUBLISH, { apiKey, variables: { input: conversationEnded('r') } });
      await here.until((events) => events.length === 1);
      await there.until((events) => events.length === 1);

      const revokedAt = performance.now();
      expect(await revokeApiKey(app.sql, keyId)).toBe(true);
      await Promise.all([here.ended, there.ended]);
      const ms = performance.now() - revokedAt;
      expect(ms).toBeLessThan(2_000);
      for (const feed of [here, there]) {
        expect(feed.events.at(-1).errors[0]).toMatchObject({
          message: 'The API key was revoked',
          extensions: { code: 'UNAUTHENTICATED' },
        });
      }
      // Changes after the revocation reach nobody: the streams are closed, and new requests are refused.
      const counts = [here.events.length, there.events.length];
      await app.sql`update deliveries set updated_at = now() where workspace_id = ${workspaceId}`;
      await sleep(200);
      expect([here.events.length, there.events.length]).toEqual(counts);
      expect((await subscribe(url, FEED, { apiKey })).status).toBe(401);
      process.stdout.write(`[revocation] both streams ended ${Math.round(ms)} ms after the revoke\n`);
    } finally {
      api.signal('SIGTERM');
      await api.exited;
    }
  }, 60_000);
});
