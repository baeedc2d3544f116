import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { Pool, Sql } from './sql.js';

export const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations/', import.meta.url));

// Any constant works; it only has to be the same in every process of this service.
export const MIGRATION_LOCK = 7_421_903;

/** A first line that lets a file run outside a transaction, as CREATE INDEX CONCURRENTLY must. */
const NO_TRANSACTION = /^--\s*migrate:\s*no-transaction\b/;

/** What stops a start: a migration changed after it was applied, a database behind the code, a file that failed. */
export class MigrationError extends Error {}

type Migration = {
  version: number;
  name: string;
  /** The file name, `0015_repair_attempts_trigger.sql`: what every message names. */
  file: string;
  text: string;
  checksum: string;
  transactional: boolean;
};

type Applied = Map<number, { checksum: string | null }>;

export type MigrateOptions = {
  dir?: string;
  /** Told when this process waits for another one's migrations, and when it goes on. */
  log?: (line: string) => void;
  /** How often a waiting process asks for the lock again. */
  lockRetryMs?: number;
};

async function readMigrations(dir: string): Promise<Migration[]> {
  const files = (await fs.readdir(dir)).filter((f) => /^\d{4}_[\w-]+\.sql$/.test(f)).sort();
  return Promise.all(
    files.map(async (file) => {
      const text = await fs.readFile(path.join(dir, file), 'utf8');
      return {
        version: Number(file.slice(0, 4)),
        name: file.slice(5, -4),
        file,
        text,
        checksum: checksumOf(text),
        transactional: !NO_TRANSACTION.test(text),
      };
    }),
  );
}

/** sha256 of the file; line endings do not count, so a checkout with CRLF is not "changed". */
export function checksumOf(text: string): string {
  return createHash('sha256').update(text.replace(/\r\n/g, '\n')).digest('hex');
}

/**
 * Applies each pending `migrations/NNNN_name.sql` once, in order, each in its own transaction
 * unless its first line is `-- migrate: no-transaction`. One session-level advisory lock
 * serialises processes that start together: the others wait (asking again every
 * `lockRetryMs`, so no statement of theirs waits long enough to meet a statement timeout),
 * then see everything applied and apply nothing. Refuses, naming the file, when a migration
 * applied earlier has changed since. Returns the files it applied.
 */
export async function migrate(sql: Pool, options: MigrateOptions = {}): Promise<string[]> {
  const migrations = await readMigrations(options.dir ?? MIGRATIONS_DIR);
  const session = await sql.reserve();
  try {
    await lockMigrations(session, options);
    try {
      // A migration over a big table may run for minutes; the pool's request timeout is not for it.
      await session`/* migrate.no-timeout */ set statement_timeout = 0`;
      await ensureHistoryTable(session);
      const applied = await readApplied(session);
      await backfillChecksums(session, migrations, applied);
      assertUnchanged(migrations, applied);
      const done: string[] = [];
      for (const migration of migrations) {
        if (applied.has(migration.version)) continue;
        await apply(session, migration);
        done.push(migration.file);
      }
      return done;
    } finally {
      // Unlocked, and back to the connection's own timeout, before it returns to the pool.
      await session`/* migrate.unlock */ select pg_advisory_unlock(${MIGRATION_LOCK})`.catch(() => {});
      await session`/* migrate.timeout */ reset statement_timeout`.catch(() => {});
    }
  } finally {
    session.release();
  }
}

/**
 * For `MIGRATIONS=verify`: reads the history and runs no DDL, so a role that may only read
 * and write rows can start. Refuses, naming the file, when an applied migration has changed
 * or when one has not been applied yet (the first missing one).
 */
export async function verifyMigrations(sql: Sql, dir = MIGRATIONS_DIR): Promise<void> {
  const migrations = await readMigrations(dir);
  const [history] = await sql<{ present: boolean; checksums: boolean }[]>`/* migrate.verify-table */
    select to_regclass('schema_migrations') is not null as present,
           exists (select 1 from information_schema.columns
                   where table_name = 'schema_migrations' and column_name = 'checksum'
                     and table_schema = current_schema()) as checksums`;
  const applied: Applied = history?.present ? await readApplied(sql, history.checksums) : new Map();
  assertUnchanged(migrations, applied);
  const missing = migrations.find((m) => !applied.get(m.version)?.checksum);
  if (missing) {
    const why = applied.has(missing.version) ? 'was applied before checksums were recorded' : 'has not been applied';
    throw new MigrationError(
      `The database is behind: migration ${missing.file} ${why}; MIGRATIONS=verify applies nothing, so run \`migrate\` with the owner's DATABASE_URL first`,
    );
  }
}

