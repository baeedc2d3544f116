import type { Plugin } from 'graphql-yoga';
import { z } from 'zod';
import type { ApiKeyCache } from '../auth/key-cache.js';
import { createBuckets } from '../auth/use-rate-limit.js';
import type { Config } from '../config.js';
import type { Pool } from '../db/sql.js';
import { CAPABILITIES } from '../graphql/access.js';
import { databaseUnavailable } from '../graphql/errors.js';
import type { Logger } from '../lib/logger.js';
import { createLookupLane, LookupsBusy } from '../lib/lookup-lane.js';
import {
  csrfHolds,
  csrfTokenFor,
  HOST_SESSION_COOKIE,
  overHttps,
  SESSION_COOKIE,
  sessionAccess,
  sessionCredentials,
} from './caller.js';
import type { SessionCache } from './session-cache.js';
import {
  createSession,
  isTokenShaped,
  KEY_SESSION_TTL_SECONDS,
  PORTAL_TOKEN_PREFIX,
  redeemPortalToken,
  SessionLimitReached,
  type SessionRecord,
} from './store.js';

export const SESSION_PATH = '/dashboard/session';
const MAX_BODY_BYTES = 16 * 1024;

const signIn = z.union([
  z.object({ apiKey: z.string().min(1).max(200) }).strict(),
  z.object({ portalToken: z.string().min(1).max(200) }).strict(),
]);

/** A key's sign-ins: a person signs in from a few browsers a day; a loop is refused. */
const SIGN_INS_PER_MINUTE = 6;
const SIGN_INS_BURST = 20;

export type SessionEndpointsOptions = {
  sql: Pool;
  config: Config;
  secretKey: Buffer;
  keys: ApiKeyCache;
  sessions: SessionCache;
  log?: Logger;
};

/**
 * The dashboard's sign-in, as plain JSON over HTTP (docs/dashboard-sessions.md):
 * - POST {apiKey} starts a key's session in an HttpOnly, SameSite=Strict cookie and
 *   answers its CSRF token; POST {portalToken} spends a portal URL's one-time token and
 *   answers a session token for `Authorization: Bearer` (no cookie: it must work in a
 *   cross-site iframe, where third-party cookies are blocked);
 * - GET answers the session of the cookie (with its CSRF token again) or of the bearer token;
 * - DELETE ends it on the server (cookie with X-CSRF-Token, or bearer).
 * POST takes only `application/json`, which a cross-site page cannot send without a CORS
 * preflight we never grant: nobody can sign a browser in with a key of theirs.
 */
