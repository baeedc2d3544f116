import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createApp } from '../../src/app.js';
import { createApiKey } from '../../src/auth/api-keys.js';
import { loadConfig } from '../../src/config.js';
import { createPool } from '../../src/db/sql.js';
import { createLogger } from '../../src/lib/logger.js';
import { createWorkspace } from '../../src/workspaces/store.js';
import { cleanup } from '../support/cleanup.js';
import { createTestDatabase } from '../support/database.js';
import { REGISTER, validWebhook } from '../support/operations.js';
import { createTcpProxy } from '../support/tcp-proxy.js';

describe('when the database is unreachable', () => {
  it('answers 503 SERVICE_UNAVAILABLE without internals, and recovers by itself when it returns', async () => {
    const db = await createTestDatabase();
    const target = new URL(db.url);
    const proxy = await createTcpProxy({ host: target.hostname, port: Number(target.port) });
    await proxy.up();
    const viaProxy = new URL(db.url);
    viaProxy.port = String(proxy.port);
    const sql = createPool(viaProxy.toString(), { max: 4 });
    cleanup(async () => {
      await sql.end({ timeout: 1 });
      await proxy.down();
    });
    const secretKey = randomBytes(32);
    const config = loadConfig({ DATABASE_URL: viaProxy.toString(), SECRET_ENCRYPTION_KEY: secretKey.toString('hex') });
    const yoga = createApp({ sql, config, secretKey, log: createLogger('silent') });
    const workspace = await createWorkspace(db.sql, 'Outage');
    const { apiKey } = await createApiKey(db.sql, workspace.id);
    // Never used before the outage: its first lookup finds the database away.
    const unused = (await createApiKey(db.sql, workspace.id)).apiKey;

    const register = async () => {
      const response = await yoga.fetch('http://localhost/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': apiKey },
        body: JSON.stringify({ query: REGISTER, variables: { input: validWebhook() } }),
      });
      return { status: response.status, retryAfter: response.headers.get('retry-after'), body: await response.text() };
    };

    expect((await register()).status).toBe(200);

    await proxy.down();
    const during = await register();
    expect(during.status).toBe(503);
    expect(during.retryAfter).toBe('5');
    const body = JSON.parse(during.body);
    expect(body.errors[0].extensions.code).toBe('SERVICE_UNAVAILABLE');
    expect(during.body).not.toMatch(/ECONNREFUSED|127\.0\.0\.1|postgres|stack|select|insert/i);
    const ready = await yoga.fetch('http://localhost/ready');
    expect(ready.status).toBe(503);
    // The dashboard's sign-in and graphql-sse's reservation say the same: ours, and to retry.
    const signIn = await yoga.fetch('http://localhost/dashboard/session', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ apiKey }),
    });
    expect(signIn.status).toBe(503);
    expect(signIn.headers.get('retry-after')).toBe('5');
    const reserve = await yoga.fetch('http://localhost/graphql', { method: 'PUT', headers: { 'x-api-key': unused } });
    expect(reserve.status).toBe(503);
    expect((await reserve.json()).errors[0].extensions.code).toBe('SERVICE_UNAVAILABLE');

    await proxy.up();
    const after = await register();
    expect(after.status).toBe(200);
    expect(JSON.parse(after.body).data.registerWebhook.id).toMatch(/^wh_/);
    expect((await yoga.fetch('http://localhost/ready')).status).toBe(200);
  });

  it('answers 503 SERVICE_UNAVAILABLE while the database refuses new connections (too many for the role)', async () => {
    const db = await createTestDatabase();
    // A role allowed one connection, as an operator caps an application's share of the server.
    const role = `capped_${randomBytes(4).toString('hex')}`;
    await db.sql.unsafe(`create role ${role} login password 'capped' connection limit 1`);
    await db.sql.unsafe(`grant usage on schema public to ${role}; grant all on all tables in schema public to ${role}`);
    const asRole = new URL(db.url);
    asRole.username = role;
    asRole.password = 'capped';
    const holder = createPool(asRole.toString(), { max: 1 });
    const reserved = await holder.reserve();
    const sql = createPool(asRole.toString(), { max: 1 });
    cleanup(async () => {
      await sql.end({ timeout: 1 });
      await holder.end({ timeout: 1 });
      await db.sql.unsafe(`drop owned by ${role}; drop role ${role}`);
    });
    const secretKey = randomBytes(32);
    const config = loadConfig({ DATABASE_URL: asRole.toString(), SECRET_ENCRYPTION_KEY: secretKey.toString('hex') });
    const yoga = createApp({ sql, config, secretKey, log: createLogger('silent') });
    const workspace = await createWorkspace(db.sql, 'Crowded database');
    const { apiKey } = await createApiKey(db.sql, workspace.id);

    const response = await yoga.fetch('http://localhost/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': apiKey },
      body: JSON.stringify({ query: REGISTER, variables: { input: validWebhook() } }),
    });
    const text = await response.text();
    expect(response.status).toBe(503);
    expect(JSON.parse(text).errors[0].extensions.code).toBe('SERVICE_UNAVAILABLE');
    expect(text).not.toMatch(/too many|connection|role|capped/i);

    reserved.release();
    await holder.end({ timeout: 1 });
    const after = await yoga.fetch('http://localhost/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': apiKey },
      body: JSON.stringify({ query: REGISTER, variables: { input: validWebhook() } }),
    });
    expect(after.status).toBe(200);
  });
});
