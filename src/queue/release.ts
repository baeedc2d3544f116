import type { Sql } from '../db/sql.js';

/**
 * Hands claims back (a graceful stop, or deliveries claimed ahead that the worker will not
 * send): due again at once, for any worker, in their old place in the queue (when they
 * came due, not now).
 */
export async function releaseClaims(
  sql: Sql,
  claims: { id: string; claimToken: string; dueAt: Date }[],
): Promise<void> {
  if (claims.length === 0) return;
  await sql`/* deliveries.release */
    update deliveries d set next_attempt_at = least(c.due_at, now()), claim_token = null,
      held = not w.active and not d.manual, updated_at = now()
    from unnest(${claims.map((c) => c.id)}::text[], ${claims.map((c) => c.claimToken)}::text[],
      ${claims.map((c) => c.dueAt.toISOString())}::timestamptz[]) as c(id, token, due_at), webhooks w
    where d.id = c.id and d.claim_token = c.token and d.status = 'pending' and w.id = d.webhook_id`;
}

/**
 * Puts claims off after a failure of ours (a secret that would not open, signing): due again
 * after `delayMs`, for any worker, with the attempt count as it was. No attempt is logged and
 * the webhook's health is untouched: the endpoint was never asked.
 */
export async function putOffClaims(sql: Sql, claims: { id: string; claimToken: string }[], delayMs: number) {
  if (claims.length === 0) return;
  await sql`/* deliveries.put-off */
    update deliveries d set next_attempt_at = now() + ${delayMs} * interval '1 millisecond', claim_token = null,
      held = not w.active and not d.manual, updated_at = now()
    from unnest(${claims.map((c) => c.id)}::text[], ${claims.map((c) => c.claimToken)}::text[]) as c(id, token), webhooks w
    where d.id = c.id and d.claim_token = c.token and d.status = 'pending' and w.id = d.webhook_id`;
}
