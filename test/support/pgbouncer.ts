import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { cleanup } from './cleanup.js';
import { pickPort, signalGroup, startProcess, tempDataDir } from './processes.js';

/** Where Debian's package puts it; PATH first. */
function findPgBouncer(): string {
  for (const candidate of ['pgbouncer', '/usr/sbin/pgbouncer']) {
    try {
      execFileSync(candidate, ['--version'], { stdio: 'ignore' });
      return candidate;
    } catch {
      // not this one
    }
  }
  throw new Error(
    'pgbouncer is not installed: these tests need it (Debian: apt-get install -y pgbouncer, as .ci/run does)',
  );
}

/**
 * PgBouncer 1.18 in transaction mode (what managed poolers run) in front of the database
 * of `directUrl`, on a port of 127.0.0.1; stopped when the test file ends. Clients are
 * trusted (a test on loopback); PgBouncer logs in to PostgreSQL with the direct URL's
 * credentials. Answers the same URL with PgBouncer's port.
 */
export async function startPgBouncer(directUrl: string): Promise<{ url: string; port: number }> {
  const binary = findPgBouncer();
  const direct = new URL(directUrl);
  const user = decodeURIComponent(direct.username);
  const dir = await tempDataDir('convo-hooks-pgbouncer-');
  cleanup(() => fs.rm(dir, { recursive: true, force: true }));
  const users = path.join(dir, 'userlist.txt');
  await fs.writeFile(users, `"${user}" ""\n`, { mode: 0o644 });
  // PgBouncer takes no port 0: a random free-looking port, tried again if it is taken.
  for (let attempt = 1; ; attempt++) {
    const port = Number(pickPort());
    const ini = path.join(dir, 'pgbouncer.ini');
    await fs.writeFile(
      ini,
      [
        '[databases]',
        `* = host=${direct.hostname} port=${direct.port} user=${user} password=${decodeURIComponent(direct.password)}`,
        '[pgbouncer]',
        'listen_addr = 127.0.0.1',
        `listen_port = ${port}`,
        'unix_socket_dir =',
        'auth_type = trust',
        `auth_file = ${users}`,
        'pool_mode = transaction',
        'max_client_conn = 500',
        'default_pool_size = 20',
        '',
      ].join('\n'),
      { mode: 0o644 },
    );
    // It refuses to run as root; as root it drops to `nobody`, which Debian always has.
    const asRoot = process.getuid?.() === 0 ? ['-u', 'nobody'] : [];
    const proc = startProcess(binary, [...asRoot, ini], {}, /listening on 127\.0\.0\.1:\d+/, 10_000);
    let exited = false;
    void proc.exited.then(() => {
      exited = true;
    });
    try {
      await proc.started;
    } catch (error) {
      if (attempt < 5 && /Address already in use/.test(proc.output())) continue;
      throw error;
    }
    cleanup(async () => {
      if (exited) return;
      signalGroup(proc.child, 'SIGTERM');
      await proc.exited;
    });
    const pooled = new URL(directUrl);
    pooled.port = String(port);
    return { url: pooled.toString(), port };
  }
}
