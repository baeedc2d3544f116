import { beforeAll, describe, expect, it } from 'vitest';
import { revokeApiKey } from '../../src/auth/api-keys.js';
import { createListener } from '../../src/db/listener.js';
import { createSessionCache } from '../../src/sessions/session-cache.js';
import { createSession, redeemPortalToken } from '../../src/sessions/store.js';
import { createTestApp, type TestApp } from '../support/app.js';
import { cleanup } from '../support/cleanup.js';
import { conversationEnded, oneCharOff, PUBLISH, REGISTER, validWebhook } from '../support/operations.js';
import { eventually } from '../support/receiver.js';
import { subscribe } from '../support/sse.js';
import {
  bearer,
  cookieHeaders,
  countSessions,
  createPortal,
  portalSession,
  postSession,
  SESSION_URL,
  signIn,
} from './support.js';

const WHO = 'query { workspace { id } }';

let app: TestApp;
let url: string;
beforeAll(async () => {
  app = await createTestApp({ DASHBOARD_SESSIONS_PER_WORKSPACE: '4', PUBLIC_URL: 'https://hooks.example.com' });
  url = await app.listen();
});

const session = (method: string, headers: Record<string, string> = {}) =>
  app.yoga.fetch(SESSION_URL, { method, headers });

describe('a key signs in to the dashboard', () => {
  it('gets an HttpOnly SameSite=Strict cookie and a CSRF token; the key itself is kept nowhere', async () => {
    const { apiKey, workspaceId } = await app.newWorkspace();
    const signedIn = await signIn(app, apiKey);
    expect(signedIn.setCookie).toMatch(/^convo_hooks_session=chs_[0-9A-Za-z]{43}; HttpOnly; SameSite=Strict; Path=\//);
    expect(signedIn.setCookie).not.toContain('Secure');
    expect(signedIn.body).toEqual({
      csrfToken: expect.any(String),
      expiresAt: expect.any(String),
      capabilities: ['VIEW', 'MANAGE_WEBHOOKS', 'RETRY', 'MANAGE_API_KEYS'],
      agentIds: null,
    });
    expect(JSON.stringify(signedIn.body)).not.toContain(apiKey);
    // Only a digest of the session token is stored.
    const [row] = await app.sql<{ tokenHash: Buffer }[]>`
      select token_hash from dashboard_sessions where workspace_id = ${workspaceId}`;
    expect(row?.tokenHash.toString('hex')).not.toContain(
      Buffer.from(signedIn.cookie.split('=')[1] as string).toString('hex'),
    );

    const who = await app.graphql(WHO, { headers: cookieHeaders(signedIn) });
    expect(who.errors).toBeUndefined();
    expect(who.data?.workspace.id).toBe(workspaceId);
  });

  it('sign-ins run a few at a time: a flood of them is answered 503 with Retry-After past the line, never 500, and each 200 is one session', async () => {
    // Its own app: room for the sessions. Six workspaces' keys, twenty sign-ins each (a key's burst).
    const roomy = await createTestApp({ DASHBOARD_SESSIONS_PER_WORKSPACE: '1000' });
    const workspaces = await Promise.all(Array.from({ length: 6 }, () => roomy.newWorkspace()));
    const answers = await Promise.all(
      workspaces.flatMap(({ apiKey }) => Array.from({ length: 20 }, () => postSession(roomy, { apiKey }))),
    );
    const statuses = answers.map((a) => a.status);
    expect([...new Set(statuses)].sort()).toEqual([200, 503]);
    const busy = answers.find((a) => a.status === 503);
    expect(busy?.headers.get('retry-after')).toBe('1');
    const [row] = await roomy.sql<{ n: number }[]>`
      select count(*)::int as n from dashboard_sessions
      where workspace_id = any(${workspaces.map((w) => w.workspaceId)}::text[])`;
    expect(row?.n).toBe(statuses.filter((s) => s === 200).length);
  });

  it("a key's sign-ins are paced: past twenty in a row, 429 with Retry-After (each sign-out is a notice every instance acts on)", async () => {
    const roomy = await createTestApp({ DASHBOARD_SESSIONS_PER_WORKSPACE: '1000' });
    const { apiKey } = await roomy.newWorkspace();
    for (let i = 0; i < 20; i++) expect((await postSession(roomy, { apiKey })).status).toBe(200);
    const paced = await postSession(roomy, { apiKey });
    expect(paced.status).toBe(429);
    expect(paced.body.code).toBe('RATE_LIMITED');
    expect(Number(paced.headers.get('retry-after'))).toBeGreaterThan(0);
    // Another key of another workspace is not held back.
    const other = await roomy.newWorkspace();
    expect((await postSession(roomy, { apiKey: other.apiKey })).status).toBe(200);
  });

  it('behind https (X-Forwarded-Proto) is a Secure `__Host-` cookie, and only that name counts there', async () => {
    const { apiKey, workspaceId } = await app.newWorkspace();
    const https = { 'x-forwarded-proto': 'https' };
    const { headers, body } = await postSession(app, { apiKey }, https);
    const [setCookie = '', plainExpired] = headers.getSetCookie();
    expect(setCookie).toMatch(/^__Host-convo_hooks_session=chs_[0-9A-Za-z]{43}; HttpOnly; SameSite=Strict; Path=\/; /);
    expect(setCookie).toContain('; Secure');
    expect(setCookie).not.toMatch(/Domain=/i);
    // A plain-named cookie from before is expired, so it does not linger unread.
    expect(plainExpired).toBe('convo_hooks_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0; Secure');
    const token = (setCookie.split(';')[0] as string).split('=')[1] as string;
    const as = (cookie: string, extra: Record<string, string> = {}) =>
      app.graphql(WHO, { headers: { cookie, 'x-csrf-token': body.csrfToken, ...extra } });
    expect((await as(`__Host-convo_hooks_session=${token}`, https)).data?.workspace.id).toBe(workspaceId);
    // A plain cookie over https may have been planted by a sibling subdomain: it is not read.
    const planted = await as(`convo_hooks_session=${token}`, https);
    expect(planted.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    // Signing out clears the cookie of the same name.
    const out = await app.yoga.fetch(SESSION_URL, {
      method: 'DELETE',
      headers: { cookie: `__Host-convo_hooks_session=${token}`, 'x-csrf-token': body.csrfToken, ...https },
    });
    expect(out.status).toBe(204);
    expect(out.headers.getSetCookie()[0]).toMatch(/^__Host-convo_hooks_session=; .*Max-Age=0.*; Secure/);
  });

  it('a wrong or revoked key answers 401 and sets no cookie', async () => {
    const { apiKey, keyId } = await app.newWorkspace();
    const wrong = await postSession(app, { apiKey: oneCharOff(apiKey) });
    expect(wrong.status).toBe(401);
    expect(wrong.body.error).toMatch(/Invalid or revoked API key/);
    expect(wrong.headers.get('set-cookie')).toBeNull();
    await revokeApiKey(app.sql, keyId);
    await eventually(async () => (await postSession(app, { apiKey })).status === 401);
  });

  it('refuses a cookie without its X-CSRF-Token header (or with a wrong one), before running anything', async () => {
    const { apiKey } = await app.newWorkspace();
    const signedIn = await signIn(app, apiKey);
    const register = { variables: { input: validWebhook({ agentId: 'csrf' }) } };
    const attempts: Record<string, string>[] = [
      { cookie: signedIn.cookie },
      { cookie: signedIn.cookie, 'x-csrf-token': 'guess' },
    ];
    for (const headers of attempts) {
      const res = await app.graphql(REGISTER, { ...register, headers });
      expect(res.status).toBe(401);
      expect(res.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    }
    const list = await app.graphql('{ webhooks(first: 10) { totalCount } }', { apiKey });
    expect(list.data?.webhooks.totalCount).toBe(0);
    // And a sign-in body that is not JSON (a cross-site form could send that) is refused.
    const form = await app.yoga.fetch(SESSION_URL, {
      method: 'POST',
      headers: { 'content-type': 'text/plain', 'content-length': '20' },
      body: `{"apiKey":"${'x'.repeat(6)}"}`.slice(0, 20),
    });
    expect(form.status).toBe(415);
  });

  it('no other origin may use the cookie: CORS answers never allow credentials', async () => {
    const { apiKey } = await app.newWorkspace();
    const signedIn = await signIn(app, apiKey);
    const origin = 'https://evil.example.com';
    for (const path of ['/dashboard/session', '/graphql']) {
      const preflight = await app.yoga.fetch(`http://localhost${path}`, {
        method: 'OPTIONS',
        headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'x-csrf-token' },
      });
      expect(preflight.headers.get('access-control-allow-credentials')).toBeNull();
    }
    const read = await session('GET', { origin, cookie: signedIn.cookie });
    expect(read.headers.get('access-control-allow-credentials')).toBeNull();
  });

  it('GET answers the session (and its CSRF token again); DELETE signs out on the server', async () => {
    const { apiKey } = await app.newWorkspace();
    const signedIn = await signIn(app, apiKey);
    const current = await session('GET', { cookie: signedIn.cookie });
    expect(current.status).toBe(200);
    expect(await current.json()).toMatchObject({ csrfToken: signedIn.csrfToken, agentIds: null });

    const feed = await subscribe(url, 'subscription { deliveryUpdates { id } }', { headers: cookieHeaders(signedIn) });
    expect(feed.status).toBe(200);
    // Signing out needs the CSRF header too.
    expect((await session('DELETE', { cookie: signedIn.cookie })).status).toBe(401);
    const out = await session('DELETE', cookieHeaders(signedIn));
    expect(out.status).toBe(204);
    expect(out.headers.get('set-cookie')).toMatch(/^convo_hooks_session=; .*Max-Age=0/);

    expect((await session('GET', { cookie: signedIn.cookie })).status).toBe(401);
    const after = await app.graphql(WHO, { headers: cookieHeaders(signedIn) });
    expect(after.status).toBe(401);
    expect(after.errors?.[0]?.message).toMatch(/dashboard session/);
    // Its open stream ends too.
    await feed.ended;
    expect(feed.events.at(-1)?.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });
});

describe('portal sessions', () => {
  it('createPortalSession answers a one-time URL on PUBLIC_URL, with the token in the fragment', async () => {
    const { apiKey } = await app.newWorkspace();
    const created = await createPortal(app, apiKey, { agentIds: ['agent_a'], capabilities: ['RETRY'] });
    expect(created.errors).toBeUndefined();
    const portal = created.data?.createPortalSession;
    expect(portal.url).toMatch(/^https:\/\/hooks\.example\.com\/dashboard\/portal#token=chp_[0-9A-Za-z]{43}$/);
    expect(portal).toMatchObject({ agentIds: ['agent_a'], capabilities: ['VIEW', 'RETRY'] });
    const ttl = Date.parse(portal.expiresAt) - Date.now();
    expect(ttl).toBeGreaterThan(3_500_000);
    expect(ttl).toBeLessThanOrEqual(3_600_000);
  });

  it('redeems once into a bearer token (no cookie); a second use answers 401', async () => {
    const { apiKey, workspaceId } = await app.newWorkspace();
    const portal = await portalSession(app, apiKey, { capabilities: [], expiresInSeconds: 600 });
    expect(portal.redeemed).toMatchObject({ capabilities: ['VIEW'], agentIds: null });
    const who = await app.graphql(WHO, { headers: bearer(portal.token) });
    expect(who.data?.workspace.id).toBe(workspaceId);

    const again = await postSession(app, { portalToken: portal.portalToken });
    expect(again.status).toBe(401);
    expect(again.headers.get('set-cookie')).toBeNull();
    expect((await postSession(app, { portalToken: 'chp_made_up' })).status).toBe(401);
    // The portal token is not a session token.
    expect((await app.graphql(WHO, { headers: bearer(portal.portalToken) })).status).toBe(401);
  });

  it('an expired portal link cannot be redeemed, and an expired session authenticates nothing', async () => {
    const { apiKey } = await app.newWorkspace();
    const created = await createPortal(app, apiKey, { capabilities: [] });
    const portalToken = new URL(created.data?.createPortalSession.url).hash.replace('#token=', '');
    await app.sql`update dashboard_sessions set expires_at = now() - interval '1 second' where kind = 'portal'
      and created_at > now() - interval '1 minute' and redeemed_at is null`;
    expect((await postSession(app, { portalToken })).status).toBe(401);

    const redeemed = await portalSession(app, apiKey, { capabilities: [] });
    await app.sql`update dashboard_sessions set expires_at = now() - interval '1 second' where redeemed_at is not null`;
    expect((await app.graphql(WHO, { headers: bearer(redeemed.token) })).status).toBe(401);
  });

  it('a cached session stops at its expiry without asking the database again', async () => {
    const { keyId, workspaceId } = await app.newWorkspace();
    let now = Date.now();
    const listener = createListener(app.sql);
    // Trusted for an hour: only the cache's own expiry check can refuse it.
    const cache = createSessionCache(app.sql, {
      listener,
      now: () => now,
      maxAgeMs: 3_600_000,
      unheardMaxAgeMs: 3_600_000,
    });
    cleanup(async () => {
      await cache.close();
      await listener.close();
    });
    const created = await createSession(
      app.sql,
      { workspaceId, kind: 'key', agentIds: null, capabilities: [], createdByKeyId: keyId, ttlSeconds: 60 },
      100,
    );
    const token = created?.token as string;
    expect(await cache.authenticate(token)).toMatchObject({ workspaceId });
    now += 30_000;
    expect(await cache.authenticate(token)).toMatchObject({ workspaceId });
    now += 31_000;
    expect(cache.authenticate(token)).toBeNull();
  });

  it('an open subscription ends when its session expires', async () => {
    const { keyId, workspaceId } = await app.newWorkspace();
    const created = await createSession(
      app.sql,
      { workspaceId, kind: 'portal', agentIds: null, capabilities: [], createdByKeyId: keyId, ttlSeconds: 2 },
      100,
    );
    const session = await redeemPortalToken(app.sql, created?.token as string);
    const started = Date.now();
    const feed = await subscribe(url, 'subscription { deliveryUpdates { id } }', {
      headers: bearer(session?.token as string),
    });
    expect(feed.status).toBe(200);
    await feed.ended;
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(feed.events.at(-1)?.errors?.[0]).toMatchObject({
      message: 'The dashboard session expired',
      extensions: { code: 'UNAUTHENTICATED' },
    });
  });

  it('validation errors name the field, and nothing is written', async () => {
    const { apiKey, workspaceId } = await app.newWorkspace();
    const cases: [Record<string, unknown>, string[]][] = [
      [{ agentIds: ['a'], capabilities: ['MANAGE_API_KEYS'] }, ['input', 'capabilities']],
      [{ capabilities: [], expiresInSeconds: 299 }, ['input', 'expiresInSeconds']],
      [{ capabilities: [], expiresInSeconds: 604_801 }, ['input', 'expiresInSeconds']],
      [{ agentIds: [], capabilities: [] }, ['input', 'agentIds']],
    ];
    for (const [input, path] of cases) {
      const res = await createPortal(app, apiKey, input);
      expect(res.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      expect(res.errors?.[0]?.extensions?.issues?.[0]?.path).toEqual(path);
    }
    expect(await countSessions(app, workspaceId)).toBe(0);
    // MANAGE_API_KEYS is grantable to a session of every agent.
    const allAgents = await createPortal(app, apiKey, { capabilities: ['MANAGE_API_KEYS'] });
    expect(allAgents.errors).toBeUndefined();
  });
});

describe('sessions end with the key that made them', () => {
  it('revoking the key ends its sign-ins and portal sessions, and their open streams', async () => {
    const { apiKey, keyId } = await app.newWorkspace();
    const other = await app.graphql('mutation { createApiKey { apiKey } }', { apiKey });
    const otherKey = other.data?.createApiKey.apiKey as string;
    const signedIn = await signIn(app, apiKey);
    const portal = await portalSession(app, apiKey, { capabilities: [] });
    const unredeemed = await createPortal(app, apiKey, { capabilities: [] });
    const kept = await signIn(app, otherKey);
    for (const headers of [cookieHeaders(signedIn), bearer(portal.token), cookieHeaders(kept)]) {
      expect((await app.graphql(WHO, { headers })).status).toBe(200);
    }
    const feed = await subscribe(url, 'subscription { deliveryUpdates { id } }', { headers: bearer(portal.token) });
    expect(feed.status).toBe(200);

    const revoked = await app.graphql('mutation($id: ID!) { revokeApiKey(id: $id) { id } }', {
      apiKey: otherKey,
      variables: { id: keyId },
    });
    expect(revoked.errors).toBeUndefined();
    const ended = async (headers: Record<string, string>) => (await app.graphql(WHO, { headers })).status === 401;
    await eventually(async () => (await ended(cookieHeaders(signedIn))) && ended(bearer(portal.token)), 2_000);
    await feed.ended;
    expect(feed.events.at(-1)?.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    const link = new URL(unredeemed.data?.createPortalSession.url).hash.replace('#token=', '');
    expect((await postSession(app, { portalToken: link })).status).toBe(401);
    // The other key's session goes on.
    expect((await app.graphql(WHO, { headers: cookieHeaders(kept) })).status).toBe(200);
  });
});

describe('a key revoked while its request runs', () => {
  it('createPortalSession answers 401 UNAUTHENTICATED, and no session is made', async () => {
    const { apiKey, keyId, workspaceId } = await app.newWorkspace();
    expect((await app.graphql(WHO, { apiKey })).status).toBe(200);
    // The request waits on the workspace's session lock while the key is revoked (in the
    // database only, its notice not sent: this instance still holds the key live).
    const revoking = await app.sql.reserve();
    await revoking`begin`;
    await revoking`select pg_advisory_xact_lock(hashtextextended(${`dashboard_sessions ${workspaceId}`}, 0))`;
    await revoking`update api_keys set revoked_at = now() where id = ${keyId}`;
    const creating = createPortal(app, apiKey, { capabilities: [] });
    await new Promise((resolve) => setTimeout(resolve, 300));
    await revoking`commit`;
    revoking.release();
    const created = await creating;
    expect(created.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect(created.status).toBe(401);
    expect(await countSessions(app, workspaceId)).toBe(0);
  });
});

describe('sessions per workspace (DASHBOARD_SESSIONS_PER_WORKSPACE)', () => {
  it('past the limit, sign-in answers 429 and createPortalSession LIMIT_EXCEEDED; signing out makes room', async () => {
    const { apiKey, workspaceId } = await app.newWorkspace();
    const first = await signIn(app, apiKey);
    await signIn(app, apiKey);
    await createPortal(app, apiKey, { capabilities: [] });
    await createPortal(app, apiKey, { capabilities: [] });
    const refused = await postSession(app, { apiKey });
    expect(refused.status).toBe(429);
    expect(refused.body).toMatchObject({
      code: 'LIMIT_EXCEEDED',
      error: expect.stringMatching(/DASHBOARD_SESSIONS_PER_WORKSPACE/),
    });
    const portal = await createPortal(app, apiKey, { capabilities: [] });
    expect(portal.errors?.[0]?.extensions).toMatchObject({
      code: 'LIMIT_EXCEEDED',
      limit: 'DASHBOARD_SESSIONS_PER_WORKSPACE',
      max: 4,
    });
    expect(await countSessions(app, workspaceId)).toBe(4);
    // Another workspace is not affected.
    const other = await app.newWorkspace();
    await signIn(app, other.apiKey);

    expect((await session('DELETE', cookieHeaders(first))).status).toBe(204);
    await signIn(app, apiKey);
  });
});

describe('a session on every transport, within its own budgets', () => {
  it('GET queries, SSE and multipart subscriptions take the bearer token and the cookie with its CSRF header', async () => {
    const { apiKey, workspaceId } = await app.newWorkspace();
    const portal = await portalSession(app, apiKey, { capabilities: [] });
    const signedIn = await signIn(app, apiKey);
    for (const headers of [bearer(portal.token), cookieHeaders(signedIn)]) {
      const get = await fetch(`${url}?query=${encodeURIComponent(WHO)}`, { headers });
      expect(get.status).toBe(200);
      expect(((await get.json()) as any).data.workspace.id).toBe(workspaceId);

      await app.graphql(REGISTER, { apiKey, variables: { input: validWebhook({ agentId: 'live' }) } });
      const feed = await subscribe(url, 'subscription { deliveryUpdates { id status } }', { headers });
      // Its headers come with its first part: awaited once something was published.
      const multipartResponse = fetch(url, {
        method: 'POST',
        headers: {
          ...headers,
          'content-type': 'application/json',
          accept: 'multipart/mixed;boundary="graphql";subscriptionSpec="1.0"',
        },
        body: JSON.stringify({ query: 'subscription { deliveryUpdates { id } }' }),
      });
      await new Promise((resolve) => setTimeout(resolve, 300));
      await app.graphql(PUBLISH, { apiKey, variables: { input: conversationEnded('live') } });
      const multipart = await multipartResponse;
      expect(multipart.status).toBe(200);
      const reader = (multipart.body as ReadableStream<Uint8Array>).getReader();
      await feed.until((events) => events.some((e) => e.data?.deliveryUpdates?.id));
      let text = '';
      while (!text.includes('dlv_')) text += new TextDecoder().decode((await reader.read()).value);
      await reader.cancel();
      await feed.close();
    }
    // Without credentials, or with made-up ones, nothing is served.
    expect((await fetch(`${url}?query=${encodeURIComponent(WHO)}`, { headers: bearer('chs_nope') })).status).toBe(401);
  });

  it('graphql-sse single connection: a reservation takes the bearer token, and only its session may use it', async () => {
    const { apiKey } = await app.newWorkspace();
    const portal = await portalSession(app, apiKey, { capabilities: [] });
    const put = await fetch(url, { method: 'PUT', headers: bearer(portal.token) });
    expect(put.status).toBe(201);
    const token = await put.text();
    const withKey = await fetch(url, {
      method: 'POST',
      headers: { 'x-api-key': apiKey, 'x-graphql-event-stream-token': token, 'content-type': 'application/json' },
      body: JSON.stringify({ query: WHO, extensions: { operationId: '1' } }),
    });
    expect(withKey.status).toBe(404);
    expect((await fetch(url, { method: 'PUT', headers: bearer('chs_made_up') })).status).toBe(401);
  });

  it("a session's budgets are its key's: however many it signs in, they and the key share its rates and its streams; a sign-out ends only its own", async () => {
    const limited = await createTestApp({
      RATE_LIMIT_PER_SECOND: '0.01',
      RATE_LIMIT_BURST: '2',
      SUBSCRIPTIONS_PER_KEY: '2',
    });
    const limitedUrl = await limited.listen();
    const { apiKey } = await limited.newWorkspace();
    const [first, second] = [await signIn(limited, apiKey), await signIn(limited, apiKey)] as const;
    const register = (options: { apiKey?: string; headers?: Record<string, string> }, agentId: string) =>
      limited.graphql(REGISTER, { ...options, variables: { input: validWebhook({ agentId }) } });
    // A burst of two mutations for the key and every session it signed in, not two each.
    expect((await register({ apiKey }, 'live')).status).toBe(200);
    expect((await register({ headers: cookieHeaders(first) }, 's1')).status).toBe(200);
    for (const options of [{ apiKey }, { headers: cookieHeaders(first) }, { headers: cookieHeaders(second) }]) {
      const refused = await register(options, 'x');
      expect(refused.status).toBe(429);
      expect(refused.errors?.[0]?.extensions?.code).toBe('RATE_LIMITED');
    }

    // Two streams for the key and its sessions together.
    const feed = 'subscription { deliveryUpdates { id } }';
    const keyStream = await subscribe(limitedUrl, feed, { apiKey });
    const sessionStream = await subscribe(limitedUrl, feed, { headers: cookieHeaders(first) });
    const third = await subscribe(limitedUrl, feed, { headers: cookieHeaders(second) });
    await third.until((events) => events.length > 0);
    expect(third.events[0]?.errors?.[0]?.extensions?.code).toBe('TOO_MANY_SUBSCRIPTIONS');
    await third.close();
    // Signing the first session out ends its stream, not the key's, and frees its slot.
    const out = await limited.yoga.fetch(SESSION_URL, { method: 'DELETE', headers: cookieHeaders(first) });
    expect(out.status).toBe(204);
    await sessionStream.until((events) => events.some((e) => e.errors?.length), 5_000);
    const again = await subscribe(limitedUrl, feed, { headers: cookieHeaders(second) });
    await limited.graphql(PUBLISH, { apiKey, variables: { input: conversationEnded('live') } });
    await eventually(async () => keyStream.events.some((e) => e.data?.deliveryUpdates?.id));
    await eventually(async () => again.events.some((e) => e.data?.deliveryUpdates?.id));
    await keyStream.close();
    await sessionStream.close();
    await again.close();
  });
});
