import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Pool, Sql } from './sql.js';

export const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations/', import.meta.url));

// Any constant works; it only has to be the same in every process of this service.
const MIGRATION_LOCK = 7_421_903;

type Migration = { version: number; name: string; file: string };

async function listMigrations(dir: string): Promise<Migration[]> {
  const files = (await fs.readdir(dir)).filter((f) => /^\d{4}_[\w-]+\.sql$/.test(f)).sort();
  return files.map((file) => ({
    version: Number(file.slice(0, 4)),
    name: file.slice(5, -4),
    file: path.join(dir, file),
  }));
}

/**
 * Applies each pending `migrations/NNNN_name.sql` once, in order, each in its own
 * transaction. A transaction-scoped advisory lock serialises processes that start at the
 * same moment: the second waits, then sees the version recorded and skips it.
 */
export async function migrate(sql: Pool, dir = MIGRATIONS_DIR): Promise<number[]> {
  const applied: number[] = [];
  for (const migration of await listMigrations(dir)) {
    const text = await fs.readFile(migration.file, 'utf8');
    const ran = await sql.begin(async (tx) => {
      await tx`/* migrate.lock */ select pg_advisory_xact_lock(${MIGRATION_LOCK})`;
      // A migration over a big table may run for minutes; the pool's request timeout is not for it.
      await tx`/* migrate.no-timeout */ set local statement_timeout = 0`;
      await tx`/* migrate.ensure-table */
        create table if not exists schema_migrations (
          version integer primary key,
          name text not null,
          applied_at timestamptz not null default now()
        )`;
      const [done] = await tx`/* migrate.check */ select 1 from schema_migrations where version = ${migration.version}`;
      if (done) return false;
      await tx.unsafe(text).simple();
      await tx`/* migrate.record */ insert into schema_migrations (version, name) values (${migration.version}, ${migration.name})`;
      return true;
    });
    if (ran) applied.push(migration.version);
  }
  return applied;
}

/** True when the database answers and every migration file has been applied: what `/ready` reports. */
export async function isFullyMigrated(sql: Sql, dir = MIGRATIONS_DIR): Promise<boolean> {
  const expected = await listMigrations(dir);
  const rows = await sql<{ version: number }[]>`/* migrate.status */ select version from schema_migrations`.catch(
    () => [],
  );
  const have = new Set(rows.map((r) => r.version));
  return expected.every((m) => have.has(m.version));
}
