import { describe, expect, it } from 'vitest';
import { createApiKey } from '../../src/auth/api-keys.js';
import { createPool } from '../../src/db/sql.js';
import { publishEvent } from '../../src/events/publish.js';
import { createTestApp } from '../support/app.js';
import { cleanup } from '../support/cleanup.js';
import { REGISTER, validWebhook } from '../support/operations.js';
import { createReceiver } from '../support/receiver.js';

describe('ROLE=all: delivery has connections of its own', () => {
  it("a server whose every API connection is stuck still delivers: the worker's pool is not the API's", async () => {
    const app = await createTestApp();
    const receiver = await createReceiver();
    const server = app.spawnServer({ ROLE: 'all', DATABASE_POOL_SIZE: '2' }, /GraphiQL at http:\/\/localhost:(\d+)\//);
    const [, port] = await server.started;
    const url = `http://127.0.0.1:${port}/graphql`;
    const { apiKey, workspaceId } = await app.newWorkspace();
    const registered = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': apiKey },
      body: JSON.stringify({
        query: REGISTER,
        variables: { input: validWebhook({ agentId: 'own', url: receiver.url }) },
      }),
    }).then((r) => r.json());
    expect(registered.errors).toBeUndefined();
    const fresh = await Promise.all(Array.from({ length: 4 }, () => createApiKey(app.sql, workspaceId)));

    // Every lookup of a key the server has not seen waits on this lock, holding an API connection.
    const locker = createPool(app.db.url, { max: 1 });
    cleanup(() => locker.end({ timeout: 1 }));
    let release: () => void = () => {};
    const held = locker.begin(async (tx) => {
      await tx`lock table api_keys in access exclusive mode`;
      await new Promise<void>((resolve) => {
        release = resolve;
      });
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    const stuck = fresh.map(({ apiKey: key }) =>
      fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': key },
        body: JSON.stringify({ query: '{ workspace { id } }' }),
      }).then((r) => r.status),
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    try {
      // Published beside the server (its API is stuck): the worker hears of it and delivers.
      await publishEvent(app.sql, { workspaceId, agentId: 'own', type: 'conversation_ended', data: { ok: true } });
      await receiver.waitFor(1, 5_000);
    } finally {
      release();
      await held;
    }
    // Once the lock goes, the stuck requests are answered.
    expect(await Promise.all(stuck)).toEqual([200, 200, 200, 200]);
  });
});
