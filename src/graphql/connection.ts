import type { ArgBuilder, ObjectRef } from '@pothos/core';
import type { PageWindow } from '../db/keyset.js';
import { builder, type Types } from './builder.js';
import type { InputIssue } from './errors.js';
import {
  DEFAULT_PAGE_SIZE,
  encodeCursor,
  MAX_PAGE_SIZE,
  type PageArgs,
  type Pageable,
  type PagePlan,
  pageSize,
  planPage,
} from './paging.js';
import type { ReadBudget } from './read-budget.js';

/** Relay-style connections over the keyset pages of db/keyset.ts, paged forwards or backwards. */

export type { PageArgs };

export type Page<T extends Pageable> = {
  /** Newest first, whichever way the client pages. */
  nodes: T[];
  hasNextPage: () => Promise<boolean>;
  hasPreviousPage: () => Promise<boolean>;
  totalCount: () => Promise<number>;
  boundedCount: () => Promise<BoundedCount>;
};

/** A count that stops at BOUNDED_COUNT_LIMIT: exact below it, "1,000+" at it. */
export type BoundedCount = { count: number; exact: boolean };

/**
 * Where `boundedCount` stops counting: a page never waits for a count of more rows than
 * this. 1,000 keeps a count near the cost of the page beside it (about 0.3 ms of index
 * reads); past it, "1,000+" tells a person all a larger exact figure would.
 */
export const BOUNDED_COUNT_LIMIT = 1_000;

/**
 * Counts, exactly (no `atMost`) or no further than `atMost` rows: what a store's count
 * function does with its optional last argument.
 */
export type CountRows<C> = (atMost?: number) => Promise<C>;

/** One more row than the limit is counted, to know whether there are more. */
const toBounded = (counted: number): BoundedCount =>
  counted > BOUNDED_COUNT_LIMIT ? { count: BOUNDED_COUNT_LIMIT, exact: false } : { count: counted, exact: true };

/**
 * Resolves a connection field: reads one row more than asked for, from the end the
 * client pages from, to know whether the list goes on that way. Whether it goes on the
 * other way (past the cursor the client came from) is read only if selected, and so is
 * the count. `issues` are the field's own argument problems, reported with the paging ones.
 */
export async function resolvePage<T extends Pageable>(
  args: PageArgs,
  budget: ReadBudget,
  fetch: (window: PageWindow, limit: number) => Promise<T[]>,
  count: CountRows<number>,
  issues: InputIssue[] = [],
): Promise<Page<T>> {
  const plan = planPage(args, issues);
  const rows = await fetch(plan.window, plan.size + 1);
  budget.spend(rows.length);
  const probe = async (window: PageWindow) => {
    const found = await fetch(window, 1);
    budget.spend(found.length);
    return found.length > 0;
  };
  return toPage(
    rows,
    plan,
    probe,
    () => {
      budget.count();
      return count();
    },
    async () => {
      budget.count();
      return toBounded(await count(BOUNDED_COUNT_LIMIT + 1));
    },
  );
}

/**
 * The same connection under many parents (a page of webhooks, each with its deliveries):
 * one read for all their pages, and one count for all, only if a `totalCount` is selected.
 */
export async function resolvePages<T extends Pageable>(
  parentIds: readonly string[],
  args: PageArgs,
  budget: ReadBudget,
  fetch: (window: PageWindow, limit: number) => Promise<Map<string, T[]>>,
  count: CountRows<Map<string, number>>,
): Promise<Page<T>[]> {
  const plan = planPage(args);
  const rowsByParent = await fetch(plan.window, plan.size + 1);
  budget.spend([...rowsByParent.values()].reduce((n, rows) => n + rows.length, 0));
  let counts: Promise<Map<string, number>> | undefined;
  let boundedCounts: Promise<Map<string, number>> | undefined;
  // One probe for all parents, made for the first parent that asks.
  const probes = new Map<string, Promise<Map<string, T[]>>>();
  const probeAll = (window: PageWindow) => {
    const key = window.olderThan ? 'older' : 'newer';
    let found = probes.get(key);
    if (!found) {
      found = fetch(window, 1).then((rows) => {
        budget.spend(rows.size);
        return rows;
      });
      probes.set(key, found);
    }
    return found;
  };
  return parentIds.map((id) =>
    toPage(
      rowsByParent.get(id) ?? [],
      plan,
      async (window) => ((await probeAll(window)).get(id)?.length ?? 0) > 0,
      async () => {
        // One statement counts for every parent: one of the request's counts.
        counts ??= Promise.resolve().then(() => {
          budget.count();
          return count();
        });
        return (await counts).get(id) ?? 0;
      },
      async () => {
        // The same for bounded counts: one statement, each parent's count stopping at the limit.
        boundedCounts ??= Promise.resolve().then(() => {
          budget.count();
          return count(BOUNDED_COUNT_LIMIT + 1);
        });
        return toBounded((await boundedCounts).get(id) ?? 0);
      },
    ),
  );
}

