import { afterEach, describe, expect, it } from 'vitest';
import { createLoopPressure } from '../../src/worker/loop-pressure.js';
import { congestLoop } from '../support/congestion.js';
import { eventually } from '../support/receiver.js';

/** Keeps this process's event loop busy in 40 ms pieces (each callback waits behind one), for `ms`. */
async function congest(ms: number) {
  const congestion = congestLoop();
  await new Promise((resolve) => setTimeout(resolve, ms));
  await congestion.stop();
}

const stops: (() => void)[] = [];
afterEach(() => {
  for (const stop of stops.splice(0)) stop();
});

describe("the worker's attempts at once, beside the API", () => {
  it('halves the attempts in flight at each congested reading (none in flight: nothing to halve), never below the floor; grows back an eighth at a time while the loop has room and the attempts fill the limit', () => {
    let reading: (waitedMs: number) => void = () => {};
    let raised = 0;
    let inFlight = 64;
    const pressure = createLoopPressure({
      ceiling: 256,
      floor: 8,
      inFlight: () => inFlight,
      onRaise: () => raised++,
      sample: (_intervalMs, onSample) => {
        reading = onSample;
        return () => {};
      },
    });
    const limitAfter = (...waits: number[]) => {
      for (const waitedMs of waits) reading(waitedMs);
      return pressure.limit();
    };
    // Room to spare (a reading is the wait past a callback's time): the whole ceiling.
    expect(limitAfter(2, 9)).toBe(256);
    // Congested, but with nothing in flight nothing of ours is to blame: the limit stays.
    inFlight = 0;
    expect(limitAfter(50, 50)).toBe(256);
    inFlight = 64;
    // Congested: half of the 64 in flight (not of the ceiling), then half again, down to the floor.
    expect(limitAfter(11)).toBe(32);
    expect(limitAfter(50)).toBe(16);
    expect(limitAfter(50, 50, 50)).toBe(8);
    expect(raised).toBe(0);
    // Room again, but nothing to send: the limit stays where it is, for the next fan-out.
    inFlight = 0;
    expect(limitAfter(5, 5, 5)).toBe(8);
    // Attempts filling it (7/8 of it is enough: a reading may fall between two attempts): an
    // eighth at a time (at least one), each rise said.
    inFlight = 7;
    expect(limitAfter(5)).toBe(9);
    inFlight = 9;
    expect(limitAfter(5)).toBe(11);
    expect(raised).toBe(2);
    // Fewer in flight than the limit allows: it does not grow past what is used.
    inFlight = 5;
    expect(limitAfter(5, 5)).toBe(11);
    // As many as it allows, every time: up to the ceiling.
    for (let i = 0; i < 60; i++) {
      inFlight = pressure.limit();
      reading(5);
    }
    expect(pressure.limit()).toBe(256);
  });

  it("reads this process's event loop: a loop kept busy cuts the attempts well below those in flight, and they come back once it is idle", async () => {
    // Attempts fill whatever the limit allows (a fan-out waiting).
    let inFlight = 64;
    const pressure = createLoopPressure({ ceiling: 256, floor: 8, inFlight: () => inFlight, intervalMs: 50 });
    stops.push(pressure.stop);
    await congest(1_000);
    expect(pressure.limit()).toBeLessThanOrEqual(16);
    inFlight = Number.POSITIVE_INFINITY;
    await eventually(async () => pressure.limit() === 256, 15_000, 50);
  });
});
