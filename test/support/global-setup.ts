import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres } from '../../src/db/embedded.js';
import { migrate } from '../../src/db/migrate.js';
import { createPool } from '../../src/db/sql.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Superuser URL of the test cluster's maintenance database. */
    adminDatabaseUrl: string;
    /** A migrated database that each test file clones. */
    templateDatabase: string;
    /** DATA_DIR of the embedded test cluster ('' with TEST_DATABASE_URL): drills restart it. */
    embeddedDataDir: string;
  }
}

/**
 * One PostgreSQL for the whole run: TEST_DATABASE_URL when set, otherwise a throwaway
 * embedded cluster (durability off: it only has to be fast). Migrations run once into a
 * template database; each test file clones it, which takes milliseconds.
 */
export default async function setup(project: TestProject) {
  let adminUrl = process.env.TEST_DATABASE_URL;
  let stopCluster = async () => {};
  let dataDir: string | undefined;
  if (!adminUrl) {
    dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'convo-hooks-test-'));
    await fs.chmod(dataDir, 0o755);
    const cluster = await startEmbeddedPostgres({ dataDir, settings: TEST_CLUSTER_SETTINGS });
    adminUrl = cluster.url;
    stopCluster = cluster.stop;
  }

  const templateDatabase = `convo_hooks_template_${process.pid}`;
  const admin = createPool(adminUrl, { max: 1 });
  await admin.unsafe(`drop database if exists ${templateDatabase} with (force)`);
  await admin.unsafe(`create database ${templateDatabase}`);
  const template = createPool(withDatabase(adminUrl, templateDatabase), { max: 1 });
  await migrate(template);
  await template.end();

  project.provide('adminDatabaseUrl', adminUrl);
  project.provide('templateDatabase', templateDatabase);
  project.provide('embeddedDataDir', dataDir ?? '');
  // The drills run the server as a user would: the built entry point.
  if (process.env.TEST_SUITE === 'faults') execFileSync('npm', ['run', 'build'], { stdio: 'inherit' });

  return async () => {
    await admin.unsafe(`drop database if exists ${templateDatabase} with (force)`).catch(() => {});
    await admin.end();
    await stopCluster();
    if (dataDir) await fs.rm(dataDir, { recursive: true, force: true });
  };
}

/** Durability off: a test cluster only has to be fast. */
export const TEST_CLUSTER_SETTINGS = {
  fsync: 'off',
  synchronous_commit: 'off',
  full_page_writes: 'off',
  max_connections: '300',
};

export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}
