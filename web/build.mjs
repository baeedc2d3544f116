// Builds the dashboard (vite, web/vite.config.ts) unless the last build is newer than
// every source: `npm start` then costs nothing when the page did not change.
// DASHBOARD_OUT_DIR builds elsewhere than dist/dashboard/ (tests); --force always builds.
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';

const root = fileURLToPath(new URL('..', import.meta.url));
const outDir = process.env.DASHBOARD_OUT_DIR ?? path.join(root, 'dist/dashboard');

async function newest(entry) {
  const info = await stat(entry);
  if (!info.isDirectory()) return info.mtimeMs;
  const names = await readdir(entry);
  return Math.max(info.mtimeMs, ...(await Promise.all(names.map((name) => newest(path.join(entry, name))))));
}

const sources = Math.max(await newest(path.join(root, 'web')), await newest(path.join(root, 'package-lock.json')));
const built = await stat(path.join(outDir, 'index.html')).then(
  (info) => info.mtimeMs,
  () => 0,
);
if (built > sources && !process.argv.includes('--force')) {
  console.log(`dashboard: ${path.relative(root, outDir) || outDir} is up to date`);
} else {
  await build({ configFile: path.join(root, 'web/vite.config.ts'), logLevel: 'warn' });
  console.log(`dashboard: built into ${path.relative(root, outDir) || outDir}`);
}
