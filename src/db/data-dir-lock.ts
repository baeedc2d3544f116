import fs from 'node:fs/promises';
import path from 'node:path';

export class DataDirBusy extends Error {}

/**
 * One server per embedded data directory: a second `npm start` on the same checkout would
 * silently share the first one's database (and deliver with its own settings). The lock is
 * a file naming the owner; one whose process is gone (killed) is taken over.
 */
export async function lockDataDir(dataDir: string, port: number) {
  await fs.mkdir(dataDir, { recursive: true });
  const file = path.join(dataDir, 'server.pid');
  let mine = JSON.stringify({ pid: process.pid, port });
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      await fs.writeFile(file, `${mine}\n`, { flag: 'wx' });
      return {
        /** The port actually listened on (PORT=0 picks one), for the message a rival prints. */
        async recordPort(actual: number) {
          mine = JSON.stringify({ pid: process.pid, port: actual });
          await fs.writeFile(file, `${mine}\n`);
        },
        async release() {
          const current = await fs.readFile(file, 'utf8').catch(() => '');
          if (current.trim() === mine) await fs.rm(file, { force: true });
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const owner = await readOwner(file);
    if (owner && isAlive(owner.pid)) {
      throw new DataDirBusy(
        `Another server (pid ${owner.pid}, port ${owner.port}) is already running on ${dataDir}: stop it, or give this one its own DATA_DIR or a DATABASE_URL`,
      );
    }
    await fs.rm(file, { force: true });
  }
  throw new DataDirBusy(`Could not lock ${dataDir}: another server keeps starting on it`);
}

async function readOwner(file: string): Promise<{ pid: number; port: number } | undefined> {
  try {
    const owner = JSON.parse(await fs.readFile(file, 'utf8')) as { pid?: unknown; port?: unknown };
    return typeof owner.pid === 'number' ? { pid: owner.pid, port: Number(owner.port) } : undefined;
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  if (pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: alive, but another user's.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
