import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app.js';
import { createApiKey, revokeApiKey } from '../../src/auth/api-keys.js';
import { createListener, type Listener, registerListenerMetrics } from '../../src/db/listener.js';
import { createTestApp, type TestApp } from '../support/app.js';
import { cleanup } from '../support/cleanup.js';
import { conversationEnded, PUBLISH, REGISTER, validWebhook } from '../support/operations.js';
import { createReceiver, eventually, sleep } from '../support/receiver.js';
import { subscribe } from '../support/sse.js';

const FEED = 'subscription { deliveryUpdates { id status } }';
const WHO = '{ webhooks { totalCount } }';

let app: TestApp;
let listener: Listener;
let url: string;

beforeAll(async () => {
  app = await createTestApp();
  // One listening session for the app and the worker, as main.ts gives them.
  listener = createListener(app.db.url);
  cleanup(() => listener.close());
  const yoga = createApp({ sql: app.sql, config: app.config, secretKey: app.secretKey, log: app.log, listener });
  const server = createServer(yoga);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanup(() => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
  // Polling far out of the picture: only NOTIFY (and the resync after a reconnect) wakes it.
  app.startWorker({ listener, pollMs: 60_000 });
});

async function status(apiKey: string) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': apiKey },
    body: JSON.stringify({ query: WHO }),
  });
  await response.body?.cancel();
  return response.status;
}

async function graphql(query: string, apiKey: string, variables: Record<string, unknown>) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': apiKey },
    body: JSON.stringify({ query, variables }),
  });
  return (await response.json()) as { data?: any; errors?: unknown[] };
}

/** Ends this process's listening session from the server side, as a failover or an idle-session killer would. */
async function terminateListener(): Promise<number> {
  const [row] = await app.sql`select count(pg_terminate_backend(pid))::int as n from pg_stat_activity
    where datname = current_database() and application_name = 'convo-hooks listener'`;
  return row?.n as number;
}

describe('the listening session (db/listener.ts), terminated under open subscriptions', () => {
  it('listens again and catches up on what it missed: the revoked key stops working and its stream ends, the feed shows what changed meanwhile; then it goes on as before', async () => {
    const { apiKey: revokedKey, keyId: revokedKeyId, workspaceId } = await app.newWorkspace();
    const { apiKey, id: keyId } = await createApiKey(app.sql, workspaceId);
    const receiver = await createReceiver();
    await graphql(REGISTER, apiKey, { input: validWebhook({ url: receiver.url, agentId: 'drill' }) });
    await graphql(PUBLISH, apiKey, { input: conversationEnded('drill') });
    await receiver.waitFor(1);
    // Recorded, so that no notice of it is still on its way.
    await eventually(
      async () =>
        (await app.sql`select 1 from deliveries where workspace_id = ${workspaceId} and status = 'succeeded'`).length >
        0,
    );
    const [delivery] = await app.sql<{ id: string }[]>`select id from deliveries where workspace_id = ${workspaceId}`;

    const doomed = await subscribe(url, FEED, { apiKey: revokedKey });
    const feed = await subscribe(url, FEED, { apiKey });
    expect([doomed.status, feed.status]).toEqual([200, 200]);
    await eventually(async () => (await status(revokedKey)) === 200 && listener.health().connected);
    await sleep(100);
    expect(feed.events).toHaveLength(0);

    // Changes whose notices are lost (as they are while the session is away): nothing tells this process.
    await app.sql`update api_keys set revoked_at = now() where id = ${revokedKeyId}`;
    await app.sql`update deliveries set updated_at = now() where id = ${delivery?.id as string}`;
    await sleep(200);
    expect(await status(revokedKey)).toBe(200);
    expect(feed.events).toHaveLength(0);

    expect(await terminateListener()).toBe(1);
    const terminatedAt = performance.now();
    await eventually(async () => (await status(revokedKey)) === 401, 5_000, 20);
    const refusedAfter = performance.now() - terminatedAt;
    await Promise.race([doomed.ended, sleep(5_000)]);
    const endedAfter = performance.now() - terminatedAt;
    await feed.until((events) => events.some((e) => e.data?.deliveryUpdates.id === delivery?.id), 5_000);
    const caughtUpAfter = performance.now() - terminatedAt;
    process.stdout.write(
      `[listener] after pg_terminate_backend: key refused ${Math.round(refusedAfter)} ms, stream ended ${Math.round(endedAfter)} ms, feed caught up ${Math.round(caughtUpAfter)} ms\n`,
    );
    expect(refusedAfter).toBeLessThan(1_500);
    expect(endedAfter).toBeLessThan(1_500);
    expect(caughtUpAfter).toBeLessThan(1_500);
    expect(doomed.events.at(-1)?.errors?.[0]).toMatchObject({ extensions: { code: 'UNAUTHENTICATED' } });
    expect(listener.health()).toEqual({ connected: true, reconnects: 1 });
    const registry = new Registry();
    registerListenerMetrics(registry, listener);
    const metrics = await registry.metrics();
    expect(metrics).toMatch(/^database_listener_connected 1$/m);
    expect(metrics).toMatch(/^database_listener_reconnects_total 1$/m);

    // And it hears again: a publish wakes the worker (whose poll is a minute away) and reaches the feed...
    const publishedAt = Date.now();
    await graphql(PUBLISH, apiKey, { input: conversationEnded('drill') });
    await receiver.waitFor(2, 5_000);
    expect((receiver.received[1]?.at ?? Number.POSITIVE_INFINITY) - publishedAt).toBeLessThan(1_000);
    await feed.until((events) => events.some((e) => e.data?.deliveryUpdates.id !== delivery?.id), 5_000);
    // ...and a revocation ends the other key's stream.
    await revokeApiKey(app.sql, keyId);
    await Promise.race([feed.ended, sleep(5_000)]);
    expect(feed.events.at(-1)?.errors?.[0]).toMatchObject({ extensions: { code: 'UNAUTHENTICATED' } });
  });
});
