import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from './processes.js';

/**
 * The dashboard as `npm run build` makes it, for tests that run the server from source:
 * built with the same vite config into a folder of its own (so a parallel `npm start` or
 * `npm run build` never rebuilds it under a test), and only when web/ changed since.
 */
export const DASHBOARD_TEST_BUILD = path.join(
  os.tmpdir(),
  `convo-hooks-dashboard-${createHash('sha256').update(ROOT).digest('hex').slice(0, 12)}`,
);

const SOURCES = ['web', 'package-lock.json'];

async function newestSource(entry: string): Promise<number> {
  const stat = await fs.stat(entry);
  if (!stat.isDirectory()) return stat.mtimeMs;
  const names = await fs.readdir(entry);
  const times = await Promise.all(names.map((name) => newestSource(path.join(entry, name))));
  return Math.max(stat.mtimeMs, ...times);
}

async function builtAt(): Promise<number> {
  return (await fs.stat(path.join(DASHBOARD_TEST_BUILD, 'index.html')).catch(() => undefined))?.mtimeMs ?? 0;
}

/** Builds the dashboard into DASHBOARD_TEST_BUILD unless it is current; one build at a time across test files. */
export async function ensureDashboardBuilt(): Promise<string> {
  const sources = Math.max(...(await Promise.all(SOURCES.map((s) => newestSource(path.join(ROOT, s))))));
  if ((await builtAt()) > sources) return DASHBOARD_TEST_BUILD;
  const lock = `${DASHBOARD_TEST_BUILD}.lock`;
  for (;;) {
    try {
      await fs.mkdir(lock);
      break;
    } catch {
      const held = await fs.stat(lock).catch(() => undefined);
      // A build takes seconds: a lock older than two minutes was left by a killed run.
      if (held && Date.now() - held.mtimeMs > 120_000) await fs.rm(lock, { recursive: true, force: true });
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
  try {
    if ((await builtAt()) > sources) return DASHBOARD_TEST_BUILD;
    await promisify(execFile)(
      process.execPath,
      [
        path.join(ROOT, 'node_modules/vite/bin/vite.js'),
        'build',
        '--config',
        'web/vite.config.ts',
        '--logLevel',
        'warn',
      ],
      { cwd: ROOT, env: { ...process.env, DASHBOARD_OUT_DIR: DASHBOARD_TEST_BUILD }, timeout: 120_000 },
    );
    return DASHBOARD_TEST_BUILD;
  } finally {
    await fs.rm(lock, { recursive: true, force: true });
  }
}
