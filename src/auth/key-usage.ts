import type { Pool } from '../db/sql.js';
import type { Logger } from '../lib/logger.js';
import { recordKeyUse } from './api-keys.js';

export type KeyUsageOptions = {
  /** How often `lastUsedAt` is written: one statement per interval for every key used. */
  flushMs: number;
  log?: Logger;
  now?: () => number;
};

/**
 * When each API key was last used, noted in memory and written for all keys in one
 * statement every `flushMs` and on close: a write per request would cost more than the
 * request. `lastUsedAt` may trail the last request by one interval, and a crash loses at
 * most that interval.
 */
export function createKeyUsage(sql: Pool, { flushMs, log, now = Date.now }: KeyUsageOptions) {
  const used = new Map<string, number>(); // key id → when last used, not yet written

  const flush = async () => {
    if (used.size === 0) return;
    const batch = new Map(used);
    used.clear();
    try {
      await recordKeyUse(sql, batch);
    } catch (error) {
      // Kept for the next flush, unless a later use has been noted since.
      for (const [keyId, at] of batch) if ((used.get(keyId) ?? 0) < at) used.set(keyId, at);
      log?.warn({ err: error }, 'recording when API keys were last used failed; trying again later');
    }
  };
  const timer = setInterval(() => void flush(), flushMs);
  timer.unref();

  return {
    note(keyId: string) {
      used.set(keyId, now());
    },
    /** When this process last saw the key used, if not written yet. */
    pending(keyId: string): Date | null {
      const at = used.get(keyId);
      return at === undefined ? null : new Date(at);
    },
    /** Writes the pending times now. */
    flush,
    /** Stops the timer and writes what is pending. */
    async close() {
      clearInterval(timer);
      await flush();
    },
    size: () => used.size,
  };
}

export type KeyUsage = ReturnType<typeof createKeyUsage>;