/**
 * As the Relay specification has it: the direction the client pages in knows from its
 * extra row whether more follow; the other direction says whether anything lies beyond
 * the cursor the client came from (its own row included), and is false without one.
 */
function toPage<T extends Pageable>(
  rows: T[],
  plan: PagePlan,
  probe: (window: PageWindow) => Promise<boolean>,
  totalCount: () => Promise<number>,
  boundedCount: () => Promise<BoundedCount>,
): Page<T> {
  const more = rows.length > plan.size;
  const nodes = rows.slice(0, plan.size);
  if (plan.backwards) nodes.reverse();
  const { after, before } = plan;
  const beyondAfter = once(async () => (after ? probe({ newerThan: after, orEqual: true, from: 'oldest' }) : false));
  const beyondBefore = once(async () => (before ? probe({ olderThan: before, orEqual: true, from: 'newest' }) : false));
  return {
    nodes,
    hasNextPage: plan.backwards ? beyondBefore : async () => more,
    hasPreviousPage: plan.backwards ? async () => more : beyondAfter,
    totalCount,
    boundedCount: once(boundedCount),
  };
}

function once<T>(read: () => Promise<T>): () => Promise<T> {
  let result: Promise<T> | undefined;
  return () => {
    result ??= read();
    return result;
  };
}

/** A connection field's cost: everything below it, once per item of the page. */
export const connectionCost = (args: PageArgs) => ({ field: 1, multiplier: pageSize(args) });

type PageInfoShape = {
  hasNextPage: () => Promise<boolean>;
  hasPreviousPage: () => Promise<boolean>;
  startCursor: string | null;
  endCursor: string | null;
};

const PageInfo = builder.objectRef<PageInfoShape>('PageInfo').implement({
  description: 'Where this page sits in the whole list.',
  fields: (t) => ({
    hasNextPage: t.boolean({
      description:
        'True when more items follow this page (older ones): ask for them with `after: endCursor`. Paging backwards (`last`), true when anything is left from the `before` cursor on.',
      resolve: (info) => info.hasNextPage(),
    }),
    hasPreviousPage: t.boolean({
      description:
        'True when items come before this page (newer ones): ask for them with `last` and `before: startCursor`. Paging forwards (`first`), true when anything is left up to the `after` cursor.',
      resolve: (info) => info.hasPreviousPage(),
    }),
    startCursor: t.exposeString('startCursor', {
      nullable: true,
      description: 'Cursor of the first item of this page; pass it as `before` for the page before.',
    }),
    endCursor: t.exposeString('endCursor', {
      nullable: true,
      description: 'Cursor of the last item of this page; pass it as `after` for the next page.',
    }),
  }),
});

const BoundedCountRef = builder.objectRef<BoundedCount>('BoundedCount').implement({
  description: `A count that stops at ${BOUNDED_COUNT_LIMIT.toLocaleString('en')}, so it costs the same however long the list.`,
  fields: (t) => ({
    count: t.exposeInt('count', {
      description: `How many match, up to ${BOUNDED_COUNT_LIMIT}: exact when \`exact\` is true, else "at least ${BOUNDED_COUNT_LIMIT}".`,
    }),
    exact: t.exposeBoolean('exact', {
      description: `False when more than ${BOUNDED_COUNT_LIMIT} match and \`count\` stopped there.`,
    }),
  }),
});

