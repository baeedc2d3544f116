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

/** Whether the event loop was congested at the last reading (every 100 ms). */
export function watchLoopCongestion() {
  let congested = false;
  const stop = sampleLoopDelay(100, (waitedMs) => {
    congested = waitedMs > CONGESTED_MS;
  });
  return { congested: () => congested, stop };
}
