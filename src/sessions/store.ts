import { createHash } from 'node:crypto';
import { API_KEY_REVOKED } from '../db/channels.js';
import type { Pool, Sql } from '../db/sql.js';
import type { Capability } from '../graphql/access.js';
import { base62Time, ID_TIME_CHARS, randomBase62 } from '../lib/ids.js';

/** A session token (cookie or bearer) and a portal session's one-time token: told apart by their prefix. */
export const SESSION_TOKEN_PREFIX = 'chs_';
export const PORTAL_TOKEN_PREFIX = 'chp_';
const TOKEN_CHARS = 43; // 256 bits of base62

/** How long a key's sign-in lasts; signing in again starts a new one. */
export const KEY_SESSION_TTL_SECONDS = 12 * 3600;

export type SessionRecord = {
  id: string;
  workspaceId: string;
  kind: 'key' | 'portal';
  agentIds: string[] | null;
  capabilities: Capability[];
  createdByKeyId: string;
  expiresAt: Date;
};

export type NewSession = {
  workspaceId: string;
  kind: 'key' | 'portal';
  agentIds: string[] | null;
  capabilities: Capability[];
  createdByKeyId: string;
  ttlSeconds: number;
};

/** The workspace already holds DASHBOARD_SESSIONS_PER_WORKSPACE live sessions. */
export class SessionLimitReached extends Error {
  constructor(readonly max: number) {
    super(`at most ${max} live dashboard sessions per workspace`);
  }
}

export function generateToken(prefix: string): string {
  return prefix + randomBase62(TOKEN_CHARS);
}

export function isTokenShaped(token: string, prefix: string): boolean {
  return (
    token.length === prefix.length + TOKEN_CHARS &&
    token.startsWith(prefix) &&
    /^[0-9A-Za-z]+$/.test(token.slice(prefix.length))
  );
}

/** Tokens are random (256 bits): a plain SHA-256 digest is enough, as for API keys (auth/api-keys.ts). */
export function tokenDigest(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

function newSessionId(): string {
  return `ses_${base62Time(Date.now())}${randomBase62(16 - ID_TIME_CHARS)}`;
}

const columns = (sql: Sql) =>
  sql`s.id, s.workspace_id, s.kind, s.agent_ids, s.capabilities, s.created_by_key_id, s.expires_at`;

/**
 * A new session and its token (a session token for a key's sign-in, the one-time token for
 * a portal session), or null when the creating key was revoked meanwhile. Counting and
 * inserting hold the workspace's session lock, so concurrent sign-ins cannot overshoot
 * `max`; ended and expired sessions of the workspace are deleted on the way.
 */
export async function createSession(
  pool: Pool,
  input: NewSession,
  max: number,
): Promise<{ token: string; session: SessionRecord } | null> {
  const token = generateToken(input.kind === 'key' ? SESSION_TOKEN_PREFIX : PORTAL_TOKEN_PREFIX);
  const digest = tokenDigest(token);
  return pool.begin(async (sql) => {
    await sql`/* sessions.lock-workspace */
      select pg_advisory_xact_lock(hashtextextended(${`dashboard_sessions ${input.workspaceId}`}, 0))`;
    await sql`/* sessions.tidy */
      delete from dashboard_sessions
      where workspace_id = ${input.workspaceId} and (ended_at is not null or expires_at <= now())`;
    const [live] = await sql<{ count: number }[]>`/* sessions.count-live */
      select count(*)::int as count from dashboard_sessions where workspace_id = ${input.workspaceId}`;
    if ((live?.count ?? 0) >= max) throw new SessionLimitReached(max);
    const [session] = await sql<SessionRecord[]>`/* sessions.create */
      insert into dashboard_sessions as s
        (id, workspace_id, kind, token_hash, portal_token_hash, agent_ids, capabilities, created_by_key_id, expires_at)
      select ${newSessionId()}, ${input.workspaceId}, ${input.kind},
             ${input.kind === 'key' ? digest : null}, ${input.kind === 'portal' ? digest : null},
             ${input.agentIds}, ${input.capabilities}, ${input.createdByKeyId},
             now() + ${input.ttlSeconds} * interval '1 second'
      where exists (select 1 from api_keys where id = ${input.createdByKeyId} and revoked_at is null)
      returning ${columns(sql)}`;
    return session ? { token, session } : null;
  });
}

/**
 * Spends a portal session's one-time token: the session with a new session token, or null
 * when the token is unknown, already spent, expired, or its session ended. One statement:
 * two redemptions at once cannot both succeed.
 */
export async function redeemPortalToken(
  sql: Sql,
  portalToken: string,
): Promise<{ token: string; session: SessionRecord } | null> {
  const token = generateToken(SESSION_TOKEN_PREFIX);
  const [session] = await sql<SessionRecord[]>`/* sessions.redeem */
    update dashboard_sessions s set token_hash = ${tokenDigest(token)}, redeemed_at = now()
    where portal_token_hash = ${tokenDigest(portalToken)}
      and redeemed_at is null and ended_at is null and expires_at > now()
      and exists (select 1 from api_keys k where k.id = s.created_by_key_id and k.revoked_at is null)
    returning ${columns(sql)}`;
  return session ? { token, session } : null;
}

/** The live session a session token's digest belongs to: not ended, not expired, its key not revoked. */
export async function findLiveSession(sql: Sql, digest: Buffer): Promise<SessionRecord | null> {
  const [session] = await sql<SessionRecord[]>`/* sessions.authenticate */
    select ${columns(sql)} from dashboard_sessions s join api_keys k on k.id = s.created_by_key_id
    where s.token_hash = ${digest} and s.ended_at is null and s.expires_at > now() and k.revoked_at is null`;
  return session ?? null;
}

/**
 * Ends a session (sign-out). Every instance hears it at commit on the revocation channel,
 * forgets the session and ends its open streams, as for a revoked key.
 */
export async function endSession(sql: Sql, id: string): Promise<void> {
  await sql`/* sessions.end */
    with ended as (
      update dashboard_sessions set ended_at = now() where id = ${id} and ended_at is null returning id
    )
    select pg_notify(${API_KEY_REVOKED}, id) from ended`;
}
