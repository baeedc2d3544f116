import fs from 'node:fs/promises';
import path from 'node:path';

export class DataDirBusy extends Error {}

/**
 * One server per embedded data directory: a second `npm start` on the same checkout would
 * silently share the first one's database (and deliver with its own settings). The lock is
 * a file naming the owner; one whose process is gone (killed) is taken over.
 * Returns a function that releases it.
 */
export async function lockDataDir(dataDir: string, port: number): Promise<() => Promise<void>> {
  await fs.mkdir(dataDir, { recursive: true });
  const file = path.join(dataDir, 'server.pid');
  const mine = JSON.stringify({ pid: process.pid, port });
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      await fs.writeFile(file, `${mine}\n`, { flag: 'wx' });
      return async () => {
        const current = await fs.readFile(file, 'utf8').catch(() => '');
        if (current.trim() === mine) await fs.rm(file, { force: true });
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
