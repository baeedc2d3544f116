import { type AgentScope, agentFilter } from '../db/agent-filter.js';
import { DELIVERIES_DUE } from '../db/channels.js';
import { countRows } from '../db/count.js';
import { type PageWindow, pageMicros, windowFilter, windowOrder } from '../db/keyset.js';
import { retryRaces } from '../db/retry.js';
import type { Pool, Sql } from '../db/sql.js';
import { newId } from '../lib/ids.js';
import { compileConditions, type DataCondition } from './conditions.js';
import type { WebhookEventType } from './event-types.js';
import { encryptSecret, generateSigningSecret, sealHeaders, type WebhookHeader } from './secrets.js';

/** A webhook as every read returns it. The sealed secret is never selected here. */
export type Webhook = {
  id: string;
  workspaceId: string;
  name: string;
  agentId: string;
  url: string;
  events: WebhookEventType[];
  active: boolean;
  disabledReason: string | null;
  /** Deliveries per second at most, across every worker; null: unlimited. */
  rateLimitPerSecond: number | null;
  /** 'conversation': one conversation's deliveries go one at a time, in publish order. */
  ordering: DeliveryOrdering;
  /** The endpoint's health as the workers last recorded it (see queue/record.ts). */
  consecutiveFailures: number;
  failingSince: Date | null;
  circuitOpenedAt: Date | null;
  circuitReason: string | null;
  nextProbeAt: Date | null;
  /** The custom request headers, sealed (secrets.ts openHeaders); null: none. */
  headersEncrypted: Buffer | null;
  /** All must hold for an event to be delivered here (see conditions.ts). */
  conditions: DataCondition[];
  /** Dotted paths removed from `data` in what this webhook receives. */
  excludedFields: string[];
  createdAt: Date;
  updatedAt: Date;
  pageMicros: string;
};

/** Only registration and rotation produce this: the one moment the secret is shown. */
export type WebhookWithSecret = Webhook & { secret: string };

export type DeliveryOrdering = 'none' | 'conversation';

export type NewWebhook = {
  workspaceId: string;
  name: string;
  agentId: string;
  url: string;
  events: WebhookEventType[];
  active: boolean;
  rateLimitPerSecond: number | null;
  /** Default 'none'. */
  ordering?: DeliveryOrdering;
  headers?: WebhookHeader[];
  conditions?: DataCondition[];
  excludedFields?: string[];
};

/** `headersEncrypted` replaces the whole set (sealed by the caller with sealHeaders; null clears it). */
export type WebhookPatch = Partial<
  Pick<
    Webhook,
    | 'name'
    | 'url'
    | 'events'
    | 'active'
    | 'rateLimitPerSecond'
    | 'ordering'
    | 'headersEncrypted'
    | 'conditions'
    | 'excludedFields'
  >
>;

export type WebhookFilter = {
  agentId?: string | null;
  active?: boolean | null;
  /** The caller's agents (a portal session's); null or absent: every agent. */
  agentIds?: AgentScope;
};

// The select list every read shares. `page_micros` is created_at in exact microseconds, for cursors.
const columns = (sql: Sql) => sql`
  id, workspace_id, name, agent_id, url, events, active, disabled_reason, rate_limit_per_second, ordering,
  consecutive_failures, failing_since, circuit_opened_at, circuit_reason, next_probe_at, headers_encrypted,
  conditions, excluded_fields, created_at, updated_at,
  ${pageMicros(sql)}`;

/** How many webhooks a workspace, and each of its agents, may have; 0: no limit. */
export type WebhookLimits = { perWorkspace: number; perAgent: number };

/** Which of the WebhookLimits a registration ran into (named as its setting). */
export class WebhookLimitReached extends Error {
  constructor(readonly setting: 'MAX_WEBHOOKS_PER_WORKSPACE' | 'MAX_WEBHOOKS_PER_AGENT') {
    super(`${setting} reached`);
  }
}

/**
 * Registers a webhook, taking a slot of its workspace and of its agent in the same
 * statement (migrations/0020): concurrent registrations cannot overshoot the limits, and
 * a refused one writes nothing.
 */
