import type { TestApp } from '../support/app.js';

export const SESSION_URL = 'http://localhost/dashboard/session';

/** POST /dashboard/session as the dashboard sends it. */
export async function postSession(app: TestApp, body: unknown, headers: Record<string, string> = {}) {
  const text = JSON.stringify(body);
  const response = await app.yoga.fetch(SESSION_URL, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)), ...headers },
    body: text,
  });
  return { status: response.status, headers: response.headers, body: (await response.json()) as Record<string, any> };
}

/** A key's sign-in: the cookie (as a browser would send it back) and the CSRF token. */
export async function signIn(app: TestApp, apiKey: string) {
  const { status, headers, body } = await postSession(app, { apiKey });
  if (status !== 200) throw new Error(`sign-in answered ${status}: ${JSON.stringify(body)}`);
  const setCookie = headers.get('set-cookie') ?? '';
  const cookie = setCookie.split(';')[0] as string;
  return { cookie, csrfToken: body.csrfToken as string, setCookie, body };
}

/** The headers of a cookie session's GraphQL requests. */
export const cookieHeaders = (s: { cookie: string; csrfToken: string }) => ({
  cookie: s.cookie,
  'x-csrf-token': s.csrfToken,
});

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

const CREATE_PORTAL = `mutation($input: CreatePortalSessionInput!) {
  createPortalSession(input: $input) { url expiresAt agentIds capabilities }
}`;

export async function createPortal(app: TestApp, apiKey: string, input: Record<string, unknown>) {
  return app.graphql(CREATE_PORTAL, { apiKey, variables: { input } });
}

/** A portal session made by `apiKey` and redeemed: its bearer token. */
export async function portalSession(app: TestApp, apiKey: string, input: Record<string, unknown>) {
  const created = await createPortal(app, apiKey, input);
  const url = created.data?.createPortalSession?.url as string | undefined;
  if (!url) throw new Error(`createPortalSession: ${JSON.stringify(created.errors)}`);
  const portalToken = new URL(url).hash.replace('#token=', '');
  const redeemed = await postSession(app, { portalToken });
  if (redeemed.status !== 200) throw new Error(`redeem answered ${redeemed.status}`);
  return { token: redeemed.body.sessionToken as string, portalToken, url, redeemed: redeemed.body };
}

export async function countSessions(app: TestApp, workspaceId: string): Promise<number> {
  const [row] = await app.sql<{ count: number }[]>`
    select count(*)::int as count from dashboard_sessions where workspace_id = ${workspaceId}`;
  return row?.count ?? 0;
}
