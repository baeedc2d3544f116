import { createContextCache } from '@pothos/core';
import DataLoader from 'dataloader';
import { z } from 'zod';
import { findDeliveries } from '../deliveries/store.js';
import { findEvents } from '../events/reads.js';
import { builder, type Context } from '../graphql/builder.js';
import { NodeRef, type NodeShape } from '../graphql/node.js';
import { type IdKind, isId } from '../lib/ids.js';
import { findWebhooks } from '../webhooks/store.js';

export const MAX_NODES = 100;

const KINDS = ['webhook', 'event', 'delivery'] as const satisfies IdKind[];
type NodeKind = (typeof KINDS)[number];

/**
 * Every id Query.node and Query.nodes ask for in one request, loaded together: one
 * statement per type, always within the caller's workspace. An id of no known shape, of
 * another workspace or of nothing at all is null alike, so an answer never tells whether
 * an id exists elsewhere.
 */
const nodeLoader = createContextCache(
  (ctx: Context) =>
    new DataLoader<string, NodeShape | null>(async (ids) => {
      const byKind = new Map<NodeKind, string[]>();
      for (const id of ids) {
        const kind = KINDS.find((kind) => isId(kind, id));
        if (kind) byKind.set(kind, [...(byKind.get(kind) ?? []), id]);
      }
      const find = {
        webhook: (ids: string[]) => findWebhooks(ctx.sql, ctx.workspaceId, ids, ctx.access.agentIds),
        event: (ids: string[]) => findEvents(ctx.sql, ctx.workspaceId, ids, ctx.access.agentIds),
        delivery: (ids: string[]) => findDeliveries(ctx.sql, ctx.workspaceId, ids, ctx.access.agentIds),
      };
      const found = new Map<string, NodeShape>();
      await Promise.all(
        [...byKind].map(async ([kind, ids]) => {
          for (const row of await find[kind](ids)) found.set(row.id, row);
        }),
      );
      ctx.budget.spend(found.size);
      return ids.map((id) => found.get(id) ?? null);
    }),
);

builder.queryFields((t) => ({
  node: t.field({
    type: NodeRef,
    nullable: true,
    description:
      'Anything of your workspace with an id (a Webhook, Event or Delivery), or null when there is none with this id.',
    args: { id: t.arg.id({ required: true, description: 'A global id: "wh_…", "evt_…" or "dlv_…".' }) },
    resolve: (_root, { id }, ctx) => nodeLoader(ctx).load(id),
  }),
  nodes: t.field({
    type: [NodeRef],
    nullable: { list: false, items: true },
    description: `Several nodes at once, in the order asked for: each the object of your workspace with that id, or null when there is none. At most ${MAX_NODES} ids.`,
    args: {
      ids: t.arg.idList({
        required: true,
        description: `Global ids ("wh_…", "evt_…", "dlv_…"), at most ${MAX_NODES}.`,
        validate: { schema: z.array(z.string()).max(MAX_NODES, `must hold at most ${MAX_NODES} ids`) },
      }),
    },
    // Each id is at most one object; what is selected below it counts once per id.
    complexity: (args) => ({ field: 1, multiplier: Math.max(1, Math.min(args.ids.length, MAX_NODES)) }),
    resolve: (_root, { ids }, ctx) => Promise.all(ids.map((id) => nodeLoader(ctx).load(id))),
  }),
}));