export async function insertWebhook(
  sql: Sql,
  secretKey: Buffer,
  input: NewWebhook,
  limits: WebhookLimits = { perWorkspace: 0, perAgent: 0 },
): Promise<WebhookWithSecret> {
  const id = newId('webhook');
  const secret = generateSigningSecret();
  const conditions = conditionColumns(input.conditions ?? []);
  const [row] = await sql<Webhook[]>`/* webhooks.insert */
    insert into webhooks (id, workspace_id, name, agent_id, url, events, active, rate_limit_per_second, ordering,
                          secret_encrypted, headers_encrypted, conditions, conditions_match, conditions_vars,
                          excluded_fields)
    select ${id}, ${input.workspaceId}, ${input.name}, ${input.agentId}, ${input.url},
           ${input.events}, ${input.active}, ${input.rateLimitPerSecond}, ${input.ordering ?? 'none'},
           ${encryptSecret(secretKey, secret, id)}, ${sealHeaders(secretKey, input.headers ?? [], id)},
           ${conditions.conditions}::text::jsonb, ${conditions.match}::text::jsonpath, ${conditions.vars}::text::jsonb,
           ${input.excludedFields ?? []}::text[]
    where take_webhook_slot(${input.workspaceId}, ${input.agentId}, ${limits.perWorkspace}, ${limits.perAgent})
    returning ${columns(sql)}`.catch((error: unknown) => {
    const detail = (error as { detail?: unknown }).detail;
    if (detail === 'MAX_WEBHOOKS_PER_WORKSPACE' || detail === 'MAX_WEBHOOKS_PER_AGENT') {
      throw new WebhookLimitReached(detail);
    }
    throw error;
  });
  return { ...(row as Webhook), secret };
}

/**
 * The stored forms of a set of conditions: as given (read back), and compiled for the
 * fan-out. Passed as text and cast in SQL: postgres.js would encode a string bound to a
 * jsonb parameter once more, as a JSON string.
 */
function conditionColumns(conditions: readonly DataCondition[]) {
  const { match, vars } = compileConditions(conditions);
  return { conditions: JSON.stringify(conditions), match, vars: JSON.stringify(vars) };
}

export async function findWebhook(
  sql: Sql,
  workspaceId: string,
  id: string,
  agents?: AgentScope,
): Promise<Webhook | null> {
  const [row] = await sql<Webhook[]>`/* webhooks.find */
    select ${columns(sql)} from webhooks where workspace_id = ${workspaceId} and id = ${id} ${agentFilter(sql, agents)}`;
  return row ?? null;
}

/** Several webhooks of one workspace by id, in one statement; missing ones are left out. */
export async function findWebhooks(
  sql: Sql,
  workspaceId: string,
  ids: readonly string[],
  agents?: AgentScope,
): Promise<Webhook[]> {
  return sql<Webhook[]>`/* webhooks.find-many */
    select ${columns(sql)} from webhooks
    where workspace_id = ${workspaceId} and id = any(${ids as string[]}::text[]) ${agentFilter(sql, agents)}`;
}

function filterSql(sql: Sql, workspaceId: string, filter: WebhookFilter) {
  return sql`workspace_id = ${workspaceId}
    ${filter.agentId != null ? sql`and agent_id = ${filter.agentId}` : sql``}
    ${filter.active != null ? sql`and active = ${filter.active}` : sql``}
    ${agentFilter(sql, filter.agentIds)}`;
}

/** Up to `limit` rows of the window, in its reading order (see db/keyset.ts). */
export async function listWebhooks(
  sql: Sql,
  workspaceId: string,
  filter: WebhookFilter,
  window: PageWindow,
  limit: number,
): Promise<Webhook[]> {
  return sql<Webhook[]>`/* webhooks.list */
    select ${columns(sql)} from webhooks
    where ${filterSql(sql, workspaceId, filter)}
    ${windowFilter(sql, window)}
    order by ${windowOrder(sql, window)}
    limit ${limit}`;
}

/** How many webhooks match; with `atMost`, counted no further than that. */
export async function countWebhooks(
  sql: Sql,
  workspaceId: string,
  filter: WebhookFilter,
  atMost?: number,
): Promise<number> {
  const [row] = await sql<{ count: number }[]>`/* webhooks.count */
    ${countRows(sql, sql`webhooks where ${filterSql(sql, workspaceId, filter)}`, atMost)}`;
  return row?.count ?? 0;
}

/**
 * Applies only the fields present in `patch`. Turning a webhook back on, or pointing it
 * at a new URL, gives the endpoint a fresh start: the reason the system gave for turning
 * it off, its failure streak and its open circuit are cleared. One transaction: turning
 * ordering off and releasing its chains happen together or not at all (alone, the first
 * would leave deliveries waiting in chains nothing moves on any more). A deadlock is tried again.
 */
