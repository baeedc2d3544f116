import { beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../support/app.js';
import { runCommand, whenReady } from '../support/processes.js';

let app: TestApp;
beforeAll(async () => {
  app = await createTestApp();
});

const WHO = `query { workspace { id } }`;
const CREATE = `mutation { createApiKey { apiKey key { id } } }`;
const REVOKE = `mutation($id: ID!) { revokeApiKey(id: $id) { id revokedAt } }`;

async function graphqlAt(base: string, apiKey: string, query: string, variables?: Record<string, unknown>) {
  const body = JSON.stringify({ query, variables });
  const response = await fetch(`${base}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': apiKey },
    body,
  });
  return { status: response.status, ...((await response.json()) as { data?: any; errors?: any[] }) };
}

/** Polls until every base refuses `apiKey` with 401; returns how long that took. */
async function refusedEverywhere(bases: string[], apiKey: string, deadlineMs = 15_000): Promise<number> {
  const started = performance.now();
  for (;;) {
    const statuses = await Promise.all(bases.map(async (base) => (await graphqlAt(base, apiKey, WHO)).status));
    if (statuses.every((s) => s === 401)) return performance.now() - started;
    if (performance.now() - started > deadlineMs) throw new Error(`still ${statuses} after ${deadlineMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('API keys across instances', () => {
  it('a key revoked through one instance (revokeApiKey) or the CLI is refused by every instance', async () => {
    const servers = [0, 1].map(() =>
      app.spawnServer({ ROLE: 'api', PORT: '0' }, /GraphQL API and GraphiQL at http:\/\/localhost:(\d+)\//),
    );
    try {
      const bases = await Promise.all(
        servers.map(async (server) => whenReady(server, `http://127.0.0.1:${(await server.started)[1]}`)),
      );
      const [one, two] = bases as [string, string];
      const { apiKey, keyId, workspaceId } = await app.newWorkspace();
      const created = await graphqlAt(two, apiKey, CREATE);
      const other = created.data?.createApiKey as { apiKey: string; key: { id: string } };
      // Both keys work on both instances, and are now in both caches, which hear revocations.
      for (const base of bases) {
        for (const key of [apiKey, other.apiKey]) {
          expect((await graphqlAt(base, key, WHO)).data?.workspace.id).toBe(workspaceId);
        }
      }
      for (const server of servers) await server.waitFor(/listening for API key revocations/);
      for (const base of bases) for (const key of [apiKey, other.apiKey]) await graphqlAt(base, key, WHO);

      // Revoked through the first instance, with the very key being revoked.
      const revoked = await graphqlAt(one, apiKey, REVOKE, { id: keyId });
      expect(revoked.errors).toBeUndefined();
      const viaApiMs = await refusedEverywhere(bases, apiKey);
      const refused = await graphqlAt(two, apiKey, WHO);
      expect(refused.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
      for (const base of bases) expect((await graphqlAt(base, other.apiKey, WHO)).status).toBe(200);

      // Revoked by the operator CLI, a process of its own.
      const cli = await runCommand(
        process.execPath,
        ['--import', 'tsx', 'src/cli.ts', 'revoke-api-key', '--id', other.key.id, '--json'],
        {
          DATABASE_URL: app.db.url,
          SECRET_ENCRYPTION_KEY: app.secretKey.toString('hex'),
        },
      );
      expect(cli.code).toBe(0);
      expect(JSON.parse(cli.stdout)).toEqual({ revoked: true });
      const viaCliMs = await refusedEverywhere(bases, other.apiKey);
      process.stdout.write(
        `[key revocation] refused on both instances ${Math.round(viaApiMs)} ms after revokeApiKey, ${Math.round(viaCliMs)} ms after the CLI exited\n`,
      );
      // A graceful stop writes the lastUsedAt each instance still held (the minute's batch).
      for (const server of servers) server.signal('SIGTERM');
      expect(await Promise.all(servers.map((s) => s.exited))).toEqual([0, 0]);
      const rows = await app.sql`select last_used_at from api_keys where workspace_id = ${workspaceId}`;
      expect(rows.map((r) => r.lastUsedAt)).toEqual([expect.any(Date), expect.any(Date)]);
    } finally {
      for (const server of servers) server.signal('SIGTERM');
      await Promise.all(servers.map((s) => s.exited));
    }
  }, 120_000);
});
