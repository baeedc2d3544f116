import type postgres from 'postgres';
import type { Sql } from './sql.js';

/**
 * `select count(*) as count` of the rows `from` (a `table where …` fragment) selects. With
 * `atMost`, the count stops after that many rows (a bounded count): it reads at most that
 * many index entries however many rows match.
 */
export function countRows(sql: Sql, from: postgres.Fragment, atMost?: number): postgres.Fragment {
  return atMost === undefined
    ? sql`select count(*)::int as count from ${from}`
    : sql`select count(*)::int as count from (select 1 from ${from} limit ${atMost}) bounded`;
}
