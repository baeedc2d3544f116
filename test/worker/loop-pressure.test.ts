import { afterEach, describe, expect, it } from 'vitest';
import { createLoopPressure } from '../../src/worker/loop-pressure.js';
import { eventually, sleep } from '../support/receiver.js';

/** Keeps this process's event loop busy in 40 ms pieces (each callback waits behind one), for `ms`. */
async function congest(ms: number) {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    const pieceEnds = performance.now() + 40;
    while (performance.now() < pieceEnds) {
      // busy: every timer and callback waits
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
}

const stops: (() => void)[] = [];
afterEach(() => {
  for (const stop of stops.splice(0)) stop();
});

describe("the worker's attempts at once, beside the API", () => {
  it('halves the attempts in flight while the event loop is congested, never below the floor; grows back once it is not', async () => {
    let raised = 0;
    const pressure = createLoopPressure({
      ceiling: 256,
      floor: 8,
      inFlight: () => 64,
      intervalMs: 50,
      onRaise: () => raised++,
    });
    stops.push(pressure.stop);
    // An idle loop: the whole ceiling (slow endpoints hold slots without loading the loop).
    await sleep(200);
    await eventually(async () => pressure.limit() === 256, 5_000, 20);

    // Congested: half of the 64 in flight at once (not of the ceiling), then halves again, down to the floor.
    await congest(1_000);
    expect(pressure.limit()).toBe(8);
    expect(raised).toBe(0);

    // Idle again: it grows back an eighth at a time, and says so each time, up to the ceiling.
    await eventually(async () => pressure.limit() > 8, 2_000, 20);
    expect(raised).toBeGreaterThan(0);
    await eventually(async () => pressure.limit() === 256, 10_000, 50);
  });
});