export async function updateWebhook(
  pool: Pool,
  workspaceId: string,
  id: string,
  patch: WebhookPatch,
): Promise<Webhook | null> {
  const changes: Record<string, unknown> = { updatedAt: new Date() };
  for (const key of [
    'name',
    'url',
    'events',
    'active',
    'rateLimitPerSecond',
    'ordering',
    'headersEncrypted',
  ] as const) {
    if (patch[key] !== undefined) changes[key] = patch[key];
  }
  if (patch.active === true) changes.disabledReason = null;
  if (patch.active === true || patch.url !== undefined) {
    Object.assign(changes, {
      consecutiveFailures: 0,
      failingSince: null,
      circuitOpenedAt: null,
      circuitReason: null,
      nextProbeAt: null,
    });
  }
  return retryRaces(() =>
    pool.begin(async (sql) => {
      const conditions = patch.conditions && conditionColumns(patch.conditions);
      const [row] = await sql<Webhook[]>`/* webhooks.update */
      update webhooks set ${sql(changes)}
      ${
        conditions
          ? sql`, conditions = ${conditions.conditions}::text::jsonb, conditions_match = ${conditions.match}::text::jsonpath,
              conditions_vars = ${conditions.vars}::text::jsonb`
          : sql``
      }
      ${patch.excludedFields ? sql`, excluded_fields = ${patch.excludedFields}::text[]` : sql``}
      where workspace_id = ${workspaceId} and id = ${id}
      returning ${columns(sql)}`;
      if (row && patch.ordering === 'none') await releaseConversationChains(sql, id);
      // Paused or resumed: the workers hold or release its backlog (queue/sync-held.ts) as soon as they hear.
      if (row && patch.active !== undefined) await sql`/* deliveries.wake */ select pg_notify(${DELIVERIES_DUE}, '')`;
      return row ?? null;
    }),
  );
}

/**
 * Ordering turned off: every delivery still waiting in a conversation chain comes due now.
 * (Deliveries already queued while it was on keep their chain fields; a chain with no
 * waiting member is inert.) The wake-up goes out when the caller's transaction commits.
 */
async function releaseConversationChains(sql: Sql, webhookId: string): Promise<void> {
  await sql`/* deliveries.release-conversation-chains */
    update deliveries set waiting = false, next_attempt_at = now(), updated_at = now()
    where webhook_id = ${webhookId} and status = 'pending' and conversation_id is not null and waiting`;
  await sql`/* deliveries.wake */ select pg_notify(${DELIVERIES_DUE}, '')`;
}

/**
 * Deletes a webhook with its deliveries and their attempts (the cascade). A deadlock with a
 * writer that took those rows in another order (the worker sending a notice to this
 * webhook while recording one of its deliveries) is tried again.
 */
export async function deleteWebhook(pool: Pool, workspaceId: string, id: string): Promise<boolean> {
  const rows = await retryRaces(
    () =>
      pool`/* webhooks.delete */ delete from webhooks where workspace_id = ${workspaceId} and id = ${id} returning id`,
  );
  return rows.length > 0;
}

/**
 * At most this many secrets sign a delivery at once: the current one and the newest
 * retired ones still within their overlap. Rotating more often than that within an
 * overlap retires the oldest early: the signature header and the signing work stay bounded.
 */
export const MAX_SIGNING_SECRETS = 5;

/**
 * Replaces the signing secret. The current one keeps signing for `keepPreviousSeconds`
 * (0: stops at once); secrets retired by earlier rotations keep their own expiry, so each
 * signs as long as its rotation promised (up to MAX_SIGNING_SECRETS at once, newest first;
 * expired ones are pruned here).
 */
export async function rotateSecret(
  sql: Sql,
  secretKey: Buffer,
  workspaceId: string,
  id: string,
  keepPreviousSeconds: number,
): Promise<WebhookWithSecret | null> {
  const secret = generateSigningSecret();
  // The secret being retired, in the same shape as retired_secrets' entries (see migration 0007).
  const retiring =
    keepPreviousSeconds > 0
      ? sql`jsonb_build_array(jsonb_build_object(
          'sealed', translate(encode(secret_encrypted, 'base64'), E'\n', ''),
          'expiresAt', now() + ${keepPreviousSeconds} * interval '1 second'))`
      : sql`'[]'::jsonb`;
  const [row] = await sql<Webhook[]>`/* webhooks.rotate-secret */
    update webhooks set
      retired_secrets = (
        select coalesce(jsonb_agg(kept.entry order by kept.position), '[]'::jsonb)
        from (
          select entry, position from jsonb_array_elements(${retiring} || retired_secrets)
            with ordinality as s(entry, position)
          where (entry->>'expiresAt')::timestamptz > now()
          order by position
          limit ${MAX_SIGNING_SECRETS - 1}
        ) kept
      ),
      secret_encrypted = ${encryptSecret(secretKey, secret, id)},
      updated_at = now()
    where workspace_id = ${workspaceId} and id = ${id}
    returning ${columns(sql)}`;
  return row ? { ...row, secret } : null;
}
