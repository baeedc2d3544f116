import { describe, expect, it } from 'vitest';
import { DEADLOCK, retryRaces } from '../../src/db/retry.js';

/** Work that fails with `error` the first `failures` times, then answers how many tries it took. */
function failing(error: object, failures: number) {
  let tries = 0;
  return async () => {
    tries++;
    if (tries <= failures) throw Object.assign(new Error((error as { message?: string }).message ?? 'failed'), error);
    return tries;
  };
}

describe('retryRaces', () => {
  it('tries a deadlock again, and PostgreSQL’s multixact race (XX000) whatever the codes given', async () => {
    expect(await retryRaces(failing({ code: DEADLOCK }, 2))).toBe(3);
    const multixact = { code: 'XX000', message: 'new multixact has more than one updating member: 0 3[1 (keysh)]' };
    expect(await retryRaces(failing(multixact, 1), new Set(['23505']))).toBe(2);
  });

  it('throws any other error at once, and a race after the last try', async () => {
    await expect(retryRaces(failing({ code: 'XX000', message: 'something else' }, 1))).rejects.toThrow(
      'something else',
    );
    await expect(retryRaces(failing({ code: DEADLOCK, message: 'deadlock' }, 3))).rejects.toThrow('deadlock');
  });
});
