import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { isFullyMigrated, MIGRATIONS_DIR, migrate } from '../../src/db/migrate.js';
import { createTestDatabase } from '../support/database.js';

describe('migrations', () => {
  it('are all applied to a fresh database, and running again applies nothing', async () => {
    const { sql } = await createTestDatabase();
    expect(await isFullyMigrated(sql)).toBe(true);
    expect(await migrate(sql)).toEqual([]);
    const rows = await sql`select version, name from schema_migrations order by version`;
    const files = (await fs.readdir(MIGRATIONS_DIR)).filter((f) => f.endsWith('.sql')).sort();
    expect(rows.map((r) => `${String(r.version).padStart(4, '0')}_${r.name}.sql`)).toEqual(files);
  });

  it('apply each file once when several processes start together', async () => {
    const { sql } = await createTestDatabase();
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'migrations-'));
    // A migration that fails if it runs twice: the second create table would error.
    await fs.writeFile(path.join(dir, '0001_first.sql'), 'create table race_a (id int);');
    await fs.writeFile(
      path.join(dir, '0002_second.sql'),
      'create table race_b (id int); insert into race_b values (1);',
    );
    await sql`drop table schema_migrations`;
    const results = await Promise.all(Array.from({ length: 5 }, () => migrate(sql, dir)));
    expect(results.flat().sort()).toEqual([1, 2]);
    const [row] = await sql`select count(*)::int as n from race_b`;
    expect(row?.n).toBe(1);
    await fs.rm(dir, { recursive: true });
  });

  it('roll back a failing file completely and record nothing for it', async () => {
    const { sql } = await createTestDatabase();
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'migrations-'));
    await fs.writeFile(path.join(dir, '0001_ok.sql'), 'create table good (id int);');
    await fs.writeFile(path.join(dir, '0002_broken.sql'), 'create table half (id int); select no_such_function();');
    await sql`drop table schema_migrations`;
    await expect(migrate(sql, dir)).rejects.toThrow();
    const [half] = await sql`select to_regclass('half') as t`;
    expect(half?.t).toBeNull();
    expect((await sql`select version from schema_migrations`).map((r) => r.version)).toEqual([1]);
    await fs.rm(dir, { recursive: true });
  });
});
