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

async function built(): Promise<boolean> {
  return fs.stat(path.join(DASHBOARD_TEST_BUILD, 'index.html')).then(
    () => true,
    () => false,
  );
}

/**
 * Builds the dashboard into DASHBOARD_TEST_BUILD with web/build.mjs (as `npm run build`
 * does, which skips the build when it is newer than web/); one build at a time across test files.
 */
export async function ensureDashboardBuilt(): Promise<string> {
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
    await promisify(execFile)(process.execPath, ['web/build.mjs'], {
      cwd: ROOT,
      env: { ...process.env, DASHBOARD_OUT_DIR: DASHBOARD_TEST_BUILD },
      timeout: 120_000,
    });
    if (!(await built())) throw new Error(`web/build.mjs wrote no ${DASHBOARD_TEST_BUILD}/index.html`);
    return DASHBOARD_TEST_BUILD;
  } finally {
    await fs.rm(lock, { recursive: true, force: true });
  }
}
