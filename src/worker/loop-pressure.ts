import { CONGESTED_MS, sampleLoopDelay } from '../lib/loop-delay.js';

export type LoopPressureOptions = {
  /** The most attempts at once (DELIVERY_CONCURRENCY). */
  ceiling: number;
  /** The fewest, however busy the loop: delivery never stops. */
  floor: number;
  /** An event loop whose callbacks wait longer than this (99th percentile) is congested. */
  congestedMs?: number;
  /** Attempts in flight now: a congested loop halves these, not a ceiling far above them. */
  inFlight: () => number;
  /** How often the delay is read and the limit moved. */
  intervalMs?: number;
  /** Called when the limit rises, so waiting attempts may start. */
  onRaise?: () => void;
  /** Where the readings come from (tests hand their own); by default this process's event loop. */
  sample?: typeof sampleLoopDelay;
};

/**
 * How many attempts the worker may have in flight while it shares its event loop with the
 * API (ROLE=all): every attempt is callbacks on the loop every request waits behind, so a
 * fan-out of thousands to fast endpoints would answer for the API's latency. While the
 * loop's delay says callbacks wait, whatever makes them, the attempts in flight are halved
 * (down to `floor`); while it does not, and the attempts fill the limit (7/8 of it), it grows back an
 * eighth at a time up to `ceiling`. An idle worker keeps the limit it had: the next fan-out
 * starts there and grows while the loop has room, instead of meeting the API's requests
 * with the whole ceiling at once (each fan-out of 2,000 deliveries did, every 5 s in the
 * hostile drill). Slow endpoints hold slots without loading the loop: while it has room
 * they keep the full ceiling.
 */
export function createLoopPressure(options: LoopPressureOptions) {
  const congestedMs = options.congestedMs ?? CONGESTED_MS;
  let limit = options.ceiling;
  const sample = options.sample ?? sampleLoopDelay;
  const stop = sample(options.intervalMs ?? 100, (waitedMs) => {
    if (waitedMs > congestedMs) {
      // With nothing in flight there is nothing of ours to cut: the limit stays, and attempts
      // that start while the loop is still congested are halved at the next reading.
      const inFlight = options.inFlight();
      if (inFlight > 0) limit = Math.max(options.floor, Math.floor(Math.min(limit, inFlight) / 2));
    } else if (limit < options.ceiling && options.inFlight() * 8 >= limit * 7) {
      // Most of the limit in use (a reading may fall between an attempt's end and the next's start).
      limit = Math.min(options.ceiling, limit + Math.max(1, Math.ceil(limit / 8)));
      options.onRaise?.();
    }
  });
  return { limit: () => limit, stop };
}
