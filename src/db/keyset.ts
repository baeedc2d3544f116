import type { Sql } from './sql.js';

/**
 * Keyset paging, newest first, on (created_at, id). created_at travels in exact
 * microseconds: a JS Date would round to milliseconds and skip or repeat rows; the id
 * breaks ties. Pages stay stable while rows are inserted or deleted, and page 1,000
 * costs what page 1 does, in either direction.
 */
export type PageKey = { micros: string; id: string };

/**
 * The rows a page read may return, and from which end of the list it reads them: from
 * the newest (`first`, after a cursor) or from the oldest (`last`, before a cursor). The
 * bounds are exclusive unless `orEqual` (a probe asking whether the cursor's own row or
 * anything beyond it is still there). Stores return rows in reading order.
 */
export type PageWindow = {
  olderThan?: PageKey;
  newerThan?: PageKey;
  orEqual?: boolean;
  from: 'newest' | 'oldest';
};

/** Select-list item giving each row its exact created_at, for building its cursor. */
export const pageMicros = (sql: Sql) => sql`(extract(epoch from created_at) * 1000000)::bigint::text as page_micros`;

const position = (sql: Sql, key: PageKey) =>
  sql`(timestamptz 'epoch' + ${key.micros}::bigint * interval '1 microsecond', ${key.id})`;

/** `and (created_at, id) < key …` for the window's bounds, or nothing on an unbounded read. */
export const windowFilter = (sql: Sql, window: PageWindow) => sql`
  ${window.olderThan ? sql`and (created_at, id) ${window.orEqual ? sql`<=` : sql`<`} ${position(sql, window.olderThan)}` : sql``}
  ${window.newerThan ? sql`and (created_at, id) ${window.orEqual ? sql`>=` : sql`>`} ${position(sql, window.newerThan)}` : sql``}`;

/**
 * `created_at desc, id desc`, or ascending when reading from the oldest end: either way
 * the one (…, created_at desc, id desc) index serves it, scanned forwards or backwards.
 * `table` qualifies the columns where a join makes them ambiguous.
 */
export const windowOrder = (sql: Sql, window: PageWindow, table?: string) => {
  const createdAt = table ? sql`${sql(table)}.created_at` : sql`created_at`;
  const id = table ? sql`${sql(table)}.id` : sql`id`;
  return window.from === 'oldest' ? sql`${createdAt}, ${id}` : sql`${createdAt} desc, ${id} desc`;
};
