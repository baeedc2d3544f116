import { defaultFieldResolver, type GraphQLFieldMap, type GraphQLFieldResolver, type GraphQLSchema } from 'graphql';
import type { Pool } from '../db/sql.js';
import type { Access, Capability } from '../graphql/access.js';
import { forbidden, notFound } from '../graphql/errors.js';
import { isId } from '../lib/ids.js';

/** What a root field needs: a capability, or an API key itself (or the key's own sign-in). */
type Needs = Capability | 'API_KEY';

/** The row a field acts on, when the caller is limited to some agents: it must be one of theirs. */
type Target = { webhook: string } | { delivery: string } | { agent: string } | null;

type Args = Record<string, unknown>;
type Rule = { needs: Needs; target?: (args: Args) => Target };

const webhookArg =
  (name: string) =>
  (args: Args): Target => {
    const id = args[name];
    return typeof id === 'string' ? { webhook: id } : null;
  };

/**
 * Every Mutation field and what it needs. The schema is checked against this map at start
 * (enforceAccess): a Mutation field without an entry stops the process, so a new field
 * cannot forget it. Fields named here that the schema lacks are ignored (added by other
 * changes: eraseConversation, eraseEvent).
 */
export const MUTATION_RULES: Record<string, Rule> = {
  registerWebhook: {
    needs: 'MANAGE_WEBHOOKS',
    target: (args) => ({ agent: String((args.input as { agentId?: unknown } | undefined)?.agentId ?? '').trim() }),
  },
  updateWebhook: { needs: 'MANAGE_WEBHOOKS', target: webhookArg('id') },
  deleteWebhook: { needs: 'MANAGE_WEBHOOKS', target: webhookArg('id') },
  rotateWebhookSecret: { needs: 'MANAGE_WEBHOOKS', target: webhookArg('id') },
  sendTestEvent: { needs: 'MANAGE_WEBHOOKS', target: webhookArg('webhookId') },
  retryDelivery: {
    needs: 'RETRY',
    target: (args) => (typeof args.id === 'string' ? { delivery: args.id } : null),
  },
  recoverDeliveries: { needs: 'RETRY', target: webhookArg('webhookId') },
  createApiKey: { needs: 'MANAGE_API_KEYS' },
  revokeApiKey: { needs: 'MANAGE_API_KEYS' },
  publishEvent: { needs: 'API_KEY' },
  publishEvents: { needs: 'API_KEY' },
  createPortalSession: { needs: 'API_KEY' },
  eraseConversation: { needs: 'API_KEY' },
  eraseEvent: { needs: 'API_KEY' },
};

/**
 * Query fields that need more than VIEW, or name a row to check. Every other Query and
 * Subscription field is VIEW, which every caller holds, and reads only the caller's agents'
 * rows (the stores filter by `access.agentIds`). deliveryStats' workspace-wide figures
 * must be filtered by the same agents where they are read.
 */
export const QUERY_RULES: Record<string, Rule> = {
  apiKeys: { needs: 'MANAGE_API_KEYS' },
  deliveryStats: { needs: 'VIEW', target: webhookArg('webhookId') },
};

const NEEDS_WORDS: Record<Needs, string> = {
  VIEW: 'VIEW',
  MANAGE_WEBHOOKS: 'the MANAGE_WEBHOOKS capability',
  RETRY: 'the RETRY capability',
  MANAGE_API_KEYS: 'the MANAGE_API_KEYS capability',
  API_KEY: 'an API key (a portal session cannot)',
};

function allows(access: Access, needs: Needs): boolean {
  return needs === 'API_KEY' ? access.kind !== 'portal' : access.capabilities.has(needs);
}

type Guarded = { access?: Access; sql: Pool; workspaceId?: string };

/** Whether the row a field names belongs to one of the caller's agents (one indexed lookup). */
async function targetVisible(ctx: Guarded, agents: readonly string[], target: Exclude<Target, null>) {
  if ('agent' in target) return agents.includes(target.agent);
  const [kind, id] =
    'webhook' in target ? (['webhook', target.webhook] as const) : (['delivery', target.delivery] as const);
  // An id of no such shape is left to the field, which answers it as it answers any unknown id.
  if (!isId(kind, id)) return true;
  const rows =
    kind === 'webhook'
      ? await ctx.sql`/* access.webhook-in-scope */
          select 1 from webhooks
          where workspace_id = ${ctx.workspaceId as string} and id = ${id} and agent_id = any(${agents as string[]}::text[])`
      : await ctx.sql`/* access.delivery-in-scope */
          select 1 from deliveries d join webhooks w on w.id = d.webhook_id
          where d.workspace_id = ${ctx.workspaceId as string} and d.id = ${id}
            and w.agent_id = any(${agents as string[]}::text[])`;
  return rows.length > 0;
}

/**
 * Checks every executed Mutation field (and the Query fields of QUERY_RULES) against the
 * caller's access as it starts, before it does anything: a capability it lacks answers
 * FORBIDDEN (HTTP 403 when it is the only operation); a row of an agent it is not limited
 * to reads as one that does not exist (NOT_FOUND); an agent it is not limited to cannot
 * be registered for (FORBIDDEN). API keys pass without a lookup. However a document
 * spells a field (aliases, fragments), each field that runs is checked.
 */
export function enforceAccess(schema: GraphQLSchema): GraphQLSchema {
  const mutationFields = schema.getMutationType()?.getFields() ?? {};
  const missing = Object.keys(mutationFields).filter((name) => !MUTATION_RULES[name]);
  if (missing.length > 0) {
    throw new Error(`Mutation fields without a capability rule (sessions/capabilities.ts): ${missing.join(', ')}`);
  }
  const guard = (fields: GraphQLFieldMap<unknown, unknown>, rules: Record<string, Rule>) => {
    for (const [name, rule] of Object.entries(rules)) {
      const field = fields[name];
      if (!field) continue;
      const resolve: GraphQLFieldResolver<unknown, Guarded, Args> = field.resolve ?? defaultFieldResolver;
      const guarded: GraphQLFieldResolver<unknown, Guarded, Args> = (source, args, ctx, info) => {
        const access = ctx.access;
        if (!access || access.kind === 'key') return resolve(source, args, ctx, info);
        if (!allows(access, rule.needs)) throw forbidden(`${name} needs ${NEEDS_WORDS[rule.needs]}`);
        const target = access.agentIds ? rule.target?.(args) : null;
        if (!target || !access.agentIds) return resolve(source, args, ctx, info);
        return targetVisible(ctx, access.agentIds, target).then((visible) => {
          if (visible) return resolve(source, args, ctx, info);
          if ('agent' in target) throw forbidden(`${name}: agent "${target.agent}" is outside this session's agents`);
          throw 'webhook' in target ? notFound('webhook', target.webhook) : notFound('delivery', target.delivery);
        });
      };
      field.resolve = guarded as GraphQLFieldResolver<unknown, unknown>;
    }
  };
  guard(mutationFields, MUTATION_RULES);
  guard(schema.getQueryType()?.getFields() ?? {}, QUERY_RULES);
  return schema;
}
