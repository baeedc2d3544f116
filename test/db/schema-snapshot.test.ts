import fs from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { describeSchema, SNAPSHOT_FILE } from '../../scripts/db-schema-snapshot.js';
import { migrate } from '../../src/db/migrate.js';
import { createTestDatabase } from '../support/database.js';

describe('the migrated schema', () => {
  it('is the committed snapshot (npm run db:snapshot regenerates it after a new migration)', async () => {
    const { sql } = await createTestDatabase();
    expect(await describeSchema(sql)).toBe(await fs.readFile(SNAPSHOT_FILE, 'utf8'));
  });

  it('is the same on a database that ran the first version of 0014 (without its trigger), once migrated', async () => {
    const { sql } = await createTestDatabase();
    // What 0014 left before it was edited: attempts deleted by the foreign key's cascade, no
    // trigger; recorded as applied all the same. Its history lacks 0015, the repair.
    await sql.unsafe(`
      drop trigger deliveries_delete_attempts on deliveries;
      drop function delete_attempts_of_deleted_deliveries();
      alter table delivery_attempts add constraint delivery_attempts_delivery_id_fkey
        foreign key (delivery_id) references deliveries (id) on delete cascade;
      delete from schema_migrations where version = 15;
    `);
    expect(await describeSchema(sql)).not.toBe(await fs.readFile(SNAPSHOT_FILE, 'utf8'));

    expect(await migrate(sql)).toContain('0015_repair_attempts_trigger.sql');
    expect(await describeSchema(sql)).toBe(await fs.readFile(SNAPSHOT_FILE, 'utf8'));
  });
});
