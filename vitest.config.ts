import { createRequire } from 'node:module';
import { defineConfig } from 'vitest/config';

const require = createRequire(import.meta.url);

// `npm test` runs the main suite; `npm run test:browser` (needs Chromium) runs test/browser.
const browser = process.env.TEST_SUITE === 'browser';

export default defineConfig({
  // Load the same copy of graphql that the server libraries get from Node (its CommonJS
  // build); Vite alone would pick the ESM build, and two copies break instanceof checks.
  resolve: { alias: { graphql: require.resolve('graphql') } },
  test: {
    include: browser ? ['test/browser/**/*.test.ts'] : ['test/**/*.test.ts'],
    exclude: ['test/bench/**', 'test/faults/**', 'node_modules/**', ...(browser ? [] : ['test/browser/**'])],
    globalSetup: ['test/support/global-setup.ts'],
    reporters: ['default', './test/support/summary-reporter.ts'],
    pool: 'forks',
    testTimeout: 20_000,
    hookTimeout: 60_000,
  },
});
