import type { PageKey } from '../db/keyset.js';
import { badUserInput } from './errors.js';

/** Page sizes and cursors of every connection; the cursor encodes a db/keyset.ts PageKey. */

export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 100;

/** A row as stores return it for paging: its own fields plus the exact created_at. */
export type Pageable = { id: string; pageMicros: string };

/** How many items a page holds: what the client asked for, within bounds (also for the cost). */
export function pageSize(args: { first?: number | null }): number {
  return Math.min(Math.max(args.first ?? DEFAULT_PAGE_SIZE, 1), MAX_PAGE_SIZE);
}

export function encodeCursor(row: Pageable): string {
  return Buffer.from(`${row.pageMicros}:${row.id}`).toString('base64url');
}

// Up to 16 digits of microseconds since 1970 reaches the year 2286: every created_at we
// write, and nothing that overflows PostgreSQL's bigint or interval arithmetic.
const CURSOR = /^(\d{1,16}):([A-Za-z0-9_]{1,40})$/;

export function decodeCursor(cursor: string | null | undefined, argName = 'after'): PageKey | undefined {
  if (cursor == null) return undefined;
  const match = cursor.length <= 100 ? CURSOR.exec(Buffer.from(cursor, 'base64url').toString()) : null;
  if (!match?.[1] || !match[2])
    throw badUserInput([{ path: [argName], message: 'is not a cursor returned by this connection' }]);
  return { micros: match[1], id: match[2] };
}
