import type { PageKey, PageWindow } from '../db/keyset.js';
import { badUserInput, type InputIssue } from './errors.js';

/** Page sizes and cursors of every connection; the cursor encodes a db/keyset.ts PageKey. */

export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 100;

/** A row as stores return it for paging: its own fields plus the exact created_at. */
export type Pageable = { id: string; pageMicros: string };

/** The arguments every connection field takes. */
export type PageArgs = {
  first?: number | null;
  after?: string | null;
  last?: number | null;
  before?: string | null;
};

/**
 * How many items a page holds: what the client asked for, within bounds (also for the
 * cost, which is computed before the arguments are checked: with both `first` and `last`
 * it counts the larger, and the request is refused anyway).
 */
export function pageSize(args: PageArgs): number {
  const asked = Math.max(args.first ?? 0, args.last ?? 0) || DEFAULT_PAGE_SIZE;
  return Math.min(Math.max(asked, 1), MAX_PAGE_SIZE);
}

export function encodeCursor(row: Pageable): string {
  return Buffer.from(`${row.pageMicros}:${row.id}`).toString('base64url');
}

// Up to 16 digits of microseconds since 1970 reaches the year 2286: every created_at we
// write, and nothing that overflows PostgreSQL's bigint or interval arithmetic.
const CURSOR = /^(\d{1,16}):([A-Za-z0-9_]{1,40})$/;

function parseCursor(cursor: string): PageKey | undefined {
  const match = cursor.length <= 100 ? CURSOR.exec(Buffer.from(cursor, 'base64url').toString()) : null;
  return match?.[1] && match[2] ? { micros: match[1], id: match[2] } : undefined;
}

/**
 * What a connection's arguments ask for: the page size, the rows to read (one more than
 * the page, from the end the client pages from) and the cursors. Every problem with the
 * arguments, and any the field adds (`issues`), is reported at once as BAD_USER_INPUT.
 */
export type PagePlan = {
  size: number;
  /** Paging with `last`: rows are read from the oldest end and the page is turned round. */
  backwards: boolean;
  window: PageWindow;
  after?: PageKey;
  before?: PageKey;
};

export function planPage(args: PageArgs, issues: InputIssue[] = []): PagePlan {
  const problems = [...issues];
  if (args.first != null && args.last != null) problems.push({ path: ['last'], message: 'cannot be used with first' });
  const cursor = (name: 'after' | 'before') => {
    const value = args[name];
    if (value == null) return undefined;
    const key = parseCursor(value);
    if (!key) problems.push({ path: [name], message: 'is not a cursor returned by this connection' });
    return key;
  };
  const after = cursor('after');
  const before = cursor('before');
  if (problems.length > 0) throw badUserInput(problems);
  const backwards = args.last != null && args.first == null;
  return {
    size: pageSize(args),
    backwards,
    window: { olderThan: after, newerThan: before, from: backwards ? 'oldest' : 'newest' },
    after,
    before,
  };
}
