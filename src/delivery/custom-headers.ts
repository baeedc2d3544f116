import { openHeaders } from '../webhooks/secrets.js';

/**
 * A webhook's custom headers as a request takes them, names in lower case (header names
 * are case-insensitive; so ours, set after them, replace any spelling of the same name).
 */
export function openCustomHeaders(secretKey: Buffer, webhookId: string, sealed: Buffer | null) {
  return Object.fromEntries(openHeaders(secretKey, sealed, webhookId).map((h) => [h.name.toLowerCase(), h.value]));
}

/** Webhooks whose opened headers a worker keeps; past this the oldest is dropped. */
const CACHED_WEBHOOKS = 1000;

/**
 * openCustomHeaders, once per change rather than
 * per attempt: the cache is keyed by webhook and checked against the sealed bytes the
 * claim carried (every change seals with a fresh nonce, so changed headers never match).
 */
export function createCustomHeaders(secretKey: Buffer) {
  const opened = new Map<string, { sealed: Buffer; headers: Record<string, string> }>();
  return function customHeaders(webhookId: string, sealed: Buffer | null): Record<string, string> {
    if (!sealed) return {};
    const cached = opened.get(webhookId);
    if (cached?.sealed.equals(sealed)) return cached.headers;
    const headers = openCustomHeaders(secretKey, webhookId, sealed);
    opened.delete(webhookId);
    opened.set(webhookId, { sealed, headers });
    if (opened.size > CACHED_WEBHOOKS) opened.delete(opened.keys().next().value as string);
    return headers;
  };
}

export type CustomHeaders = ReturnType<typeof createCustomHeaders>;
