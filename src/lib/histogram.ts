/**
 * Attempt durations as a fixed log-scale histogram: the rollups (migrations/0022) keep one
 * count per bucket, so percentiles over any number of attempts are read from 42 numbers.
 *
 * Bucket 0 holds 0 ms; buckets 1 to 40 split 1 ms to 60 s into 40 steps of the same ratio
 * (60000^(1/40) ≈ 1.317); bucket 41 holds 60 s and more. A percentile is reported as the
 * geometric middle of its bucket, rounded to a whole ms: within 15% of the true value,
 * give or take that 1 ms of rounding. 60 s and more is reported as 60000.
 */
const STEPS = 40;
const MAX_MS = 60_000;
const STEP = Math.log(MAX_MS) / STEPS;

/** How many counts a histogram holds. */
export const DURATION_BUCKETS = STEPS + 2;

/** The bucket of a duration in milliseconds. */
export function durationBucket(ms: number): number {
  if (!(ms >= 1)) return 0;
  if (ms >= MAX_MS) return STEPS + 1;
  return Math.min(STEPS, Math.floor(Math.log(ms) / STEP) + 1);
}

/** The value a bucket stands for: the geometric middle of its bounds. */
export function bucketValue(bucket: number): number {
  if (bucket <= 0) return 0;
  if (bucket > STEPS) return MAX_MS;
  return Math.round(Math.exp((bucket - 0.5) * STEP));
}

export const emptyHistogram = (): number[] => new Array(DURATION_BUCKETS).fill(0);

/** Adds `more` into `into`, bucket by bucket. */
export function addHistogram(into: number[], more: readonly number[]): number[] {
  for (let i = 0; i < DURATION_BUCKETS; i++) into[i] = (into[i] ?? 0) + (more[i] ?? 0);
  return into;
}

/** The duration below which a share `q` (0.5, 0.95) of the counted attempts fall; null when none were. */
export function percentile(histogram: readonly number[], q: number): number | null {
  const total = histogram.reduce((sum, n) => sum + n, 0);
  if (total === 0) return null;
  // The rank of the attempt that is the percentile (nearest-rank method).
  const rank = Math.max(1, Math.ceil(q * total));
  let seen = 0;
  for (let bucket = 0; bucket < histogram.length; bucket++) {
    seen += histogram[bucket] ?? 0;
    if (seen >= rank) return bucketValue(bucket);
  }
  return bucketValue(histogram.length - 1);
}
