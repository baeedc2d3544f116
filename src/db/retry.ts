/** PostgreSQL's deadlock_detected: the other transaction went on; ours may be tried again. */
export const DEADLOCK = '40P01';

/**
 * PostgreSQL 17 can fail an update of a row share-locked by others, just after another
 * update of it rolled back, with this internal error (XX000): the aborted transaction is
 * already aborted for one check and still running for the next. A moment later it is gone,
 * so it is a race like a deadlock. (Registration no longer writes such a row: migrations/0027.)
 */
function isMultixactRace(error: unknown): boolean {
  const { code, message } = error as { code?: unknown; message?: unknown };
  return code === 'XX000' && String(message).startsWith('new multixact has more than one updating member');
}

/**
 * Runs `work` (a whole transaction of its own, never a statement inside a caller's) again
 * when it fails with one of `codes`, or PostgreSQL's multixact race: errors another
 * transaction's end settles, so the next try sees it. At most `tries` times in all; the
 * last failure is thrown.
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
      const race = codes.has(String((error as { code?: unknown }).code)) || isMultixactRace(error);
      if (!race || attempt >= tries) throw error;
    }
  }
}