export function useSessionEndpoints(options: SessionEndpointsOptions): Plugin {
  const { sql, config, secretKey, keys, sessions } = options;
  // Redemptions look up the database each time: a few at once, so a flood of made-up tokens
  // cannot take the pool. Sign-ins with a key too: each is a transaction (a lock, a count,
  // an insert), and 600 at once held another tenant's query for 1.7 s.
  const redemptions = createLookupLane(4, 64);
  const signIns = createLookupLane(2, 32);
  // And each key's sign-ins are paced: each sign-out is a notice every instance acts on (it
  // forgets what it remembered), so a loop of them would keep every cache cold.
  const signInsPerKey = createBuckets(SIGN_INS_PER_MINUTE / 60, SIGN_INS_BURST, () => performance.now());

  const describe = (session: SessionRecord) => {
    const access = sessionAccess(session);
    return {
      expiresAt: session.expiresAt.toISOString(),
      capabilities: CAPABILITIES.filter((c) => access.capabilities.has(c)),
      agentIds: access.agentIds,
    };
  };

  /** The session cookie; over https also the plain-named one expired, so none set before `__Host-` lingers. */
  const cookiesFor = (request: Request, value: string, maxAgeSeconds: number): [string, string][] => {
    const attributes = `HttpOnly; SameSite=Strict; Path=/; Max-Age=${maxAgeSeconds}`;
    if (!overHttps(request)) return [['set-cookie', `${SESSION_COOKIE}=${value}; ${attributes}`]];
    return [
      ['set-cookie', `${HOST_SESSION_COOKIE}=${value}; ${attributes}; Secure`],
      ['set-cookie', `${SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0; Secure`],
    ];
  };

  async function post(request: Request): Promise<Response> {
    if (!/^application\/json\b/i.test(request.headers.get('content-type') ?? '')) {
      return json(415, { error: 'Send the body as application/json' });
    }
    const text = await request.text();
    if (text.length > MAX_BODY_BYTES) return json(413, { error: `The body may be at most ${MAX_BODY_BYTES} bytes` });
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      return json(400, { error: 'The body is not JSON' });
    }
    const parsed = signIn.safeParse(body);
    if (!parsed.success) return json(400, { error: 'Send {"apiKey": "…"} or {"portalToken": "…"}' });

    if ('portalToken' in parsed.data) {
      const token = parsed.data.portalToken.trim();
      const redeemed = isTokenShaped(token, PORTAL_TOKEN_PREFIX)
        ? await redemptions(() => redeemPortalToken(sql, token))
        : null;
      if (!redeemed) return json(401, { error: 'This portal link was already used, has expired, or is not valid' });
      return json(200, { sessionToken: redeemed.token, ...describe(redeemed.session) });
    }

    const key = await keys.authenticate(parsed.data.apiKey.trim());
    if (!key) return json(401, { error: 'Invalid or revoked API key' });
    const retryAfter = signInsPerKey.take(key.keyId, 1);
    if (retryAfter > 0) {
      return json(
        429,
        { error: `At most ${SIGN_INS_PER_MINUTE} sign-ins a minute with one API key`, code: 'RATE_LIMITED' },
        [['retry-after', String(retryAfter)]],
      );
    }
    const created = await signIns(() =>
      createSession(
        sql,
        {
          workspaceId: key.workspaceId,
          kind: 'key',
          agentIds: null,
          capabilities: CAPABILITIES.filter((c) => c !== 'VIEW'),
          createdByKeyId: key.keyId,
          ttlSeconds: KEY_SESSION_TTL_SECONDS,
        },
        config.dashboardSessionsPerWorkspace,
      ),
    );
    if (!created) return json(401, { error: 'Invalid or revoked API key' });
    return json(
      200,
      { csrfToken: csrfTokenFor(secretKey, created.token), ...describe(created.session) },
      cookiesFor(request, created.token, KEY_SESSION_TTL_SECONDS),
    );
  }

  /** The request's session, checked as GraphQL checks it (the cookie needs its CSRF header unless `readOnly`). */
  async function current(request: Request, readOnly: boolean) {
    const credentials = sessionCredentials(request);
    if (!credentials) return null;
    if (credentials.via === 'cookie' && !readOnly && !csrfHolds(secretKey, credentials.token, credentials.csrf)) {
      return null;
    }
    const session = await sessions.authenticate(credentials.token);
    return session ? { session, credentials } : null;
  }

  async function handle(request: Request): Promise<Response> {
    switch (request.method) {
      case 'POST':
        return post(request);
      case 'GET': {
        const found = await current(request, true);
        if (!found) return json(401, { error: 'Not signed in' });
        const { session, credentials } = found;
        return json(200, {
          ...(credentials.via === 'cookie' ? { csrfToken: csrfTokenFor(secretKey, credentials.token) } : {}),
          ...describe(session),
        });
      }
      case 'DELETE': {
        const found = await current(request, false);
        if (!found) return json(401, { error: 'Not signed in (a cookie needs its X-CSRF-Token header)' });
        await sessions.end(found.session);
        return new Response(null, {
          status: 204,
          headers: [['cache-control', 'no-store'], ...cookiesFor(request, '', 0)],
        });
      }
      default:
        return json(405, { error: 'Use POST, GET or DELETE' }, [['allow', 'POST, GET, DELETE']]);
    }
  }

  return {
    async onRequest({ request, url, endResponse }) {
      if (url.pathname !== SESSION_PATH) return;
      try {
        endResponse(await handle(request));
      } catch (error) {
        if (error instanceof SessionLimitReached) {
          return endResponse(
            json(429, {
              error: `This workspace already has ${error.max} live dashboard sessions (DASHBOARD_SESSIONS_PER_WORKSPACE): sign out elsewhere, or wait for them to expire`,
              code: 'LIMIT_EXCEEDED',
            }),
          );
        }
        if (error instanceof LookupsBusy) {
          return endResponse(
            json(503, { error: 'Too many sign-ins at once; try again shortly' }, [['retry-after', '1']]),
          );
        }
        if (databaseUnavailable(error)) {
          return endResponse(
            json(503, { error: 'The service is temporarily unavailable; try again shortly' }, [['retry-after', '5']]),
          );
        }
        options.log?.error({ err: error }, 'dashboard session request failed');
        endResponse(json(500, { error: 'Unexpected error' }));
      }
    },
  };
}

function json(status: number, body: unknown, headers: [string, string][] = []): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: [['content-type', 'application/json; charset=utf-8'], ['cache-control', 'no-store'], ...headers],
  });
}
