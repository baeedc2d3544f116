import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  checksumOf,
  isFullyMigrated,
  MIGRATIONS_DIR,
  MigrationError,
  migrate,
  verifyMigrations,
} from '../../src/db/migrate.js';
import type { Pool } from '../../src/db/sql.js';
import { cleanup } from '../support/cleanup.js';
import { createTestDatabase } from '../support/database.js';

/** A migrations folder of its own, and a database whose history starts empty. */
async function scratch(files: Record<string, string>): Promise<{ sql: Pool; dir: string }> {
  const { sql } = await createTestDatabase();
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'migrations-'));
  cleanup(() => fs.rm(dir, { recursive: true, force: true }));
  for (const [name, text] of Object.entries(files)) await fs.writeFile(path.join(dir, name), text);
  await sql`drop table schema_migrations`;
  return { sql, dir };
}

describe('migrations', () => {
  it('are all applied to a fresh database with the checksum of each file, and running again applies nothing', async () => {
    const { sql } = await createTestDatabase();
    expect(await isFullyMigrated(sql)).toBe(true);
    expect(await migrate(sql)).toEqual([]);
    await verifyMigrations(sql);
    const rows = await sql`select version, name, checksum from schema_migrations order by version`;
    const files = (await fs.readdir(MIGRATIONS_DIR)).filter((f) => f.endsWith('.sql')).sort();
    expect(rows.map((r) => `${String(r.version).padStart(4, '0')}_${r.name}.sql`)).toEqual(files);
    for (const [i, file] of files.entries()) {
      expect(rows[i]?.checksum).toBe(checksumOf(await fs.readFile(path.join(MIGRATIONS_DIR, file), 'utf8')));
    }
  });

  it("0026 puts back the claim's index on a database that applied the withdrawn 0025, and changes nothing on any other", async () => {
    const { sql } = await createTestDatabase();
    const repair = await fs.readFile(path.join(MIGRATIONS_DIR, '0026_due_queues_by_webhook_again.sql'), 'utf8');
    const indexDef = async () =>
      (await sql<{ indexdef: string }[]>`select indexdef from pg_indexes where indexname = 'deliveries_due'`)[0]
        ?.indexdef;
    const intended = await indexDef();
    expect(intended).toContain('(webhook_id, next_attempt_at)');
    const oid = async () => (await sql<{ oid: number }[]>`select 'deliveries_due'::regclass::oid as oid`)[0]?.oid;
    const before = await oid();
    await sql.unsafe(repair);
    expect(await oid()).toBe(before);

    // What the withdrawn 0025 left behind.
    await sql.unsafe(`drop index deliveries_due;
      create index deliveries_due on deliveries (workspace_id, webhook_id, next_attempt_at)
        where status = 'pending' and not held and not waiting;`);
    await sql.unsafe(repair);
    expect(await indexDef()).toBe(intended);
  });

  it('apply each file once when several processes start together', async () => {
    // A migration that fails if it runs twice: the second create table would error.
    const { sql, dir } = await scratch({
      '0001_first.sql': 'create table race_a (id int);',
      '0002_second.sql': 'create table race_b (id int); insert into race_b values (1);',
    });
    const results = await Promise.all(Array.from({ length: 5 }, () => migrate(sql, { dir, lockRetryMs: 20 })));
    expect(results.flat().sort()).toEqual(['0001_first.sql', '0002_second.sql']);
    const [row] = await sql`select count(*)::int as n from race_b`;
    expect(row?.n).toBe(1);
  });

  it('roll back a failing file completely, record nothing for it, and name it', async () => {
    const { sql, dir } = await scratch({
      '0001_ok.sql': 'create table good (id int);',
      '0002_broken.sql': 'create table half (id int); select no_such_function();',
    });
    await expect(migrate(sql, { dir })).rejects.toThrow(
      /^Migration 0002_broken\.sql failed: function no_such_function/,
    );
    const [half] = await sql`select to_regclass('half') as t`;
    expect(half?.t).toBeNull();
    expect((await sql`select version from schema_migrations`).map((r) => r.version)).toEqual([1]);
  });

  it('run a file whose first line says no-transaction outside a transaction: CREATE INDEX CONCURRENTLY', async () => {
    const { sql, dir } = await scratch({
      '0001_table.sql':
        'create table big (id int, label text);\ninsert into big select g, g::text from generate_series(1, 1000) g;',
      '0002_index.sql': [
        '-- migrate: no-transaction',
        '-- A failed build leaves an invalid index behind; dropping it first makes the file safe to run again.',
        'drop index concurrently if exists big_label;',
        'create index concurrently big_label on big (label);',
      ].join('\n'),
    });
    expect(await migrate(sql, { dir })).toEqual(['0001_table.sql', '0002_index.sql']);
    const [index] = await sql`
      select i.indisvalid as valid from pg_index i where i.indexrelid = 'big_label'::regclass`;
    expect(index?.valid).toBe(true);
    expect((await sql`select version from schema_migrations order by 1`).map((r) => r.version)).toEqual([1, 2]);
  });

  it('refuse to go on, naming the file, when an applied migration was changed since', async () => {
    const { sql, dir } = await scratch({
      '0001_first.sql': 'create table first (id int);\n',
      '0002_second.sql': 'create table second (id int);\n',
    });
    await migrate(sql, { dir });
    await fs.writeFile(path.join(dir, '0001_first.sql'), 'create table first (id int, added int);');
    await fs.writeFile(path.join(dir, '0003_third.sql'), 'create table third (id int);');
    const changed =
      /^Migration 0001_first\.sql was changed after it was applied \(its checksum differs from the one recorded\): restore the file and put the change in a new migration$/;
    await expect(migrate(sql, { dir })).rejects.toThrow(changed);
    await expect(migrate(sql, { dir })).rejects.toBeInstanceOf(MigrationError);
    await expect(verifyMigrations(sql, dir)).rejects.toThrow(changed);
    // Nothing after the changed file ran.
    expect((await sql`select to_regclass('third') as t`)[0]?.t).toBeNull();
    // Line endings are not a change (a Windows checkout turns LF into CRLF).
    await fs.writeFile(path.join(dir, '0001_first.sql'), 'create table first (id int);\r\n');
    expect(await migrate(sql, { dir })).toEqual(['0003_third.sql']);
  });

  it('record the checksums of migrations applied before checksums existed, then hold them to it', async () => {
    const { sql } = await createTestDatabase();
    await sql`alter table schema_migrations drop column checksum`;
    // Verify writes nothing, so a database that has not been through `migrate` since is behind.
    await expect(verifyMigrations(sql)).rejects.toThrow(
      /^The database is behind: migration 0001_registry\.sql was applied before checksums were recorded;/,
    );
    expect(await migrate(sql)).toEqual([]);
    const [row] = await sql`select count(*)::int as n from schema_migrations where checksum is null`;
    expect(row?.n).toBe(0);
    await verifyMigrations(sql);
  });

  it('verify names the first migration the database lacks, and changes nothing', async () => {
    const { sql } = await createTestDatabase();
    await sql`delete from schema_migrations where version >= 13`;
    await expect(verifyMigrations(sql)).rejects.toThrow(
      "The database is behind: migration 0013_inline_random_id.sql has not been applied; MIGRATIONS=verify applies nothing, so run `migrate` with the owner's DATABASE_URL first",
    );
    const [row] = await sql`select max(version) as v from schema_migrations`;
    expect(row?.v).toBe(10);
    await sql`drop table schema_migrations`;
    await expect(verifyMigrations(sql)).rejects.toThrow(/migration 0001_registry\.sql has not been applied/);
    expect((await sql`select to_regclass('schema_migrations') as t`)[0]?.t).toBeNull();
  });
});
