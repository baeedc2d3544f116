import { createLru } from '../lib/lru.js';

/** Webhooks whose opened values a worker keeps; past this the least recently used goes. */
const CACHED_WEBHOOKS = 1000;

/**
 * Something a webhook keeps sealed (its signing secret, its custom headers), opened once
 * per change rather than per attempt (an AES-GCM open per delivery was a few percent of a
 * busy worker). Keyed by webhook and checked against the sealed bytes the claim carried:
 * every change seals with a fresh nonce, so a changed value never matches.
 */
export function openedPerChange<T>(open: (webhookId: string, sealed: Buffer) => T) {
  const opened = createLru<string, { sealed: Buffer; value: T }>({ maxEntries: CACHED_WEBHOOKS });
  return (webhookId: string, sealed: Buffer): T => {
    const cached = opened.get(webhookId);
    if (cached?.sealed.equals(sealed)) return cached.value;
    const value = open(webhookId, sealed);
    opened.set(webhookId, { sealed, value });
    return value;
  };
}
