import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stopEmbeddedPostgres } from '../src/db/embedded.js';
import { REGISTER, validWebhook } from './support/operations.js';
import { runCommand, startProcess, tempDataDir } from './support/processes.js';

/**
 * What a new user does: `npm start` with no configuration, then a plain HTTP request
 * with the printed key. Runs the real command on an embedded cluster of its own.
 */
describe('npm start on a fresh checkout', () => {
  let dataDir: string;
  afterAll(async () => {
    if (!dataDir) return;
    // A failed run may leave the detached cluster up.
    await stopEmbeddedPostgres(dataDir);
    await fs.rm(dataDir, { recursive: true, force: true });
  });

  const env = () => ({ DATA_DIR: dataDir, PORT: '0', DATABASE_URL: '', SECRET_ENCRYPTION_KEY: '', LOG_LEVEL: 'info' });
  /** Starts `npm start`; returns its port and the dev key it prints (log lines and the banner may interleave). */
  const start = async () => {
    const server = startProcess('npm', ['start'], env(), /GraphiQL at http:\/\/localhost:(\d+)\/graphql/);
    const [, port] = await server.started;
    await server.waitFor(/\n\s+chk_\w{40}\n/);
    const apiKey = /\n\s+(chk_\w{40})\n/.exec(server.output())?.[1] as string;
    return { ...server, port, apiKey };
  };

  it('serves GraphQL and GraphiQL, prints a working dev key, keeps data across restarts, and stops cleanly', async () => {
    dataDir = await tempDataDir('convo-hooks-start-');
    const first = await start();
    const { port, apiKey } = first;
    expect(first.output()).toContain('Created a development workspace');
    expect((await fs.readFile(path.join(dataDir, 'dev-api-key'), 'utf8')).trim()).toBe(apiKey);

    const url = `http://127.0.0.1:${port}/graphql`;
    const registered = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': apiKey as string },
      body: JSON.stringify({ query: REGISTER, variables: { input: validWebhook() } }),
    }).then((r) => r.json());
    expect(registered.data.registerWebhook.secret).toMatch(/^whsec_/);

    const graphiql = await fetch(url, { headers: { accept: 'text/html' } });
    expect(graphiql.status).toBe(200);
    const page = await graphiql.text();
    expect(page).toContain('GraphiQL');
    expect(page).toContain(apiKey);

    // The operator CLI shares the running server's embedded cluster.
    const cli = await runCommand('npm', ['run', 'cli', '--', 'create-workspace', '--name', 'Second', '--json'], env());
    expect(cli.code).toBe(0);
    expect(JSON.parse(cli.stdout).workspaceId).toMatch(/^org_/);

    // The whole process group gets SIGTERM, as from Ctrl-C in a terminal or a process manager.
    first.signal('SIGTERM');
    await first.waitFor(/"msg":"stopped"/);
    await first.exited;
    await expect(fs.access(path.join(dataDir, 'pg', 'postmaster.pid'))).rejects.toThrow();

    const second = await start();
    const { port: port2, apiKey: sameKey } = second;
    expect(sameKey).toBe(apiKey);
    expect(second.output()).not.toContain('Created a development workspace');
    const listed = await fetch(`http://127.0.0.1:${port2}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': apiKey as string },
      body: JSON.stringify({ query: '{ webhooks { totalCount } }' }),
    }).then((r) => r.json());
    expect(listed.data.webhooks.totalCount).toBe(1);
    second.signal('SIGTERM');
    await second.waitFor(/"msg":"stopped"/);
    await second.exited;
  }, 120_000);
});
