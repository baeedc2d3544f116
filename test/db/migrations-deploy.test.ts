import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import { describe, expect, inject, it } from 'vitest';
import { createApiKey } from '../../src/auth/api-keys.js';
import { MIGRATION_LOCK, MIGRATIONS_DIR } from '../../src/db/migrate.js';
import { createPool } from '../../src/db/sql.js';
import { createWorkspace } from '../../src/workspaces/store.js';
import { createTestApp } from '../support/app.js';
import { cleanup } from '../support/cleanup.js';
import { withDatabase } from '../support/global-setup.js';
import { PUBLISH, REGISTER, validWebhook } from '../support/operations.js';
import { runCommand, whenReady } from '../support/processes.js';
import { createReceiver, eventually, sleep } from '../support/receiver.js';

const SERVING = /GraphQL API and GraphiQL at http:\/\/localhost:(\d+)\//;

/** `src/main.ts` run to completion: for starts that must refuse. */
function startToExit(env: Record<string, string>) {
  return runCommand(process.execPath, ['--import', 'tsx', 'src/main.ts'], { PORT: '0', LOG_LEVEL: 'info', ...env });
}

async function graphqlAt(base: string, apiKey: string, query: string, variables: Record<string, unknown>) {
  const response = await fetch(`${base}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': apiKey },
    body: JSON.stringify({ query, variables }),
  });
  return (await response.json()) as { data?: any; errors?: unknown[] };
}

describe('migrations as a deploy step', () => {
  it('a role that may only read and write rows starts with MIGRATIONS=verify after `migrate` ran as the owner, and serves and delivers', async () => {
    const adminUrl = inject('adminDatabaseUrl');
    const admin = createPool(adminUrl, { max: 1 });
    const suffix = randomBytes(5).toString('hex');
    const database = `convo_hooks_least_${suffix}`;
    const role = `convo_hooks_runtime_${suffix}`;
    const password = randomBytes(12).toString('hex');
    await admin.unsafe(`create database ${database}`);
    cleanup(async () => {
      await admin.unsafe(`drop database if exists ${database} with (force)`);
      await admin.unsafe(`drop role if exists ${role}`);
      await admin.end();
    });
    const ownerUrl = withDatabase(adminUrl, database);

    // The deploy step, as the owner; it needs no SECRET_ENCRYPTION_KEY.
    const migrated = await runCommand(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'migrate', '--json'], {
      DATABASE_URL: ownerUrl,
      SECRET_ENCRYPTION_KEY: '',
    });
    expect(migrated.stderr).toBe('');
    const files = (await fs.readdir(MIGRATIONS_DIR)).filter((f) => f.endsWith('.sql')).sort();
    expect(JSON.parse(migrated.stdout)).toEqual({ applied: files });

    // The runtime role: rows only, no DDL.
    const owner = createPool(ownerUrl, { max: 1 });
    cleanup(() => owner.end());
    await owner.unsafe(`create role ${role} login password '${password}'`);
    await owner.unsafe(`grant select, insert, update, delete on all tables in schema public to ${role}`);
    await owner.unsafe(`grant usage, select on all sequences in schema public to ${role}`);
    const runtimeUrl = new URL(ownerUrl);
    runtimeUrl.username = role;
    runtimeUrl.password = password;
    const secretKey = randomBytes(32).toString('hex');
    const env = {
      DATABASE_URL: runtimeUrl.toString(),
      SECRET_ENCRYPTION_KEY: secretKey,
      ALLOW_PRIVATE_TARGETS: 'true',
    };

    // Applying at start needs DDL (the history table), which this role may not run.
    const applying = await startToExit(env);
    expect(applying.code).toBe(1);
    expect(applying.stderr.trim()).toBe('Failed to start: permission denied for schema public');

    const workspace = await createWorkspace(owner, 'Least privilege');
    const { apiKey } = await createApiKey(owner, workspace.id);
    const app = await createTestApp();
    const server = app.spawnServer({ ...env, MIGRATIONS: 'verify' }, SERVING);
    const base = await whenReady(server, `http://127.0.0.1:${(await server.started)[1]}`);
    const receiver = await createReceiver();
    const registered = await graphqlAt(base, apiKey, REGISTER, { input: validWebhook({ url: receiver.url }) });
    expect(registered.errors).toBeUndefined();
    const published = await graphqlAt(base, apiKey, PUBLISH, {
      input: { agentId: validWebhook().agentId, type: 'CONVERSATION_ENDED', data: { ok: true } },
    });
    expect(published.errors).toBeUndefined();
    await eventually(async () => receiver.received.length === 1, 15_000);
    expect(JSON.parse(receiver.received[0]?.body ?? '{}').id).toBe(published.data.publishEvent.id);
    server.signal('SIGTERM');
    expect(await server.exited).toBe(0);
  }, 90_000);

  it('MIGRATIONS=verify on a database that is behind refuses to start, naming the first missing migration, and writes nothing', async () => {
    const app = await createTestApp();
    await app.sql`delete from schema_migrations where version >= 14`;
    const run = await startToExit({
      DATABASE_URL: app.db.url,
      SECRET_ENCRYPTION_KEY: app.secretKey.toString('hex'),
      MIGRATIONS: 'verify',
    });
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(
      "The database is behind: migration 0014_time_ordered_ids.sql has not been applied; MIGRATIONS=verify applies nothing, so run `migrate` with the owner's DATABASE_URL first\n",
    );
    const [row] = await app.sql`select max(version) as v from schema_migrations`;
    expect(row?.v).toBe(13);
  }, 60_000);

  it('a migration changed after it was applied stops the server with one line naming the file', async () => {
    const app = await createTestApp();
    // As if 0013's file had been edited since this database ran it.
    await app.sql`update schema_migrations set checksum = ${'0'.repeat(64)} where version = 13`;
    for (const migrations of ['apply', 'verify']) {
      const run = await startToExit({
        DATABASE_URL: app.db.url,
        SECRET_ENCRYPTION_KEY: app.secretKey.toString('hex'),
        MIGRATIONS: migrations,
      });
      expect(run.code).toBe(1);
      expect(run.stderr).toBe(
        'Migration 0013_inline_random_id.sql was changed after it was applied (its checksum differs from the one recorded): restore the file and put the change in a new migration\n',
      );
    }
  }, 60_000);

  it('two instances starting while a third holds the migration lock longer than REQUEST_TIMEOUT_MS wait for it, then start', async () => {
    const app = await createTestApp();
    const holder = await app.sql.reserve();
    await holder`select pg_advisory_lock(${MIGRATION_LOCK})`;
    const servers = [0, 1].map(() => app.spawnServer({ ROLE: 'api', REQUEST_TIMEOUT_MS: '200' }, SERVING));
    let exited = 0;
    for (const server of servers) void server.exited.then(() => exited++);
    for (const server of servers) await server.waitFor(/waiting for another instance to finish its migrations/);
    // Ten statement timeouts' worth: a blocking lock statement would have been cancelled long ago.
    await sleep(2_000);
    expect(exited).toBe(0);
    expect(servers.every((s) => !SERVING.test(s.output()))).toBe(true);

    await holder`select pg_advisory_unlock(${MIGRATION_LOCK})`;
    holder.release();
    for (const server of servers) {
      await whenReady(server, `http://127.0.0.1:${(await server.started)[1]}`);
      expect(server.output()).toMatch(/migration lock acquired after \d+ ms/);
    }
    for (const server of servers) server.signal('SIGTERM');
    for (const server of servers) expect(await server.exited).toBe(0);
  }, 90_000);
});
