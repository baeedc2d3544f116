import type { Sql } from './sql.js';

/**
 * Keyset paging, newest first, on (created_at, id). created_at travels in exact
 * microseconds: a JS Date would round to milliseconds and skip or repeat rows; the id
 * breaks ties. Pages stay stable while rows are inserted or deleted, and page 1,000
 * costs what page 1 does.
 */
export type PageKey = { micros: string; id: string };

/** Select-list item giving each row its exact created_at, for building its cursor. */
export const pageMicros = (sql: Sql) => sql`(extract(epoch from created_at) * 1000000)::bigint::text as page_micros`;

/** `and (created_at, id) < key`, or nothing on the first page. */
export const afterKey = (sql: Sql, after: PageKey | undefined) =>
  after
    ? sql`and (created_at, id) < (timestamptz 'epoch' + ${after.micros}::bigint * interval '1 microsecond', ${after.id})`
    : sql``;
