import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import { createPool, type Pool } from '../../src/db/sql.js';
import { cleanup } from './cleanup.js';
import { withDatabase } from './global-setup.js';

export type TestDatabase = { sql: Pool; url: string; name: string };

/**
 * A fresh database for one test file, cloned from the migrated template and dropped
 * when the file ends. Files never share rows, so they run in parallel.
 */
export async function createTestDatabase(): Promise<TestDatabase> {
  const adminUrl = inject('adminDatabaseUrl');
  const name = `convo_hooks_test_${randomBytes(6).toString('hex')}`;
  const admin = createPool(adminUrl, { max: 1 });
  await admin.unsafe(`create database ${name} template ${inject('templateDatabase')}`);
  const url = withDatabase(adminUrl, name);
  const sql = createPool(url, { max: 8 });
  cleanup(async () => {
    await sql.end({ timeout: 5 });
    await admin.unsafe(`drop database if exists ${name} with (force)`);
    await admin.end();
  });
  return { sql, url, name };
}
