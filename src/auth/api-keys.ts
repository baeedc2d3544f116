import { createHash, hash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { API_KEY_REVOKED } from '../db/channels.js';
import type { Pool, Sql } from '../db/sql.js';
import { BASE62, newId, randomBase62 } from '../lib/ids.js';

/** Every key starts with this, so secret scanners and people recognise a leaked one. */
export const API_KEY_PREFIX = 'chk_';
const API_KEY_PATTERN = /^chk_[0-9A-Za-z]{40}$/;

/**
 * Active keys a workspace may hold at once: enough for one per service and a rotation in
 * flight, few enough that a leaked key cannot mint an unbounded number of others.
 */
export const MAX_ACTIVE_API_KEYS = 20;

export type ApiKeySummary = {
  id: string;
  prefix: string;
  createdAt: Date;
  revokedAt: Date | null;
  /** Written in batches (key-usage.ts): may trail the last request by up to a minute. */
  lastUsedAt: Date | null;
};

/** The live key a digest belongs to. */
export type AuthenticatedKey = { keyId: string; workspaceId: string };

const summary = (sql: Sql) => sql`id, prefix, created_at, revoked_at, last_used_at`;

/**
 * Keys are stored only as SHA-256 digests. A key has 202 bits of randomness, so a plain
 * digest (no salt, no slow hash) is enough, and lookup by digest compares no secret
 * bytes in application code: nothing for a timing attack to measure.
 */
export function apiKeyDigest(apiKey: string): Buffer {
  return createHash('sha256').update(apiKey).digest();
}

/** The same digest in hex, in one call (the key cache computes it on every request). */
export function apiKeyDigestHex(apiKey: string): string {
  return hash('sha256', apiKey, 'hex');
}

/** Whether `apiKey` has the shape of a key at all: anything else is refused without a lookup. */
export function isApiKeyShaped(apiKey: string): boolean {
  return API_KEY_PATTERN.test(apiKey);
}

// A key's last characters are a checksum of the rest (CRC-32 in base62, as GitHub's
// tokens carry one): a made-up key is told from a real one without a database lookup.
const CHECKSUM_CHARS = 6;

function checksum(text: string): string {
  let value = crc32(text);
  let digits = '';
  for (let i = 0; i < CHECKSUM_CHARS; i++) {
    digits = BASE62[value % 62] + digits;
    value = Math.floor(value / 62);
  }
  return digits;
}

/**
 * Whether a key-shaped `apiKey` carries a valid checksum. Keys issued before the checksum
 * (about one in 57 billion of them passes by chance) are still valid keys, looked up in a
 * narrower lane (key-cache.ts).
 */
export function hasValidChecksum(apiKey: string): boolean {
  const body = apiKey.slice(0, -CHECKSUM_CHARS);
  return checksum(body) === apiKey.slice(-CHECKSUM_CHARS);
}

/** A new key: the prefix, 34 random base62 characters (202 bits) and their checksum. */
export function generateApiKey(): string {
  const body = API_KEY_PREFIX + randomBase62(40 - CHECKSUM_CHARS);
  return body + checksum(body);
}

async function insertApiKey(sql: Sql, workspaceId: string): Promise<{ apiKey: string; key: ApiKeySummary }> {
  const apiKey = generateApiKey();
  const [key] = await sql<ApiKeySummary[]>`/* api-keys.create */
    insert into api_keys (id, workspace_id, prefix, key_hash)
    values (${newId('apiKey')}, ${workspaceId}, ${apiKey.slice(0, API_KEY_PREFIX.length + 6)}, ${apiKeyDigest(apiKey)})
    returning ${summary(sql)}`;
  return { apiKey, key: key as ApiKeySummary };
}

/** A key for a workspace, whatever it holds already (a new workspace's first key). */
export async function createApiKey(sql: Sql, workspaceId: string): Promise<{ id: string; apiKey: string }> {
  const { apiKey, key } = await insertApiKey(sql, workspaceId);
  return { id: key.id, apiKey };
}

// Creating and revoking a workspace's keys take this lock, so "how many are active" cannot
// change under them: two revocations at once cannot both leave the other as the last one.
// NO KEY UPDATE does not block inserts that merely reference the workspace.
const lockWorkspaceKeys = (sql: Sql, workspaceId: string) =>
  sql`/* api-keys.lock-workspace */ select 1 from workspaces where id = ${workspaceId} for no key update`;

const countActive = async (sql: Sql, workspaceId: string) => {
  const [row] = await sql<{ count: number }[]>`/* api-keys.count-active */
    select count(*)::int as count from api_keys where workspace_id = ${workspaceId} and revoked_at is null`;
  return row?.count ?? 0;
};

/** A new key, or null when the workspace already holds MAX_ACTIVE_API_KEYS active ones. */
export async function createApiKeyWithinLimit(
  sql: Pool,
  workspaceId: string,
): Promise<{ apiKey: string; key: ApiKeySummary } | null> {
  return sql.begin(async (tx) => {
    await lockWorkspaceKeys(tx, workspaceId);
    if ((await countActive(tx, workspaceId)) >= MAX_ACTIVE_API_KEYS) return null;
    return insertApiKey(tx, workspaceId);
  });
}

/** Every key of a workspace, newest first (the CLI's listing). */
export async function listApiKeys(sql: Sql, workspaceId: string): Promise<ApiKeySummary[]> {
  return sql<ApiKeySummary[]>`/* api-keys.list */
    select ${summary(sql)} from api_keys
    where workspace_id = ${workspaceId} order by created_at desc, id desc`;
}

/** Keys listed through the API: every active one, then the most recently created revoked ones. */
export const API_KEYS_LISTED = 100;

/** The active keys and the newest revoked ones, API_KEYS_LISTED at most, newest first. */
export async function listRecentApiKeys(sql: Sql, workspaceId: string): Promise<ApiKeySummary[]> {
  return sql<ApiKeySummary[]>`/* api-keys.list-recent */
    select * from (
      select ${summary(sql)} from api_keys where workspace_id = ${workspaceId}
      order by revoked_at is not null, created_at desc, id desc
      limit ${API_KEYS_LISTED}
    ) k
    order by created_at desc, id desc`;
}

/**
 * Operator revocation (CLI): any key, even a workspace's last. Returns false when no such
 * key exists; revoking twice keeps the first revocation time. Every instance hears of it
 * at commit: it drops the key from its cache and ends the key's open subscriptions.
 */
export async function revokeApiKey(sql: Sql, id: string): Promise<boolean> {
  const rows = await sql`/* api-keys.revoke */
    with revoked as (
      update api_keys set revoked_at = coalesce(revoked_at, now()) where id = ${id} returning id
    )
    select pg_notify(${API_KEY_REVOKED}, id) from revoked`;
  return rows.length > 0;
}

/**
 * A workspace revoking one of its own keys: the key as revoked (idempotent: a revoked one
 * is returned as it is), `not_found` for another workspace's or an unknown id, and
 * `last_active_key` rather than lock the workspace out of its own API.
 */
export async function revokeOwnApiKey(
  sql: Pool,
  workspaceId: string,
  id: string,
): Promise<ApiKeySummary | 'not_found' | 'last_active_key'> {
  return sql.begin(async (tx) => {
    await lockWorkspaceKeys(tx, workspaceId);
    const [key] = await tx<ApiKeySummary[]>`/* api-keys.find */
      select ${summary(tx)} from api_keys where workspace_id = ${workspaceId} and id = ${id}`;
    if (!key) return 'not_found' as const;
    if (key.revokedAt) return key;
    if ((await countActive(tx, workspaceId)) <= 1) return 'last_active_key' as const;
    const [revoked] = await tx<ApiKeySummary[]>`/* api-keys.revoke-own */
      update api_keys set revoked_at = now() where id = ${id} returning ${summary(tx)}`;
    // Delivered at commit, like the revocation itself.
    await tx`/* api-keys.notify-revoked */ select pg_notify(${API_KEY_REVOKED}, ${id})`;
    return revoked as ApiKeySummary;
  });
}

/** The live key with this digest and its workspace, or null for an unknown or revoked one. */
export async function findLiveKey(sql: Sql, digest: Buffer): Promise<AuthenticatedKey | null> {
  const [row] = await sql<AuthenticatedKey[]>`/* api-keys.authenticate */
    select id as key_id, workspace_id from api_keys where key_hash = ${digest} and revoked_at is null`;
  return row ?? null;
}

/** The live key and its workspace, or null for a malformed, unknown or revoked key (no cache). */
export async function authenticateApiKey(sql: Sql, apiKey: string): Promise<AuthenticatedKey | null> {
  return isApiKeyShaped(apiKey) ? findLiveKey(sql, apiKeyDigest(apiKey)) : null;
}

/** The workspace a live key belongs to, or null. */
export async function workspaceForApiKey(sql: Sql, apiKey: string): Promise<string | null> {
  return (await authenticateApiKey(sql, apiKey))?.workspaceId ?? null;
}

/** Records when keys were last used: one statement for a whole batch, never moving a time back. */
export async function recordKeyUse(sql: Sql, uses: ReadonlyMap<string, number>): Promise<void> {
  if (uses.size === 0) return;
  const ids = [...uses.keys()];
  const times = [...uses.values()].map((ms) => new Date(ms).toISOString());
  await sql`/* api-keys.record-use */
    update api_keys k set last_used_at = greatest(k.last_used_at, u.at)
    from unnest(${ids}::text[], ${times}::timestamptz[]) as u(id, at)
    where k.id = u.id`;
}
