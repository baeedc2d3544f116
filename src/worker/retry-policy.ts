/** What happens after a failed attempt: try again after `delayMs`, or give up. */
export type RetryDecision = { retry: true; delayMs: number } | { retry: false };

export type RetryPolicy = {
  /** Delays before the 2nd, 3rd, … attempt; after the last, the delivery fails. */
  schedule: readonly number[];
  /** ± fraction of each delay, so retries from one outage do not arrive in lockstep. */
  jitter: number;
};

/**
 * `attempts` is how many attempts have been made, the failed one included.
 * `retryAfterMs` (from a 429 or 503) replaces the scheduled delay, kept within the
 * schedule's shortest and longest step: a receiver may slow us down or speed us up, but
 * not to zero and not past the longest step.
 */
export function nextRetry(
  policy: RetryPolicy,
  attempts: number,
  retryAfterMs?: number,
  random = Math.random,
): RetryDecision {
  const scheduled = policy.schedule[attempts - 1];
  if (scheduled === undefined) return { retry: false };
  if (retryAfterMs !== undefined) {
    const shortest = Math.min(...policy.schedule);
    const longest = Math.max(...policy.schedule);
    return { retry: true, delayMs: Math.min(Math.max(retryAfterMs, shortest), longest) };
  }
  const factor = 1 + policy.jitter * (2 * random() - 1);
  return { retry: true, delayMs: Math.round(scheduled * factor) };
}

/** `Retry-After` as delta-seconds or an HTTP date, in ms from `now`; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
