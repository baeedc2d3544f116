import { createHmac } from 'node:crypto';
import { signingKey } from '../webhooks/secrets.js';

/**
 * Standard Webhooks signatures: `v1,` + base64 HMAC-SHA256 over "id.timestamp.body",
 * keyed with the bytes inside the `whsec_` secret. While a rotated-out secret is still
 * valid, one signature per secret is sent, space-separated, so receivers holding either
 * secret verify the same delivery.
 */
export function signatureHeader(secrets: readonly string[], id: string, timestamp: number, body: string): string {
  return secrets
    .map(
      (secret) =>
        `v1,${createHmac('sha256', signingKey(secret)).update(`${id}.${timestamp}.${body}`).digest('base64')}`,
    )
    .join(' ');
}

export function webhookHeaders(secrets: readonly string[], id: string, body: string, now = Date.now()) {
  const timestamp = Math.floor(now / 1000);
  return {
    'content-type': 'application/json',
    'user-agent': 'convo-hooks/1.0 (+https://www.standardwebhooks.com)',
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': signatureHeader(secrets, id, timestamp, body),
  };
}
