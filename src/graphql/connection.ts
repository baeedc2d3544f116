import type { ArgBuilder, ObjectRef } from '@pothos/core';
import type { PageKey } from '../db/keyset.js';
import { builder, type Types } from './builder.js';
import { badUserInput } from './errors.js';

/** Relay-style connections over the keyset pages of db/keyset.ts; a cursor encodes a PageKey. */

/** A row as stores return it for paging: its own fields plus the exact created_at. */
export type Pageable = { id: string; pageMicros: string };

export type Page<T extends Pageable> = {
  nodes: T[];
  hasNextPage: boolean;
  totalCount: () => Promise<number>;
};

export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 100;

export function encodeCursor(row: Pageable): string {
  return Buffer.from(`${row.pageMicros}:${row.id}`).toString('base64url');
}

export function decodeCursor(cursor: string | null | undefined, argName = 'after'): PageKey | undefined {
  if (cursor == null) return undefined;
  const match = /^(\d{1,19}):([A-Za-z0-9_]{1,40})$/.exec(Buffer.from(cursor, 'base64url').toString());
  if (!match?.[1] || !match[2])
    throw badUserInput([{ path: [argName], message: 'is not a cursor returned by this connection' }]);
  return { micros: match[1], id: match[2] };
}

/**
 * Resolves a connection field: reads one row more than asked for, to know whether
 * another page follows; the count runs only if `totalCount` is selected.
 */
export async function resolvePage<T extends Pageable>(
  args: { first?: number | null; after?: string | null },
  fetch: (limit: number, after: PageKey | undefined) => Promise<T[]>,
  totalCount: () => Promise<number>,
): Promise<Page<T>> {
  const first = args.first ?? DEFAULT_PAGE_SIZE;
  const rows = await fetch(first + 1, decodeCursor(args.after));
  return { nodes: rows.slice(0, first), hasNextPage: rows.length > first, totalCount };
}

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
      edges: t.field({ type: [Edge], description: `The ${noun}s of this page.`, resolve: (page) => page.nodes }),
      pageInfo: t.field({
        type: PageInfo,
        description: 'Cursors and whether another page follows.',
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
