import { rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const OUT = fileURLToPath(new URL('../dist/dashboard/', import.meta.url));

/**
 * The dashboard, built into dist/dashboard/ beside the server (served by src/dashboard/serve.ts).
 * `emptyOutDir` stays off: tsc writes the server's own dist/dashboard/*.js there too; only
 * the previous build's assets/ are removed. DASHBOARD_OUT_DIR builds elsewhere (tests).
 */
export default defineConfig(({ mode }) => {
  const outDir = process.env.DASHBOARD_OUT_DIR ?? OUT;
  return {
    root: fileURLToPath(new URL('.', import.meta.url)),
    base: '/dashboard/',
    // JSX for Preact without Babel: esbuild compiles it (a few KB of runtime).
    esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
    // graphql-sse's client alone: its package entry also exports the server handler (and graphql-js).
    resolve: {
      alias: { 'graphql-sse': fileURLToPath(new URL('../node_modules/graphql-sse/lib/client.mjs', import.meta.url)) },
    },
    build: {
      outDir,
      emptyOutDir: false,
      assetsDir: 'assets',
      // The strict CSP allows no inline script or style: never inline assets as data: URLs either.
      assetsInlineLimit: 0,
      modulePreload: { polyfill: false },
      sourcemap: false,
      target: 'es2022',
      reportCompressedSize: mode !== 'test',
    },
    plugins: [
      {
        name: 'clear-previous-assets',
        apply: 'build',
        async buildStart() {
          await rm(`${outDir}/assets`, { recursive: true, force: true });
        },
      },
    ],
  };
});
