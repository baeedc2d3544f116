import { beforeAll, describe, expect, it } from 'vitest';
import { createApiKey, MAX_ACTIVE_API_KEYS, workspaceForApiKey } from '../src/auth/api-keys.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { runCommand } from './support/processes.js';

let db: TestDatabase;
let env: Record<string, string>;
beforeAll(async () => {
  db = await createTestDatabase();
  env = { DATABASE_URL: db.url, SECRET_ENCRYPTION_KEY: 'cd'.repeat(32) };
});

const cli = (...args: string[]) => runCommand(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], env);

describe('operator CLI against DATABASE_URL', () => {
  it('migrate applies nothing on a migrated database; under MIGRATIONS=verify other commands refuse a database that is behind', async () => {
    const migrated = await cli('migrate');
    expect(migrated).toMatchObject({ code: 0, stdout: 'Nothing to apply: the database is up to date\n', stderr: '' });

    const behind = await createTestDatabase();
    await behind.sql`delete from schema_migrations where version = 15`;
    const refused = await runCommand(
      process.execPath,
      ['--import', 'tsx', 'src/cli.ts', 'create-workspace', '--name', 'Late', '--json'],
      { ...env, DATABASE_URL: behind.url, MIGRATIONS: 'verify' },
    );
    expect(refused.code).toBe(1);
    expect(JSON.parse(refused.stdout).error).toMatch(
      /^The database is behind: migration 0015_repair_attempts_trigger\.sql /,
    );
    const [row] = await behind.sql`select count(*)::int as n from workspaces`;
    expect(row?.n).toBe(0);
  });

  it('creates a workspace and prints one JSON object with its id and a working key', async () => {
    const run = await cli('create-workspace', '--name', 'Acme Voice', '--json');
    expect(run.code).toBe(0);
    const out = JSON.parse(run.stdout);
    expect(Object.keys(out).sort()).toEqual(['apiKey', 'workspaceId']);
    expect(out.workspaceId).toMatch(/^org_[0-9A-Za-z]{16}$/);
    expect(await workspaceForApiKey(db.sql, out.apiKey)).toBe(out.workspaceId);
  });

  it('creates, lists and revokes API keys', async () => {
    const { workspaceId, apiKey: first } = JSON.parse(
      (await cli('create-workspace', '--name', 'Keys', '--json')).stdout,
    );
    const second = JSON.parse((await cli('create-api-key', '--workspace', workspaceId, '--json')).stdout);
    expect(second.workspaceId).toBe(workspaceId);
    expect(second.apiKey).not.toBe(first);

    const { keys } = JSON.parse((await cli('list-api-keys', '--workspace', workspaceId, '--json')).stdout);
    expect(keys).toHaveLength(2);
    for (const key of keys) {
      expect(Object.keys(key).sort()).toEqual(['createdAt', 'id', 'prefix', 'revokedAt']);
      expect(key.revokedAt).toBeNull();
      expect([first, second.apiKey].some((k) => k.startsWith(key.prefix))).toBe(true);
    }
    const listed = JSON.stringify(keys);
    expect(listed).not.toContain(first);
    expect(listed).not.toContain(second.apiKey);

    const target = keys.find((k: { prefix: string }) => first.startsWith(k.prefix));
    expect(JSON.parse((await cli('revoke-api-key', '--id', target.id, '--json')).stdout)).toEqual({ revoked: true });
    expect(await workspaceForApiKey(db.sql, first)).toBeNull();
    expect(await workspaceForApiKey(db.sql, second.apiKey)).toBe(workspaceId);
  });

  it(`create-api-key stops at ${MAX_ACTIVE_API_KEYS} active keys per workspace, with a message naming the limit`, async () => {
    const { workspaceId } = JSON.parse((await cli('create-workspace', '--name', 'Full', '--json')).stdout);
    for (let i = 1; i < MAX_ACTIVE_API_KEYS; i++) await createApiKey(db.sql, workspaceId);
    const run = await cli('create-api-key', '--workspace', workspaceId, '--json');
    expect(run.code).toBe(1);
    expect(JSON.parse(run.stdout).error).toContain(`already has ${MAX_ACTIVE_API_KEYS} active API keys`);
  });

  it('prints human text without --json', async () => {
    const run = await cli('create-workspace', '--name', 'Text');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^Workspace org_\w{16} \(Text\)\nAPI key \(shown once\): chk_\w{40}\n$/);
  });

  it('fails with a clear message and exit code 1 on bad usage', async () => {
    const unknown = await cli('create-api-key', '--workspace', 'org_0000000000000000', '--json');
    expect(unknown.code).toBe(1);
    expect(JSON.parse(unknown.stdout)).toEqual({ error: 'No workspace with id "org_0000000000000000"' });
    const missing = await cli('create-workspace');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('--name');
    const nonsense = await cli('drop-everything');
    expect(nonsense.code).toBe(1);
    expect(nonsense.stderr).toContain('Unknown command "drop-everything"');
    expect(nonsense.stderr).toContain('Usage');
    const option = await cli('list-api-keys', '--bogus');
    expect(option.code).toBe(1);
    expect(option.stderr.split('\n')[0]).toBe("Unknown option '--bogus'");
  });

  it('--help, -h and help print the commands on stdout and exit 0, without touching the database', async () => {
    for (const args of [['--help'], ['-h'], ['help'], ['listen', '--help']]) {
      const run = await runCommand(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], {
        DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none',
      });
      expect(run.code).toBe(0);
      expect(run.stdout).toMatch(/^Usage: npm run cli -- <command>/);
      for (const command of ['create-workspace', 'create-api-key', 'list-api-keys', 'revoke-api-key', 'listen'])
        expect(run.stdout).toContain(command);
    }
  });
});
