import { describe, expect, it } from 'vitest';
import { sampleLoopDelay } from '../../src/lib/loop-delay.js';
import { congestLoop } from '../support/congestion.js';

describe("the event loop's delay (lib/loop-delay.ts)", () => {
  it("reads the wait past a callback's time: an idle loop reads about 0, not the monitor's own 10 ms; a loop kept busy reads its wait", async () => {
    const readings: number[] = [];
    const stop = sampleLoopDelay(100, (waitedMs) => readings.push(waitedMs));
    await new Promise((resolve) => setTimeout(resolve, 550));
    const idle = readings.splice(0);
    // Busy in 50 ms pieces: every callback waits behind one.
    const congestion = congestLoop(50);
    await new Promise((resolve) => setTimeout(resolve, 400));
    await congestion.stop();
    await new Promise((resolve) => setTimeout(resolve, 120));
    stop();
    expect(idle.length).toBeGreaterThanOrEqual(3);
    expect(Math.min(...idle)).toBeLessThan(5);
    expect(Math.max(...readings)).toBeGreaterThan(30);
  });
});