/** True when the database answers and every migration file has been applied: what `/ready` reports. */
export async function isFullyMigrated(sql: Sql, dir = MIGRATIONS_DIR): Promise<boolean> {
  const expected = await readMigrations(dir);
  const rows = await sql<{ version: number }[]>`/* migrate.status */ select version from schema_migrations`.catch(
    () => [],
  );
  const have = new Set(rows.map((r) => r.version));
  return expected.every((m) => have.has(m.version));
}

async function lockMigrations(session: Sql, { log, lockRetryMs = 500 }: MigrateOptions): Promise<void> {
  const started = Date.now();
  let toldAt: number | undefined;
  for (;;) {
    const [row] = await session<{ locked: boolean }[]>`/* migrate.lock */
      select pg_try_advisory_lock(${MIGRATION_LOCK}) as locked`;
    if (row?.locked) {
      if (toldAt !== undefined) log?.(`migration lock acquired after ${Date.now() - started} ms`);
      return;
    }
    // Said at once, then every half minute, so a long wait does not look like a hang.
    if (toldAt === undefined || Date.now() - toldAt >= 30_000) {
      toldAt = Date.now();
      log?.('waiting for another instance to finish its migrations (it holds the migration lock)');
    }
    await sleep(lockRetryMs);
  }
}

/** The history table, and its checksum column for a database migrated before checksums were recorded. */
async function ensureHistoryTable(session: Sql): Promise<void> {
  await session`/* migrate.ensure-table */
    create table if not exists schema_migrations (
      version integer primary key,
      name text not null,
      applied_at timestamptz not null default now(),
      checksum text
    )`;
  // Asked first: ALTER TABLE would lock the table that /ready reads, even when it changes nothing.
  const [column] = await session`/* migrate.has-checksum */
    select 1 from information_schema.columns
    where table_name = 'schema_migrations' and column_name = 'checksum' and table_schema = current_schema()`;
  if (!column) await session`/* migrate.add-checksum */ alter table schema_migrations add column checksum text`;
}

async function readApplied(sql: Sql, withChecksums = true): Promise<Applied> {
  const rows = withChecksums
    ? await sql<{ version: number; checksum: string | null }[]>`/* migrate.applied */
        select version, checksum from schema_migrations`
    : await sql<{ version: number; checksum: null }[]>`/* migrate.applied */
        select version, null as checksum from schema_migrations`;
  return new Map(rows.map((r) => [r.version, { checksum: r.checksum }]));
}

/**
 * Rows applied before checksums were recorded take the file as it is now: the only record
 * there is. From then on any change to it is caught.
 */
async function backfillChecksums(session: Sql, migrations: Migration[], applied: Applied): Promise<void> {
  for (const migration of migrations) {
    const row = applied.get(migration.version);
    if (!row || row.checksum) continue;
    await session`/* migrate.backfill-checksum */
      update schema_migrations set checksum = ${migration.checksum} where version = ${migration.version}`;
    row.checksum = migration.checksum;
  }
}

function assertUnchanged(migrations: Migration[], applied: Applied): void {
  const changed = migrations.find((m) => {
    const recorded = applied.get(m.version)?.checksum;
    return recorded && recorded !== m.checksum;
  });
  if (changed) {
    throw new MigrationError(
      `Migration ${changed.file} was changed after it was applied (its checksum differs from the one recorded): restore the file and put the change in a new migration`,
    );
  }
}

async function apply(session: Sql, migration: Migration): Promise<void> {
  const record = () => session`/* migrate.record */
    insert into schema_migrations (version, name, checksum)
    values (${migration.version}, ${migration.name}, ${migration.checksum})`;
  try {
    if (migration.transactional) {
      await session.unsafe('begin');
      try {
        await session.unsafe(migration.text).simple();
        await record();
        await session.unsafe('commit');
      } catch (error) {
        await session.unsafe('rollback').catch(() => {});
        throw error;
      }
    } else {
      // One statement per query: several in one query string would share an implicit
      // transaction, which CREATE INDEX CONCURRENTLY refuses.
      for (const statement of statementsOf(migration.text)) await session.unsafe(statement).simple();
      await record();
    }
  } catch (error) {
    if (error instanceof MigrationError) throw error;
    const reason = error instanceof Error ? error.message : String(error);
    throw new MigrationError(`Migration ${migration.file} failed: ${reason}`);
  }
}

/**
 * The statements of a no-transaction file: split where a line ends with `;`. Such files hold
 * plain statements (index builds), no function bodies.
 */
function statementsOf(text: string): string[] {
  return text
    .split(/;[ \t]*$/m)
    .map((part) => part.trim())
    .filter((part) => part.replace(/^--.*$/gm, '').trim() !== '');
}
