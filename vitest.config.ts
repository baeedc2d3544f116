import { createRequire } from 'node:module';
import { defineConfig } from 'vitest/config';

const require = createRequire(import.meta.url);

// `npm test` runs the main suite; `npm run test:browser` (needs Chromium) runs
// test/browser; `npm run test:faults` runs the fault drills in test/faults, one at a time.
const suite = process.env.TEST_SUITE ?? 'main';
const include = {
  main: ['test/**/*.test.ts'],
  browser: ['test/browser/**/*.test.ts'],
  faults: ['test/faults/**/*.test.ts'],
}[suite];

export default defineConfig({
  // Load the same copy of graphql that the server libraries get from Node (its CommonJS
  // build); Vite alone would pick the ESM build, and two copies break instanceof checks.
  resolve: { alias: { graphql: require.resolve('graphql') } },
  test: {
    include,
    exclude: ['node_modules/**', ...(suite === 'main' ? ['test/browser/**', 'test/faults/**'] : [])],
    fileParallelism: suite !== 'faults',
    globalSetup: ['test/support/global-setup.ts'],
    reporters: ['default', './test/support/summary-reporter.ts'],
    pool: 'forks',
    testTimeout: suite === 'faults' ? 300_000 : 20_000,
    hookTimeout: 60_000,
  },
});
