import { decryptSecret, type OpeningKeys } from '../webhooks/secrets.js';
import { openedPerChange } from './opened-per-change.js';

/** A webhook's signing secret, decrypted once per change. */
export function createOpenedSecrets(secretKeys: OpeningKeys) {
  return openedPerChange((webhookId, sealed) => decryptSecret(secretKeys, sealed, webhookId));
}

export type OpenedSecrets = ReturnType<typeof createOpenedSecrets>;
