import type { Sql } from '../db/sql.js';

/** Hands unfinished claims back (graceful stop): due again at once, for any worker. */
export async function releaseClaims(sql: Sql, claims: { id: string; claimToken: string }[]): Promise<void> {
  if (claims.length === 0) return;
  await sql`/* deliveries.release */
    update deliveries d set next_attempt_at = now(), claim_token = null, held = not w.active and not d.manual,
      updated_at = now()
    from unnest(${claims.map((c) => c.id)}::text[], ${claims.map((c) => c.claimToken)}::text[]) as c(id, token), webhooks w
    where d.id = c.id and d.claim_token = c.token and d.status = 'pending' and w.id = d.webhook_id`;
}
