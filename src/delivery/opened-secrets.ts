import { decryptSecret } from '../webhooks/secrets.js';
import { openedPerChange } from './opened-per-change.js';

/** A webhook's signing secret, decrypted once per change. */
export function createOpenedSecrets(secretKey: Buffer) {
  return openedPerChange((webhookId, sealed) => decryptSecret(secretKey, sealed, webhookId));
}

export type OpenedSecrets = ReturnType<typeof createOpenedSecrets>;
