import { stringifyDocument } from '@urql/core';
import { Workspace } from './operations.js';

/**
 * Who the page is signed in as, and the headers that prove it: the one module that knows
 * how the dashboard authenticates (docs/dashboard.md, "Sessions").
 *
 * In order of preference:
 * - a portal link (`/dashboard/portal#token=…`): the one-time token is redeemed at
 *   POST /dashboard/session for a session token, kept in this module's memory only and
 *   sent as `Authorization: Bearer`; the fragment is removed from the address at once;
 * - a server-side session (POST /dashboard/session with the API key): an HttpOnly cookie
 *   the script never sees, plus `X-CSRF-Token` on every request;
 * - a server without those endpoints: the API key itself, held in a variable of this
 *   module (never localStorage, sessionStorage or a cookie) and sent as `X-API-Key`.
 * A reload forgets a key or a portal session; a cookie session survives it.
 */

export type Capability = 'VIEW' | 'MANAGE_WEBHOOKS' | 'RETRY' | 'MANAGE_API_KEYS';
export const ALL_CAPABILITIES: readonly Capability[] = ['VIEW', 'MANAGE_WEBHOOKS', 'RETRY', 'MANAGE_API_KEYS'];

export type Session = {
  kind: 'key' | 'cookie' | 'portal';
  capabilities: ReadonlySet<Capability>;
  /** null: every agent of the workspace. */
  agentIds: readonly string[] | null;
  expiresAt: string | null;
};

export class SignInError extends Error {}

const ENDPOINT = '/dashboard/session';

let current: Session | null = null;
/** The credential, in memory only: an API key, a portal session token or a CSRF token. */
let secret: string | null = null;
const listeners = new Set<(session: Session | null, reason?: string) => void>();

export function getSession(): Session | null {
  return current;
}

export function onSessionChange(listener: (session: Session | null, reason?: string) => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function can(capability: Capability): boolean {
  return current?.capabilities.has(capability) ?? false;
}

/** The headers every GraphQL request (queries, mutations, the SSE stream) carries. */
export function authHeaders(): Record<string, string> {
  if (!current || !secret) return {};
  switch (current.kind) {
    case 'key':
      return { 'x-api-key': secret };
    case 'cookie':
      return { 'x-csrf-token': secret };
    case 'portal':
      return { authorization: `Bearer ${secret}` };
  }
}

/** Whether GraphQL requests must carry the session cookie. */
export function sendsCookie(): boolean {
  return current?.kind === 'cookie';
}

function establish(session: Session | null, credential: string | null, reason?: string) {
  current = session;
  secret = credential;
  for (const listener of listeners) listener(session, reason);
}

type SessionBody = {
  csrfToken?: string;
  sessionToken?: string;
  expiresAt?: string;
  capabilities?: Capability[];
  agentIds?: string[] | null;
};

function fromBody(kind: Session['kind'], body: SessionBody): Session {
  return {
    kind,
    capabilities: new Set<Capability>(['VIEW', ...(body.capabilities ?? [])]),
    agentIds: body.agentIds ?? null,
    expiresAt: body.expiresAt ?? null,
  };
}

async function post(body: object): Promise<Response> {
  return fetch(ENDPOINT, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    credentials: 'same-origin',
  });
}

/** A server without session endpoints answers them as any unknown path: 404 (or 405). */
function noSessionEndpoint(response: Response): boolean {
  return response.status === 404 || response.status === 405;
}

/**
 * At page load: redeems a portal link's token, or resumes a cookie session.
 * Resolves to null when the person has to sign in.
 */
export async function restoreSession(): Promise<Session | null> {
  const token = new URLSearchParams(location.hash.slice(1)).get('token');
  if (token) {
    // Out of the address bar, the history and any later Referer before anything else runs.
    history.replaceState(null, '', `${location.pathname}${location.search}`);
    const response = await post({ portalToken: token });
    if (!response.ok) throw new SignInError('This link has expired or was already used. Ask for a new one.');
    const body = (await response.json()) as SessionBody;
    establish(fromBody('portal', body), body.sessionToken ?? null);
    return current;
  }
  try {
    const response = await fetch(ENDPOINT, { credentials: 'same-origin' });
    if (!response.ok) return null;
    const body = (await response.json()) as SessionBody;
    if (!body.csrfToken) return null;
    establish(fromBody('cookie', body), body.csrfToken);
    return current;
  } catch {
    return null;
  }
}

/** Signs in with an API key; a wrong or revoked key throws SignInError. */
export async function signIn(apiKey: string): Promise<Session> {
  const key = apiKey.trim();
  if (!key) throw new SignInError('Enter an API key (it starts with chk_).');
  const response = await post({ apiKey: key });
  if (response.ok) {
    const body = (await response.json()) as SessionBody;
    establish(fromBody('cookie', body), body.csrfToken ?? null);
    return current as Session;
  }
  if (!noSessionEndpoint(response)) throw await wrongKey(response);

  // No session endpoints on this server: check the key with a query, then keep it in memory.
  const check = await fetch('/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': key },
    body: JSON.stringify({ query: stringifyDocument(Workspace) }),
  });
  const result = (await check.json().catch(() => ({}))) as { data?: unknown; errors?: { message: string }[] };
  if (!check.ok || !result.data) throw await wrongKey(check, result.errors?.[0]?.message);
  establish({ kind: 'key', capabilities: new Set(ALL_CAPABILITIES), agentIds: null, expiresAt: null }, key);
  return current as Session;
}

async function wrongKey(response: Response, message?: string): Promise<SignInError> {
  if (response.status === 401 || response.status === 403) {
    return new SignInError('That API key was not accepted: check it, or create a new one with the CLI.');
  }
  return new SignInError(message ?? `The server answered ${response.status}; try again in a moment.`);
}

/**
 * Ends the session on the server (when there is one there), then forgets it here: once the
 * screen says signed out, the cookie no longer works. `keepalive` lets the request finish
 * should the page close meanwhile.
 */
export async function signOut(): Promise<void> {
  const kind = current?.kind;
  const headers = authHeaders();
  if (kind === 'cookie' || kind === 'portal') {
    await fetch(ENDPOINT, { method: 'DELETE', headers, credentials: 'same-origin', keepalive: true }).catch(
      () => undefined,
    );
  }
  establish(null, null);
}

/** The server no longer accepts the credential (revoked key, expired session). */
export function expire(): void {
  if (current) establish(null, null, 'You were signed out: the key was revoked or the session expired. Sign in again.');
}