/** Builds `<Name>Connection` and `<Name>Edge` around a node type. */
export function connectionOf<T extends Pageable>(
  name: string,
  node: ObjectRef<PothosTypes, T>,
  noun: string,
  nouns = `${noun}s`,
) {
  const Edge = builder.objectRef<T>(`${name}Edge`).implement({
    description: `One ${noun} in a page, with its cursor.`,
    fields: (t) => ({
      cursor: t.string({
        description: 'Opaque position of this item; pass it as `after` or `before`.',
        resolve: encodeCursor,
      }),
      node: t.field({ type: node, description: `The ${noun}.`, resolve: (row) => row as never }),
    }),
  });
  return builder.objectRef<Page<T>>(`${name}Connection`).implement({
    description: `A page of ${nouns}, newest first.`,
    fields: (t) => ({
      edges: t.field({
        type: [Edge],
        description: `The ${nouns} of this page.`,
        // The connection field has already multiplied by the page size.
        complexity: { field: 0, multiplier: 1 },
        resolve: (page) => page.nodes,
      }),
      pageInfo: t.field({
        type: PageInfo,
        description: 'Cursors, and whether more items lie on either side of this page.',
        complexity: 0,
        resolve: (page) => {
          const first = page.nodes[0];
          const last = page.nodes.at(-1);
          return {
            hasNextPage: page.hasNextPage,
            hasPreviousPage: page.hasPreviousPage,
            startCursor: first ? encodeCursor(first) : null,
            endCursor: last ? encodeCursor(last) : null,
          };
        },
      }),
      totalCount: t.int({
        description: `How many ${nouns} match, across all pages. Costs a count of every match, which grows with the list: select it only when needed, and prefer \`boundedCount\` for a page (at most 3 counts of either kind per request).`,
        complexity: 10,
        resolve: (page) => page.totalCount(),
      }),
      boundedCount: t.field({
        type: BoundedCountRef,
        description: `How many ${nouns} match, counted no further than ${BOUNDED_COUNT_LIMIT.toLocaleString('en')}: exact below that, else \`count\` ${BOUNDED_COUNT_LIMIT} with \`exact\` false (show "${BOUNDED_COUNT_LIMIT.toLocaleString('en')}+"). Its cost stops growing at ${(BOUNDED_COUNT_LIMIT + 1).toLocaleString('en')} rows, whatever the size of the list; one of the at most 3 counts per request, as \`totalCount\` is.`,
        complexity: 10,
        resolve: (page) => page.boundedCount(),
      }),
    }),
  });
}

const sizeRule = (): { min: [number, { message: string }]; max: [number, { message: string }] } => ({
  min: [1, { message: 'must be at least 1' }],
  max: [MAX_PAGE_SIZE, { message: `must be at most ${MAX_PAGE_SIZE}` }],
});

/** The `first`, `after`, `last` and `before` arguments every connection field takes. */
export const pageArgs = (t: ArgBuilder<PothosTypes>) => ({
  first: t.int({
    required: false,
    description: `How many items to return from the newest end (or after \`after\`): 1 to ${MAX_PAGE_SIZE}, default ${DEFAULT_PAGE_SIZE}. Not with \`last\`.`,
    validate: sizeRule(),
  }),
  after: t.string({
    required: false,
    description: 'Return items after this cursor (an `endCursor` from a previous page).',
  }),
  last: t.int({
    required: false,
    description: `How many items to return from the oldest end (or just before \`before\`), to page backwards: 1 to ${MAX_PAGE_SIZE}. Not with \`first\`.`,
    validate: sizeRule(),
  }),
  before: t.string({
    required: false,
    description: 'Return items before this cursor (a `startCursor` from a later page).',
  }),
});

/** The `since` and `until` arguments of a search, and their problems. */
export const timeRangeArgs = (t: ArgBuilder<PothosTypes>, nouns: string) => ({
  since: t({
    type: 'DateTime',
    required: false,
    description: `Only ${nouns} created at or after this time.`,
  }),
  until: t({
    type: 'DateTime',
    required: false,
    description: `Only ${nouns} created before this time (exclusive).`,
  }),
});

export function timeRangeIssues(range: { since?: Date | null; until?: Date | null }): InputIssue[] {
  return range.since && range.until && range.since > range.until
    ? [{ path: ['since'], message: 'must not be later than until' }]
    : [];
}

type PothosTypes = PothosSchemaTypes.ExtendDefaultTypes<Types>;
