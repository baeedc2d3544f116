import { createHmac, timingSafeEqual } from 'node:crypto';
import type { AuthenticatedKey } from '../auth/api-keys.js';
import type { ApiKeyCache } from '../auth/key-cache.js';
import { type Access, ALL_CAPABILITIES, keyAccess } from '../graphql/access.js';
import { unauthenticated } from '../graphql/errors.js';
import type { SessionCache } from './session-cache.js';
import type { SessionRecord } from './store.js';

/** The HttpOnly cookie a key's sign-in sets over http (docs/dashboard-sessions.md). */
export const SESSION_COOKIE = 'convo_hooks_session';
/**
 * Its name over https: a browser keeps a `__Host-` cookie only if it is Secure, for this host
 * alone and path /, so a page on a sibling subdomain cannot plant or overwrite one.
 */
export const HOST_SESSION_COOKIE = `__Host-${SESSION_COOKIE}`;

/** The scheme a proxy in front says the client used (X-Forwarded-Proto, its first hop). */
export const forwardedProto = (headers: Pick<Headers, 'get'>) =>
  headers.get('x-forwarded-proto')?.split(',')[0]?.trim();

/** Whether the request came over https (directly, or as X-Forwarded-Proto says behind a proxy). */
export function overHttps(request: { url?: string; headers: Pick<Headers, 'get'> }): boolean {
  return forwardedProto(request.headers) === 'https' || (request.url?.startsWith('https:') ?? false);
}

/** Who a request is from: its workspace, its own bucket for rates and streams, and its access. */
export type Caller = { workspaceId: string; apiKeyId: string; access: Access };

/** A session token and how it came: as a bearer token, or in the cookie (with the CSRF header's value). */
export type SessionCredentials =
  | { token: string; via: 'bearer' }
  | { token: string; via: 'cookie'; csrf: string | null };

export function sessionCredentials(request: {
  url?: string;
  headers: Pick<Headers, 'get'>;
}): SessionCredentials | null {
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.get('authorization') ?? '');
  if (bearer?.[1]) return { token: bearer[1], via: 'bearer' };
  // Over https only the `__Host-` cookie counts: a plain one may have been planted.
  const token = cookie(request, overHttps(request) ? HOST_SESSION_COOKIE : SESSION_COOKIE);
  return token ? { token, via: 'cookie', csrf: request.headers.get('x-csrf-token') } : null;
}

function cookie(request: { headers: Pick<Headers, 'get'> }, name: string): string | null {
  for (const part of (request.headers.get('cookie') ?? '').split(';')) {
    const at = part.indexOf('=');
    if (at > 0 && part.slice(0, at).trim() === name) return part.slice(at + 1).trim() || null;
  }
  return null;
}

/**
 * The CSRF token of a cookie session: derived from the session token with the server's
 * secret, so it is never stored and a page can read it again (GET /dashboard/session);
 * a cross-site page can neither read the cookie nor compute this.
 */
export function csrfTokenFor(secretKey: Buffer, sessionToken: string): string {
  return createHmac('sha256', secretKey).update(`csrf ${sessionToken}`).digest('base64url');
}

export function csrfHolds(secretKey: Buffer, sessionToken: string, given: string | null): boolean {
  if (!given) return false;
  const expected = Buffer.from(csrfTokenFor(secretKey, sessionToken));
  const actual = Buffer.from(given.trim());
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

export function sessionAccess(session: SessionRecord): Access {
  return session.kind === 'key'
    ? {
        kind: 'session',
        agentIds: null,
        capabilities: ALL_CAPABILITIES,
        keyId: session.createdByKeyId,
        expiresAt: session.expiresAt,
      }
    : {
        kind: 'portal',
        agentIds: session.agentIds,
        capabilities: new Set(['VIEW', ...session.capabilities]),
        keyId: session.createdByKeyId,
        expiresAt: session.expiresAt,
      };
}

export function sessionCaller(session: SessionRecord): Caller {
  return { workspaceId: session.workspaceId, apiKeyId: session.id, access: sessionAccess(session) };
}

export function keyCaller(key: AuthenticatedKey): Caller {
  return { workspaceId: key.workspaceId, apiKeyId: key.keyId, access: keyAccess(key.keyId) };
}

/**
 * Resolves a request's caller: `X-API-Key`, else a session (`Authorization: Bearer`, or
 * the cookie with its `X-CSRF-Token`). At once when memory decides, else a promise;
 * UNAUTHENTICATED (401) when none holds, LookupsBusy when too many unknown credentials
 * are being looked up at once.
 */
export function createCallerResolver(keys: ApiKeyCache, sessions: SessionCache | undefined, secretKey: Buffer) {
  const fromKey = (key: AuthenticatedKey | null): Caller => {
    if (!key) throw unauthenticated('Invalid or revoked API key');
    return keyCaller(key);
  };
  const fromSession = (session: SessionRecord | null): Caller => {
    if (!session) throw unauthenticated('Invalid, ended or expired dashboard session');
    return sessionCaller(session);
  };
  return (request: Request): Caller | Promise<Caller> => {
    const apiKey = request.headers.get('x-api-key')?.trim();
    if (apiKey) {
      const known = keys.cached(apiKey);
      return known !== undefined ? fromKey(known) : keys.authenticate(apiKey).then(fromKey);
    }
    const credentials = sessions ? sessionCredentials(request) : null;
    if (!sessions || !credentials) throw unauthenticated('Missing X-API-Key header');
    // A cookie comes with every request the browser sends to us, a cross-site one included:
    // only a page that could read the CSRF token (ours) can send it alongside.
    if (credentials.via === 'cookie' && !csrfHolds(secretKey, credentials.token, credentials.csrf)) {
      throw unauthenticated('A session cookie needs its X-CSRF-Token header (from POST or GET /dashboard/session)');
    }
    const session = sessions.authenticate(credentials.token);
    return session instanceof Promise ? session.then(fromSession) : fromSession(session);
  };
}

export type CallerResolver = ReturnType<typeof createCallerResolver>;
