import { randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app.js';
import {
  API_KEY_PREFIX,
  createApiKey,
  hasValidChecksum,
  MAX_ACTIVE_API_KEYS,
  revokeApiKey,
} from '../../src/auth/api-keys.js';
import { createApiKeyCache } from '../../src/auth/key-cache.js';
import { createPool } from '../../src/db/sql.js';
import { randomBase62 } from '../../src/lib/ids.js';
import { LookupsBusy } from '../../src/lib/lookup-lane.js';
import { createTestApp, type TestApp } from '../support/app.js';
import { cleanup } from '../support/cleanup.js';
import { eventually, sleep } from '../support/receiver.js';
import { createTcpProxy } from '../support/tcp-proxy.js';

let app: TestApp;
beforeAll(async () => {
  app = await createTestApp();
});

const WHO = `query { workspace { id name createdAt } }`;
const KEYS = `query { apiKeys { id prefix createdAt revokedAt lastUsedAt } }`;
const CREATE = `mutation { createApiKey { apiKey key { id prefix createdAt revokedAt lastUsedAt } } }`;
const REVOKE = `mutation($id: ID!) { revokeApiKey(id: $id) { id revokedAt } }`;

const randomKey = () => API_KEY_PREFIX + randomBase62(40);

describe('who am I', () => {
  it("workspace answers the key's own workspace", async () => {
    const { apiKey, workspaceId } = await app.newWorkspace('Acme Voice');
    const res = await app.graphql(WHO, { apiKey });
    expect(res.errors).toBeUndefined();
    expect(res.data?.workspace).toMatchObject({ id: workspaceId, name: 'Acme Voice' });
    expect(Date.parse(res.data?.workspace.createdAt)).not.toBeNaN();
  });
});

describe('API keys through the API', () => {
  it('createApiKey shows a working key once; apiKeys lists records, never the keys', async () => {
    const { apiKey, keyId, workspaceId } = await app.newWorkspace();
    const created = await app.graphql(CREATE, { apiKey });
    expect(created.errors).toBeUndefined();
    const { apiKey: second, key } = (created.data as { createApiKey: { apiKey: string; key: Record<string, unknown> } })
      .createApiKey;
    expect(second).toMatch(/^chk_[0-9A-Za-z]{40}$/);
    expect(key).toMatchObject({ prefix: second.slice(0, 10), revokedAt: null, lastUsedAt: null });
    expect((await app.graphql(WHO, { apiKey: second })).data?.workspace.id).toBe(workspaceId);

    const listed = await app.graphql(KEYS, { apiKey: second });
    expect(listed.data?.apiKeys.map((k: { id: string }) => k.id)).toEqual([key.id, keyId]);
    expect(JSON.stringify(listed.data)).not.toContain(second);
    expect(JSON.stringify(listed.data)).not.toContain(apiKey);
    // Both keys have been used by now (lastUsedAt from this process's memory until written).
    for (const k of listed.data?.apiKeys ?? []) expect(k.lastUsedAt).not.toBeNull();
  });

  it('revokeApiKey: the key fails at once, also when it made the request; revoking twice changes nothing', async () => {
    const { apiKey, keyId } = await app.newWorkspace();
    const other = (await app.graphql(CREATE, { apiKey })).data?.createApiKey.apiKey as string;
    const revoked = await app.graphql(REVOKE, { apiKey, variables: { id: keyId } });
    expect(revoked.errors).toBeUndefined();
    expect(revoked.data?.revokeApiKey).toMatchObject({ id: keyId, revokedAt: expect.any(String) });
    const refused = await app.graphql(WHO, { apiKey });
    expect(refused.status).toBe(401);
    expect(refused.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');

    const again = await app.graphql(REVOKE, { apiKey: other, variables: { id: keyId } });
    expect(again.errors).toBeUndefined();
    expect(again.data?.revokeApiKey.revokedAt).toBe(revoked.data?.revokeApiKey.revokedAt);
  });

  it("refuses to revoke the workspace's last active key (BAD_USER_INPUT on id) and writes nothing", async () => {
    const { apiKey, keyId } = await app.newWorkspace();
    const res = await app.graphql(REVOKE, { apiKey, variables: { id: keyId } });
    expect(res.data).toBeNull();
    expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', issues: [{ path: ['id'] }] });
    const [row] = await app.sql`select revoked_at from api_keys where id = ${keyId}`;
    expect(row?.revokedAt).toBeNull();
    expect((await app.graphql(WHO, { apiKey })).status).toBe(200);
  });

  it("another workspace's key, an unknown id and a malformed one answer NOT_FOUND alike", async () => {
    const mine = await app.newWorkspace();
    const theirs = await app.newWorkspace();
    await app.graphql(CREATE, { apiKey: theirs.apiKey });
    for (const id of [theirs.keyId, `key_${randomBase62(16)}`, 'nope']) {
      const res = await app.graphql(REVOKE, { apiKey: mine.apiKey, variables: { id } });
      expect(res.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    }
    expect((await app.graphql(WHO, { apiKey: theirs.apiKey })).status).toBe(200);
  });

  it(`holds at most ${MAX_ACTIVE_API_KEYS} active keys per workspace (TOO_MANY_API_KEYS); revoking one makes room`, async () => {
    const { apiKey } = await app.newWorkspace();
    const ids: string[] = [];
    for (let i = 1; i < MAX_ACTIVE_API_KEYS; i++) {
      const res = await app.graphql(CREATE, { apiKey });
      expect(res.errors).toBeUndefined();
      ids.push(res.data?.createApiKey.key.id);
    }
    const full = await app.graphql(CREATE, { apiKey });
    expect(full.errors?.[0]?.extensions).toMatchObject({
      code: 'TOO_MANY_API_KEYS',
      maxActiveKeys: MAX_ACTIVE_API_KEYS,
    });
    await app.graphql(REVOKE, { apiKey, variables: { id: ids[0] } });
    expect((await app.graphql(CREATE, { apiKey })).errors).toBeUndefined();
  });

  it('the key mutations count against the mutation rate limit', async () => {
    const limited = await createTestApp({ RATE_LIMIT_PER_SECOND: '0.01', RATE_LIMIT_BURST: '2' });
    const { apiKey } = await limited.newWorkspace();
    const codes: unknown[] = [];
    for (let i = 0; i < 3; i++) codes.push((await limited.graphql(CREATE, { apiKey })).errors?.[0]?.extensions?.code);
    expect(codes).toEqual([undefined, undefined, 'RATE_LIMITED']);
    const revoke = await limited.graphql(REVOKE, { apiKey, variables: { id: 'key_0000000000000000' } });
    expect(revoke.errors?.[0]?.extensions?.code).toBe('RATE_LIMITED');
  });
});

describe('the key cache', () => {
  /** The app on its own cache, so a test can look inside it and control when lastUsedAt is written. */
  function appWithCache(options: Parameters<typeof createApiKeyCache>[1] = {}) {
    const keys = createApiKeyCache(app.sql, { flushMs: 3_600_000, ...options });
    cleanup(() => keys.close());
    const yoga = createApp({ sql: app.sql, config: app.config, secretKey: app.secretKey, log: app.log, apiKeys: keys });
    const who = async (apiKey: string) => {
      const response = await yoga.fetch('http://localhost/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': apiKey, 'content-length': String(WHO.length + 12) },
        body: JSON.stringify({ query: WHO }),
      });
      return response.status;
    };
    return { keys, who };
  }

  it('answers a known key from memory: a revocation that no notice announced is not seen by it', async () => {
    const { keys, who } = appWithCache();
    const { apiKey, keyId } = await app.newWorkspace();
    // Cached, and the LISTEN in place (the first one clears the cache; before it, entries are trusted for a second only).
    await eventually(
      async () => (await who(apiKey)) === 200 && keys.size().listening && keys.size().known === 1,
      10_000,
      50,
    );
    await app.sql`update api_keys set revoked_at = now() where id = ${keyId}`;
    expect(await who(apiKey)).toBe(200);
    // The notice, as every revocation sends it, reaches the cache.
    await app.sql`select pg_notify('api_key_revoked', ${keyId})`;
    await eventually(async () => (await who(apiKey)) === 401, 10_000, 50);
  });

  it('answers at once (no promise) only what memory decides: a held key, a malformed or known-unknown one; not a new or revoked key', async () => {
    const { keys, who } = appWithCache();
    const { apiKey, keyId, workspaceId } = await app.newWorkspace();
    const madeUp = randomKey();
    // Never looked up: only authenticate (the database) can say.
    expect(keys.cached(apiKey)).toBeUndefined();
    expect(keys.cached(madeUp)).toBeUndefined();
    expect(keys.cached('not-a-key')).toBeNull();
    await eventually(async () => (await who(apiKey)) === 200 && keys.size().listening, 10_000, 50);
    expect(await who(apiKey)).toBe(200);
    expect(keys.cached(apiKey)).toEqual({ keyId, workspaceId });
    expect(await keys.authenticate(madeUp)).toBeNull();
    expect(keys.cached(madeUp)).toBeNull();
    // Revoked (here, as revokeApiKey does): gone from memory at once, and the database says no.
    await app.sql`update api_keys set revoked_at = now() where id = ${keyId}`;
    keys.forget(keyId);
    expect(keys.cached(apiKey)).toBeUndefined();
    expect(await who(apiKey)).toBe(401);
    expect(keys.cached(apiKey)).toBeNull();
  });

  it('clears itself when its LISTEN connection comes back, since notices sent meanwhile are lost', async () => {
    const { keys, who } = appWithCache();
    const { apiKey, keyId } = await app.newWorkspace();
    await eventually(
      async () => (await who(apiKey)) === 200 && keys.size().listening && keys.size().known === 1,
      10_000,
      50,
    );
    await app.sql`update api_keys set revoked_at = now() where id = ${keyId}`;
    await app.sql`select pg_terminate_backend(pid) from pg_stat_activity
      where datname = current_database() and application_name = 'convo-hooks listener'`;
    await eventually(async () => (await who(apiKey)) === 401, 20_000, 100);
  });

  it('after a database outage that outlasts its reconnect attempts, listens again and forgets what was revoked meanwhile', async () => {
    const target = new URL(app.db.url);
    const proxy = await createTcpProxy({ host: target.hostname, port: Number(target.port) });
    await proxy.up();
    const viaProxy = new URL(app.db.url);
    viaProxy.port = String(proxy.port);
    const sql = createPool(viaProxy.toString(), { max: 2 });
    const keys = createApiKeyCache(sql, { flushMs: 3_600_000 });
    cleanup(async () => {
      await keys.close();
      await sql.end({ timeout: 1 });
      await proxy.down();
    });
    const { apiKey, keyId, workspaceId } = await app.newWorkspace();
    const second = await createApiKey(app.sql, workspaceId);
    const cached = async (key: string) =>
      (await keys.authenticate(key)) !== null && keys.size().listening && keys.size().known >= 1;
    await eventually(() => cached(apiKey), 10_000, 50);

    await proxy.down();
    await eventually(async () => !keys.size().listening, 10_000, 50);
    // Revoked while this cache cannot hear: its notice is lost.
    await revokeApiKey(app.sql, keyId);
    // Long enough for several failed attempts to LISTEN again.
    await sleep(3_000);
    await proxy.up();

    await eventually(async () => keys.size().listening, 20_000, 100);
    expect(await keys.authenticate(apiKey)).toBeNull();
    // And it hears revocations again.
    await eventually(() => cached(second.apiKey), 10_000, 50);
    await revokeApiKey(app.sql, second.id);
    await eventually(async () => (await keys.authenticate(second.apiKey)) === null, 10_000, 50);
  });

  it('a flood of made-up keys neither evicts a live key nor queues unbounded lookups', async () => {
    const { keys, who } = appWithCache({ size: 1, unknownSize: 50, maxLookups: 2, maxWaiting: 10 });
    const { apiKey, keyId } = await app.newWorkspace();
    await eventually(
      async () => (await who(apiKey)) === 200 && keys.size().listening && keys.size().known === 1,
      10_000,
      50,
    );

    const flood = await Promise.allSettled(Array.from({ length: 200 }, () => keys.authenticate(randomKey())));
    const busy = flood.filter((r) => r.status === 'rejected' && r.reason instanceof LookupsBusy).length;
    const refused = flood.filter((r) => r.status === 'fulfilled' && r.value === null).length;
    // 2 looked up at once, 10 waiting: the rest are turned away without touching the database.
    expect(refused).toBeGreaterThanOrEqual(12);
    expect(busy + refused).toBe(200);
    expect(busy).toBeGreaterThan(0);
    expect(keys.size()).toMatchObject({ known: 1 });
    expect(keys.size().unknown).toBeLessThanOrEqual(50);
    // The live key is still answered from memory (a silent revocation is not noticed).
    await app.sql`update api_keys set revoked_at = now() where id = ${keyId}`;
    expect(await who(apiKey)).toBe(200);
    // Malformed keys never get as far as a lookup.
    expect(await keys.authenticate(`chk_${'x'.repeat(39)}!`)).toBeNull();
    expect(await who(randomBytes(8).toString('hex'))).toBe(401);
  });

  it('keys carry a checksum: a flood of 300 made-up keys at once never makes a fresh real key wait or fail', async () => {
    const { who } = appWithCache();
    const { workspaceId } = await app.newWorkspace();
    const fresh = await Promise.all(Array.from({ length: 8 }, () => createApiKey(app.sql, workspaceId)));
    for (const { apiKey } of fresh) expect(hasValidChecksum(apiKey)).toBe(true);
    expect(hasValidChecksum(randomKey())).toBe(false);
    for (const { apiKey } of fresh) {
      const flood = Array.from({ length: 300 }, () => who(randomKey()));
      // Sent after the flood: in one queue it would wait behind all 300, or be turned away.
      expect(await who(apiKey)).toBe(200);
      const answers = await Promise.all(flood);
      expect(answers.every((status) => status === 401 || status === 503)).toBe(true);
      expect(answers.filter((status) => status === 503).length).toBeGreaterThan(0);
    }
  });

  it('lastUsedAt costs no write per request: noted in memory, written in one batch', async () => {
    const { keys, who } = appWithCache();
    const { workspaceId, keyId } = await app.newWorkspace();
    const used = await createApiKey(app.sql, workspaceId);
    const idle = { id: keyId };
    for (let i = 0; i < 20; i++) expect(await who(used.apiKey)).toBe(200);
    const lastUsed = async () =>
      Object.fromEntries(
        (await app.sql`select id, last_used_at from api_keys where workspace_id = ${workspaceId}`).map((r) => [
          r.id,
          r.lastUsedAt,
        ]),
      );
    expect(await lastUsed()).toEqual({ [used.id]: null, [idle.id]: null });
    expect(keys.pendingUse(used.id)).toBeInstanceOf(Date);

    await keys.flush();
    const written = await lastUsed();
    expect(written[used.id]).toBeInstanceOf(Date);
    expect(written[idle.id]).toBeNull();
    expect(keys.size().pendingUses).toBe(0);
  });
});
