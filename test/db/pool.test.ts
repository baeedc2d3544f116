import { describe, expect, it, vi } from 'vitest';
import { createPool } from '../../src/db/sql.js';
import { cleanup } from '../support/cleanup.js';
import { createTestDatabase } from '../support/database.js';

describe('the connection pool', () => {
  it('asks for the array types once, and every connection it opens later still reads and sends arrays', async () => {
    const db = await createTestDatabase();
    const sql = createPool(db.url, { max: 6 });
    cleanup(() => sql.end({ timeout: 1 }));
    // The pool's own first query asks; this one may run beside it on a second connection.
    await sql`select 1`;
    await vi.waitFor(() => expect(sql.options.fetch_types).toBe(false));

    // Six at once, each holding its connection a moment: the pool opens the rest of its six
    // now, and none of those asks for the types.
    const rows = await Promise.all(
      Array.from(
        { length: 6 },
        (_, i) =>
          sql<{ pid: number; names: string[]; counts: number[]; echoed: string[] }[]>`
            select pg_backend_pid() as pid, array['a', 'b,c']::text[] as names, array[${i}, 2]::int[] as counts,
              ${['x', `y${i}`]}::text[] as echoed, pg_sleep(0.05)`,
      ),
    );
    expect(new Set(rows.map(([row]) => row?.pid)).size).toBe(6);
    rows.forEach(([row], i) => {
      expect(row?.names).toEqual(['a', 'b,c']);
      expect(row?.counts).toEqual([i, 2]);
      expect(row?.echoed).toEqual(['x', `y${i}`]);
    });
  });
});
