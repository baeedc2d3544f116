import { createHash } from 'node:crypto';
import { API_KEY_REVOKED } from '../db/channels.js';
import type { Sql } from '../db/sql.js';
import { newId, randomBase62 } from '../lib/ids.js';

/** Every key starts with this, so secret scanners and people recognise a leaked one. */
export const API_KEY_PREFIX = 'chk_';
const API_KEY_PATTERN = /^chk_[0-9A-Za-z]{40}$/;

export type ApiKeySummary = { id: string; prefix: string; createdAt: Date; revokedAt: Date | null };

/**
 * Keys are stored only as SHA-256 digests. A key has 238 bits of randomness, so a plain
 * digest (no salt, no slow hash) is enough, and lookup by digest compares no secret
 * bytes in application code: nothing for a timing attack to measure.
 */
function digest(apiKey: string): Buffer {
  return createHash('sha256').update(apiKey).digest();
}

export async function createApiKey(sql: Sql, workspaceId: string): Promise<{ id: string; apiKey: string }> {
  const apiKey = API_KEY_PREFIX + randomBase62(40);
  const id = newId('apiKey');
  await sql`/* api-keys.create */
    insert into api_keys (id, workspace_id, prefix, key_hash)
    values (${id}, ${workspaceId}, ${apiKey.slice(0, API_KEY_PREFIX.length + 6)}, ${digest(apiKey)})`;
  return { id, apiKey };
}

export async function listApiKeys(sql: Sql, workspaceId: string): Promise<ApiKeySummary[]> {
  return sql<ApiKeySummary[]>`/* api-keys.list */
    select id, prefix, created_at, revoked_at from api_keys
    where workspace_id = ${workspaceId} order by created_at desc, id desc`;
}

/**
 * Returns false when no such key exists; revoking twice keeps the first revocation time.
 * Every instance hears of it at commit and ends the key's open subscriptions.
 */
export async function revokeApiKey(sql: Sql, id: string): Promise<boolean> {
  const rows = await sql`/* api-keys.revoke */
    with revoked as (
      update api_keys set revoked_at = coalesce(revoked_at, now()) where id = ${id} returning id
    )
    select pg_notify(${API_KEY_REVOKED}, id) from revoked`;
  return rows.length > 0;
}

/** The live key and its workspace, or null for a malformed, unknown or revoked key. */
export async function authenticateApiKey(
  sql: Sql,
  apiKey: string,
): Promise<{ keyId: string; workspaceId: string } | null> {
  if (!API_KEY_PATTERN.test(apiKey)) return null;
  const [row] = await sql<{ keyId: string; workspaceId: string }[]>`/* api-keys.authenticate */
    select id as key_id, workspace_id from api_keys where key_hash = ${digest(apiKey)} and revoked_at is null`;
  return row ?? null;
}

/** The workspace a live key belongs to, or null. */
export async function workspaceForApiKey(sql: Sql, apiKey: string): Promise<string | null> {
  return (await authenticateApiKey(sql, apiKey))?.workspaceId ?? null;
}
