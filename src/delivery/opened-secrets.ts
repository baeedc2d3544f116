import { decryptSecret } from '../webhooks/secrets.js';

/** Webhooks whose opened signing secret a worker keeps; past this the oldest is dropped. */
const CACHED_WEBHOOKS = 1000;

/**
 * A webhook's signing secret, decrypted once per change rather than per attempt (an
 * AES-GCM open per delivery was a few percent of a busy worker). Keyed by webhook and
 * checked against the sealed bytes the claim carried: a rotation seals with a fresh
 * nonce, so a changed secret never matches.
 */
export function createOpenedSecrets(secretKey: Buffer) {
  const opened = new Map<string, { sealed: Buffer; secret: string }>();
  return function openSecret(webhookId: string, sealed: Buffer): string {
    const cached = opened.get(webhookId);
    if (cached?.sealed.equals(sealed)) return cached.secret;
    const secret = decryptSecret(secretKey, sealed, webhookId);
    opened.delete(webhookId);
    opened.set(webhookId, { sealed, secret });
    if (opened.size > CACHED_WEBHOOKS) opened.delete(opened.keys().next().value as string);
    return secret;
  };
}

export type OpenedSecrets = ReturnType<typeof createOpenedSecrets>;
