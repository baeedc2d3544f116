import type { ArgBuilder, ObjectRef } from '@pothos/core';
import type { PageKey } from '../db/keyset.js';
import { builder, type Types } from './builder.js';
import { DEFAULT_PAGE_SIZE, decodeCursor, encodeCursor, MAX_PAGE_SIZE, type Pageable, pageSize } from './paging.js';
import type { ReadBudget } from './read-budget.js';

/** Relay-style connections over the keyset pages of db/keyset.ts. */

export type Page<T extends Pageable> = {
  nodes: T[];
  hasNextPage: boolean;
  totalCount: () => Promise<number>;
};

/** The arguments every connection field takes. */
export type PageArgs = { first?: number | null; after?: string | null };

/**
 * Resolves a connection field: reads one row more than asked for, to know whether
 * another page follows; the count runs only if `totalCount` is selected.
 */
export async function resolvePage<T extends Pageable>(
  args: PageArgs,
  budget: ReadBudget,
  fetch: (limit: number, after: PageKey | undefined) => Promise<T[]>,
  totalCount: () => Promise<number>,
): Promise<Page<T>> {
  const first = pageSize(args);
  const rows = await fetch(first + 1, decodeCursor(args.after));
  budget.spend(rows.length);
  return toPage(rows, first, totalCount);
}

/**
 * The same connection under many parents (a page of webhooks, each with its deliveries):
 * one read for all their pages, and one count for all, only if a `totalCount` is selected.
 */
export async function resolvePages<T extends Pageable>(
  parentIds: readonly string[],
  args: PageArgs,
  budget: ReadBudget,
  fetch: (limit: number, after: PageKey | undefined) => Promise<Map<string, T[]>>,
  count: () => Promise<Map<string, number>>,
): Promise<Page<T>[]> {
  const first = pageSize(args);
  const rowsByParent = await fetch(first + 1, decodeCursor(args.after));
  budget.spend([...rowsByParent.values()].reduce((n, rows) => n + rows.length, 0));
  let counts: Promise<Map<string, number>> | undefined;
  return parentIds.map((id) =>
    toPage(rowsByParent.get(id) ?? [], first, async () => {
      counts ??= count();
      return (await counts).get(id) ?? 0;
    }),
  );
}

function toPage<T extends Pageable>(rows: T[], first: number, totalCount: () => Promise<number>): Page<T> {
  return { nodes: rows.slice(0, first), hasNextPage: rows.length > first, totalCount };
}

/** A connection field's cost: everything below it, once per item of the page. */
export const connectionCost = (args: PageArgs) => ({ field: 1, multiplier: pageSize(args) });

type PageInfoShape = { hasNextPage: boolean; startCursor: string | null; endCursor: string | null };

const PageInfo = builder.objectRef<PageInfoShape>('PageInfo').implement({
  description: 'Where this page sits in the whole list.',
  fields: (t) => ({
    hasNextPage: t.exposeBoolean('hasNextPage', { description: 'True when more items follow `endCursor`.' }),
    hasPreviousPage: t.boolean({
      description: 'Always false: these connections page forward only, newest first.',
      resolve: () => false,
    }),
    startCursor: t.exposeString('startCursor', {
      nullable: true,
      description: 'Cursor of the first item of this page.',
    }),
    endCursor: t.exposeString('endCursor', {
      nullable: true,
      description: 'Cursor of the last item of this page; pass it as `after` for the next page.',
    }),
  }),
});

/** Builds `<Name>Connection` and `<Name>Edge` around a node type. */
export function connectionOf<T extends Pageable>(name: string, node: ObjectRef<PothosTypes, T>, noun: string) {
  const Edge = builder.objectRef<T>(`${name}Edge`).implement({
    description: `One ${noun} in a page, with its cursor.`,
    fields: (t) => ({
      cursor: t.string({ description: 'Opaque position of this item; pass it as `after`.', resolve: encodeCursor }),
      node: t.field({ type: node, description: `The ${noun}.`, resolve: (row) => row as never }),
    }),
  });
  return builder.objectRef<Page<T>>(`${name}Connection`).implement({
    description: `A page of ${noun}s, newest first.`,
    fields: (t) => ({
      edges: t.field({
        type: [Edge],
        description: `The ${noun}s of this page.`,
        // The connection field has already multiplied by the page size.
        complexity: { field: 0, multiplier: 1 },
        resolve: (page) => page.nodes,
      }),
      pageInfo: t.field({
        type: PageInfo,
        description: 'Cursors and whether another page follows.',
        complexity: 0,
        resolve: (page) => {
          const first = page.nodes[0];
          const last = page.nodes.at(-1);
          return {
            hasNextPage: page.hasNextPage,
            startCursor: first ? encodeCursor(first) : null,
            endCursor: last ? encodeCursor(last) : null,
          };
        },
      }),
      totalCount: t.int({
        description: `How many ${noun}s match, across all pages. Costs a count: select it only when needed.`,
        complexity: 10,
        resolve: (page) => page.totalCount(),
      }),
    }),
  });
}

/** The `first` and `after` arguments every connection field takes. */
export const pageArgs = (t: ArgBuilder<PothosTypes>) => ({
  first: t.int({
    required: false,
    description: `How many items to return: 1 to ${MAX_PAGE_SIZE}, default ${DEFAULT_PAGE_SIZE}.`,
    validate: {
      min: [1, { message: 'must be at least 1' }],
      max: [MAX_PAGE_SIZE, { message: `must be at most ${MAX_PAGE_SIZE}` }],
    },
  }),
  after: t.string({
    required: false,
    description: 'Return items after this cursor (an `endCursor` from a previous page).',
  }),
});

type PothosTypes = PothosSchemaTypes.ExtendDefaultTypes<Types>;
