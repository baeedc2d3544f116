/** PostgreSQL's deadlock_detected: the other transaction went on; ours may be tried again. */
export const DEADLOCK = '40P01';

/**
 * Runs `work` (a whole transaction of its own, never a statement inside a caller's) again
 * when it fails with one of `codes`: errors another transaction's commit settles, so the
 * next try sees that commit. At most `tries` times in all; the last failure is thrown.
 */
export async function retryRaces<T>(
  work: () => Promise<T>,
  codes: ReadonlySet<string> = new Set([DEADLOCK]),
  tries = 3,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (error) {
      if (!codes.has(String((error as { code?: unknown }).code)) || attempt >= tries) throw error;
    }
  }
}
