import { ConfigError } from '../config.js';
import type { Pool, Sql } from '../db/sql.js';
import type { RetiredSecret } from '../queue/claim.js';
import { decryptSecret, encryptSecret, headersContext, openSealed } from './secrets.js';

/**
 * SECRET_ENCRYPTION_KEY and its rotation. Every webhook keeps sealed (AES-256-GCM, webhooks/
 * secrets.ts): its signing secret, the secrets a rotation retired (retired_secrets) and its
 * custom headers. `keys` below are the current key first, then SECRET_ENCRYPTION_OLD_KEYS.
 */

/**
 * At start: the keys must open this database's secrets (the newest and the oldest webhook's,
 * enough to tell a wrong key from a right one). With a wrong key every delivery would fail
 * as ours; better not to start, saying which setting is wrong.
 */
export async function checkEncryptionKeys(sql: Sql, keys: readonly Buffer[]): Promise<void> {
  const samples = await sql<{ id: string; secretEncrypted: Buffer }[]>`/* webhooks.sealed-samples */
    (select id, secret_encrypted from webhooks order by created_at desc limit 1)
    union all
    (select id, secret_encrypted from webhooks order by created_at limit 1)`;
  for (const { id, secretEncrypted } of samples) {
    try {
      decryptSecret(keys, secretEncrypted, id);
    } catch {
      throw new ConfigError(
        `Invalid configuration: SECRET_ENCRYPTION_KEY cannot open the webhook secrets stored in this database${keys.length > 1 ? ', nor can SECRET_ENCRYPTION_OLD_KEYS' : ''}: start with the key they were sealed with (while rotating, keep the old one in SECRET_ENCRYPTION_OLD_KEYS)`,
      );
    }
  }
}

type SealedRow = {
  id: string;
  secretEncrypted: Buffer;
  headersEncrypted: Buffer | null;
  retiredSecrets: RetiredSecret[];
};

export type ResealReport = {
  /** Webhooks looked at. */
  webhooks: number;
  /** Of those, re-sealed: something of theirs was sealed with an old key. */
  resealed: number;
  /** Webhooks with a value none of the keys opens: left as they are. */
  unopenable: string[];
};

const BATCH = 200;
/** Rounds for a batch whose rows keep changing under it (each re-reads them). */
const ROUNDS = 5;

/**
 * Re-seals every webhook's secret, retired secrets and custom headers under the current key,
 * in batches by id. Safe beside running servers: each row is written only if it still holds
 * what was read (compare-and-set on the sealed bytes), so a rotation or an edit made meanwhile
 * is never overwritten; that row is read again and re-sealed as it now is. Values already
 * under the current key are left alone, so a second run writes nothing.
 */
export async function resealSecrets(sql: Pool, keys: readonly Buffer[], batchSize = BATCH): Promise<ResealReport> {
  const report: ResealReport = { webhooks: 0, resealed: 0, unopenable: [] };
  let after = '';
  for (;;) {
    const rows = await sql<SealedRow[]>`/* webhooks.sealed-batch */
      select id, secret_encrypted, headers_encrypted, retired_secrets from webhooks
      where id > ${after} order by id limit ${batchSize}`;
    const last = rows.at(-1);
    if (!last) return report;
    after = last.id;
    report.webhooks += rows.length;
    let pending = rows;
    for (let round = 1; pending.length > 0; round++) {
      const changes: Resealed[] = [];
      for (const row of pending) {
        const change = reseal(row, keys);
        if (change === 'unopenable') report.unopenable.push(row.id);
        else if (change) changes.push(change);
      }
      const written = await writeIfUnchanged(sql, changes);
      report.resealed += written.size;
      const missed = changes.filter((c) => !written.has(c.id)).map((c) => c.id);
      if (missed.length === 0) break;
      if (round === ROUNDS)
        throw new Error(`webhooks kept changing while being re-sealed (${missed.join(', ')}): run again`);
      // Changed meanwhile (or deleted: then gone from the re-read).
      pending = await sql<SealedRow[]>`/* webhooks.sealed-reread */
        select id, secret_encrypted, headers_encrypted, retired_secrets from webhooks where id = any(${missed}::text[])`;
    }
  }
}

type Resealed = { row: SealedRow; id: string; secret: Buffer; headers: Buffer | null; retired: RetiredSecret[] };

/** The row's values under the current key; undefined when they all are already; 'unopenable' when a key is missing. */
function reseal(row: SealedRow, keys: readonly Buffer[]): Resealed | undefined | 'unopenable' {
  const current = keys[0] as Buffer;
  let changed = false;
  const again = (sealed: Buffer, context: string): Buffer => {
    const { plain, keyIndex } = openSealed(keys, sealed, context);
    if (keyIndex === 0) return sealed;
    changed = true;
    return encryptSecret(current, plain, context);
  };
  try {
    const secret = again(row.secretEncrypted, row.id);
    const headers = row.headersEncrypted && again(row.headersEncrypted, headersContext(row.id));
    const retired = row.retiredSecrets.map((entry) => {
      const sealed = Buffer.from(entry.sealed, 'base64');
      const resealed = again(sealed, row.id);
      return resealed === sealed ? entry : { ...entry, sealed: resealed.toString('base64') };
    });
    return changed ? { row, id: row.id, secret, headers, retired } : undefined;
  } catch {
    return 'unopenable';
  }
}

/** Writes each change whose row still holds what was read; returns the ids written. */
async function writeIfUnchanged(sql: Pool, changes: Resealed[]): Promise<Set<string>> {
  if (changes.length === 0) return new Set();
  const hex = (value: Buffer | null) => value?.toString('hex') ?? null;
  const col = <T>(pick: (c: Resealed) => T) => changes.map(pick);
  const written = await sql<{ id: string }[]>`/* webhooks.reseal */
    update webhooks w
    set secret_encrypted = decode(c.secret, 'hex'), headers_encrypted = decode(c.headers, 'hex'),
      retired_secrets = c.retired::jsonb
    from unnest(${col((c) => c.id)}::text[],
      ${col((c) => hex(c.row.secretEncrypted))}::text[], ${col((c) => hex(c.row.headersEncrypted))}::text[],
      ${col((c) => JSON.stringify(c.row.retiredSecrets))}::text[],
      ${col((c) => hex(c.secret))}::text[], ${col((c) => hex(c.headers))}::text[],
      ${col((c) => JSON.stringify(c.retired))}::text[])
      as c(id, old_secret, old_headers, old_retired, secret, headers, retired)
    where w.id = c.id and w.secret_encrypted = decode(c.old_secret, 'hex')
      and w.headers_encrypted is not distinct from decode(c.old_headers, 'hex')
      and w.retired_secrets = c.old_retired::jsonb
    returning w.id`;
  return new Set(written.map((r) => r.id));
}
