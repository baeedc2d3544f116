import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/** A signing secret as Standard Webhooks libraries take it: `whsec_` + base64 of 32 random bytes. */
export function generateSigningSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

/** The raw HMAC key inside a `whsec_` secret. */
export function signingKey(secret: string): Buffer {
  return Buffer.from(secret.slice('whsec_'.length), 'base64');
}

const NONCE_BYTES = 12;
const TAG_BYTES = 16;

/**
 * AES-256-GCM, with the webhook id as associated data: a ciphertext copied onto another
 * row fails to decrypt instead of signing for the wrong webhook.
 */
export function encryptSecret(key: Buffer, secret: string, webhookId: string): Buffer {
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  cipher.setAAD(Buffer.from(webhookId));
  const body = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final()]);
  return Buffer.concat([nonce, body, cipher.getAuthTag()]);
}

/**
 * The keys that open sealed values: the current key (SECRET_ENCRYPTION_KEY), or it followed by
 * the keys a rotation retired (SECRET_ENCRYPTION_OLD_KEYS). Only the current one seals.
 */
export type OpeningKeys = Buffer | readonly Buffer[];

/** The current key and the retired ones, in the order they are tried. */
export const openingKeys = (current: Buffer, old: readonly Buffer[] = []): Buffer[] => [current, ...old];

/** Opens a sealed secret with the first of `keys` that can; throws when none can. */
export function decryptSecret(keys: OpeningKeys, sealed: Buffer, webhookId: string): string {
  return openSealed(keys, sealed, webhookId).plain;
}

/** A sealed value opened, and which of the keys opened it (0: the current one). */
export function openSealed(keys: OpeningKeys, sealed: Buffer, context: string): { plain: string; keyIndex: number } {
  const list = Buffer.isBuffer(keys) ? [keys] : keys;
  let failure: unknown = new Error('no key to open a sealed secret with');
  for (const [keyIndex, key] of list.entries()) {
    try {
      return { plain: openWith(key, sealed, context), keyIndex };
    } catch (error) {
      failure = error;
    }
  }
  throw failure;
}

function openWith(key: Buffer, sealed: Buffer, webhookId: string): string {
  const nonce = sealed.subarray(0, NONCE_BYTES);
  const tag = sealed.subarray(sealed.length - TAG_BYTES);
  const decipher = createDecipheriv('aes-256-gcm', key, nonce);
  decipher.setAAD(Buffer.from(webhookId));
  decipher.setAuthTag(tag);
  return Buffer.concat([
    decipher.update(sealed.subarray(NONCE_BYTES, sealed.length - TAG_BYTES)),
    decipher.final(),
  ]).toString('utf8');
}

/** A request header a webhook adds to each of its deliveries. */
export type WebhookHeader = { name: string; value: string };

// A context of their own, so a sealed header set and a sealed secret of one webhook cannot stand in for each other.
export const headersContext = (webhookId: string) => `${webhookId}/headers`;

/**
 * Custom headers often carry credentials (`Authorization: Bearer …`), so they are sealed
 * like the signing secret, as one JSON list. None: null.
 */
export function sealHeaders(key: Buffer, headers: readonly WebhookHeader[], webhookId: string): Buffer | null {
  if (headers.length === 0) return null;
  const plain = JSON.stringify(headers.map(({ name, value }) => ({ name, value })));
  return encryptSecret(key, plain, headersContext(webhookId));
}

export function openHeaders(keys: OpeningKeys, sealed: Buffer | null, webhookId: string): WebhookHeader[] {
  if (!sealed) return [];
  return JSON.parse(decryptSecret(keys, sealed, headersContext(webhookId))) as WebhookHeader[];
}
