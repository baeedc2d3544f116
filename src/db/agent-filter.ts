import type { Sql } from './sql.js';

/** Which agents' rows a read may return (a portal session's agents); null: every agent (no filter at all). */
export type AgentScope = readonly string[] | null | undefined;

/** `and agent_id = any(…)` for rows that carry their agent (webhooks, events); nothing when unscoped. */
export function agentFilter(sql: Sql, agents: AgentScope, column = 'agent_id') {
  return agents ? sql`and ${sql(column)} = any(${agents as string[]}::text[])` : sql``;
}

/** The same for deliveries, which belong to the agent of the webhook they go to. */
export function deliveryAgentFilter(sql: Sql, workspaceId: string, agents: AgentScope) {
  return agents
    ? sql`and webhook_id in (
        select id from webhooks where workspace_id = ${workspaceId} and agent_id = any(${agents as string[]}::text[]))`
    : sql``;
}
