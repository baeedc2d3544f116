import { monitorEventLoopDelay } from 'node:perf_hooks';

/** An event loop whose callbacks wait longer than this (99th percentile over a sample) is congested. */
export const CONGESTED_MS = 20;

/**
 * Reads how long this process's callbacks waited for the event loop (99th percentile, in
 * ms) every `intervalMs`, and hands each reading to `onSample`. The timer does not keep the
 * process alive. Returns the stop.
 */
export function sampleLoopDelay(intervalMs: number, onSample: (waitedMs: number) => void): () => void {
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  const timer = setInterval(() => {
    const waitedMs = delay.percentile(99) / 1e6;
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
