import fs from 'node:fs/promises';
import os from 'node:os';
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

  const env = () => ({
    DATA_DIR: dataDir,
    PORT: '0',
    DATABASE_URL: '',
    SECRET_ENCRYPTION_KEY: '',
    LOG_LEVEL: 'info',
    NODE_ENV: 'development',
    HOST: '',
  });
  /** Starts `npm start`; returns its port and the dev key it prints (log lines and the banner may interleave). */
  const start = async () => {
    const server = startProcess('npm', ['start'], env(), /GraphiQL at http:\/\/localhost:(\d+)\/graphql/);
    const [, port] = await server.started;
    await server.waitFor(/\n\s+chk_\w{40}\n/);
    const apiKey = /\n\s+(chk_\w{40})\n/.exec(server.output())?.[1] as string;
    return { ...server, port, apiKey };
  };

  it('serves GraphQL, GraphiQL and the dashboard on loopback, prints a working dev key, refuses a second server on its data, keeps data across restarts, stops cleanly, and mints no key in production', async () => {
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

    // `npm start` built the dashboard too, and serves it with the key nowhere in it.
    const dashboard = await fetch(`http://127.0.0.1:${port}/dashboard`);
    expect(dashboard.status).toBe(200);
    const shell = await dashboard.text();
    expect(shell).toMatch(/<script type="module"[^>]* src="\/dashboard\/assets\/[^"]+\.js"/);
    expect(shell).not.toContain(apiKey);

    // A development server listens on loopback only.
    const external = externalAddress();
    if (external) {
      await expect(fetch(`http://${external}:${port}/health`)).rejects.toThrow();
    }

    // A second server on the same data stops at once, saying which process holds it.
    const rival = await runCommand('npm', ['start', '--silent'], env());
    expect(rival.code).toBe(1);
    expect(rival.stderr.trim()).toMatch(
      new RegExp(
        `^Another server \\(pid \\d+, port ${port}\\) is already running on ${dataDir}: stop it, or give this one its own DATA_DIR or a DATABASE_URL$`,
      ),
    );

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

    // In production the embedded database gets no development workspace and no key.
    await fs.rm(path.join(dataDir, 'dev-api-key'));
    const production = startProcess(
      'npm',
      ['start'],
      { ...env(), NODE_ENV: 'production' },
      /GraphQL API and GraphiQL at/,
    );
    await production.started;
    const productionPage = await (
      await fetch(`http://127.0.0.1:${/"port":(\d+)/.exec(production.output())?.[1]}/graphql`, {
        headers: { accept: 'text/html' },
      })
    ).text();
    expect(productionPage).not.toMatch(/chk_\w{40}/);
    production.signal('SIGTERM');
    await production.waitFor(/"msg":"stopped"/);
    await production.exited;
    expect(production.output()).not.toMatch(/chk_\w{40}|development workspace/i);
    await expect(fs.access(path.join(dataDir, 'dev-api-key'))).rejects.toThrow();
  }, 180_000);
});

/** This machine's first non-loopback IPv4 address, to knock on from outside loopback. */
function externalAddress(): string | undefined {
  return Object.values(os.networkInterfaces())
    .flat()
    .find((a) => a && a.family === 'IPv4' && !a.internal)?.address;
}
