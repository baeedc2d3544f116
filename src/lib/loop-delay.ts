import { monitorEventLoopDelay } from 'node:perf_hooks';

/** An event loop whose callbacks wait longer than this past their time (99th percentile over a sample) is congested. */
export const CONGESTED_MS = 10;

/**
 * How often the monitor's own timer fires. Each of its samples is the time between two of
 * its callbacks, so an idle loop reads this much (10.2 ms at the 99th percentile): it is
 * taken off, and a reading is the wait past the callback's time.
 */
const RESOLUTION_MS = 10;

/**
 * Reads how long this process's callbacks waited for the event loop past their time (99th
 * percentile, in ms) every `intervalMs`, and hands each reading to `onSample`. The timer does not keep the
 * process alive. Returns the stop.
 */
export function sampleLoopDelay(intervalMs: number, onSample: (waitedMs: number) => void): () => void {
  const delay = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  delay.enable();
  const timer = setInterval(() => {
    const waitedMs = Math.max(0, delay.percentile(99) / 1e6 - RESOLUTION_MS);
    delay.reset();
    onSample(waitedMs);
  }, intervalMs);
  timer.unref();
  return () => {
    clearInterval(timer);
    delay.disable();
  };
}

/**
 * How long the loop counts as congested after its last congested reading. A loop kept busy
 * in pieces reads congested only every other reading or so (a window can fall between two
 * pieces): without this, whatever is shared while it is congested would be shared half the time.
 */
export const CONGESTION_HOLD_MS = 1_000;

/** Whether the event loop was congested at a reading (every 100 ms) in the last CONGESTION_HOLD_MS. */
export function watchLoopCongestion(now = () => performance.now()) {
  let lastCongestedAt = Number.NEGATIVE_INFINITY;
  const stop = sampleLoopDelay(100, (waitedMs) => {
    if (waitedMs > CONGESTED_MS) lastCongestedAt = now();
  });
  return { congested: () => now() - lastCongestedAt < CONGESTION_HOLD_MS, stop };
}
