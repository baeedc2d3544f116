import type { ClaimedDelivery } from '../queue/claim.js';
import type { Outcome } from '../queue/record.js';
import { decryptSecret, type OpeningKeys } from '../webhooks/secrets.js';
import { MAX_SIGNING_SECRETS } from '../webhooks/store.js';
import { type CustomHeaders, openCustomHeaders } from './custom-headers.js';
import { type PayloadShapes, withoutFields } from './excluded-fields.js';
import type { OpenedSecrets } from './opened-secrets.js';
import { nextRetry, type RetryPolicy } from './retry-policy.js';
import type { AttemptResult } from './sender.js';
import { webhookHeaders } from './signing.js';

/**
 * The stages of one attempt, between the claim and the batched write:
 * prepare (decrypt, sign) → send (sender.ts) → decide (pure: what the result leads to).
 */

/** A signed request, ready to send. */
export type PreparedAttempt = { url: string; headers: Record<string, string>; body: string };

/**
 * Cuts the webhook's excluded fields out of the payload (`payloads`: the worker's cache of
 * the cut bodies), then signs what is left, so the signature covers exactly what is sent.
 * Signs it with the webhook's secret, and with each retired one until its own
 * expiry (one signature per secret, so a receiver holding any of them verifies), and adds
 * the webhook's custom headers (`customHeaders`: the worker's cache of them opened;
 * without it they are opened here; `openSecret` likewise for the current secret). Ours are set last: the input rules keep custom names
 * off them, and a row written some other way still cannot override them.
 * Throws when something sealed opens with none of `secretKeys`: a failure of ours, not the
 * endpoint's, which the worker puts off without making it an attempt (worker.ts).
 */
export function prepareAttempt(
  claim: ClaimedDelivery,
  secretKeys: OpeningKeys,
  now = Date.now(),
  customHeaders?: CustomHeaders,
  openSecret?: OpenedSecrets,
  payloads?: PayloadShapes,
): PreparedAttempt {
  const secrets = [
    openSecret
      ? openSecret(claim.webhookId, claim.secretEncrypted)
      : decryptSecret(secretKeys, claim.secretEncrypted, claim.webhookId),
  ];
  for (const retired of claim.retiredSecrets) {
    if (secrets.length >= MAX_SIGNING_SECRETS) break;
    if (Date.parse(retired.expiresAt) <= now) continue;
    secrets.push(decryptSecret(secretKeys, Buffer.from(retired.sealed, 'base64'), claim.webhookId));
  }
  const custom = customHeaders
    ? customHeaders(claim.webhookId, claim.headersEncrypted)
    : openCustomHeaders(secretKeys, claim.webhookId, claim.headersEncrypted);
  const body = payloads
    ? payloads(claim.eventId, claim.payload, claim.excludedFields)
    : withoutFields(claim.payload, claim.excludedFields);
  const headers = { ...custom, ...webhookHeaders(secrets, claim.eventId, body, now) };
  return { url: claim.url, headers, body };
}

/**
 * What an attempt's result means for its delivery: succeeded, retry at a time from the
 * policy (or the receiver's Retry-After), or failed for good (schedule spent, or 410 Gone,
 * which also turns the webhook off). The webhook's health is decided when the batch is
 * written (record.ts), where every worker's outcomes meet.
 */
export function decideOutcome(
  claim: ClaimedDelivery,
  attemptedAt: Date,
  result: AttemptResult,
  policy: RetryPolicy,
  now = Date.now(),
  random = Math.random,
): Outcome {
  const base = {
    deliveryId: claim.id,
    workspaceId: claim.workspaceId,
    claimToken: claim.claimToken,
    webhookId: claim.webhookId,
    conversationId: claim.conversationId,
    attempt: { attemptedAt, ...result },
  };
  if (result.ok) return { ...base, status: 'succeeded', nextAttemptAt: null, gone: false };
  if (result.statusCode === 410) return { ...base, status: 'failed', nextAttemptAt: null, gone: true };
  const retry = nextRetry(policy, claim.attemptCount + 1, result.retryAfterMs, random);
  return retry.retry
    ? { ...base, status: 'pending', nextAttemptAt: new Date(now + retry.delayMs), gone: false }
    : { ...base, status: 'failed', nextAttemptAt: null, gone: false };
}
