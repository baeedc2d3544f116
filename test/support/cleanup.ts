import { afterAll, expect, onTestFinished } from 'vitest';

/**
 * Runs `release` when the current test ends if called inside a test, or when the file
 * ends if called from a hook. (An afterAll registered inside a test never runs: servers
 * and databases started there were left behind.)
 */
export function cleanup(release: () => unknown): void {
  if (expect.getState().currentTestName !== undefined) onTestFinished(async () => void (await release()));
  else afterAll(async () => void (await release()));
}
