import { describe, expect, it } from 'vitest';
import { createReceiver, sleep } from '../support/receiver.js';
import { awaitDeliveries, drillSetup, report, tally } from './support.js';

const EVENTS = 300;

describe('drill: graceful stop under load', () => {
  it('SIGTERM: stops claiming, finishes or hands back what is in flight within the grace period, exits 0; a restart delivers the rest', async () => {
    const drill = await drillSetup({
      SHUTDOWN_GRACE_MS: '1500',
      DELIVERY_TIMEOUT_MS: '5000',
      DELIVERY_CONCURRENCY: '32',
    });
    // Slow receivers keep attempts in flight when the signal comes.
    const receivers = await Promise.all(
      [1, 2].map(() => createReceiver(() => ({ status: 200, delayMs: 150 + Math.random() * 1500 }))),
    );
    const first = drill.startServer();
    const base = await first.ready;
    for (const receiver of receivers) await drill.registerAt(base, receiver.url, 'graceful');
    const { eventIds } = await drill.publishAll(() => [base], 'graceful', EVENTS, 12);

    await sleep(1000);
    const signalledAt = Date.now();
    first.signal('SIGTERM');
    const code = await first.exited;
    const stoppedInMs = Date.now() - signalledAt;
    const receivedBeforeStop = receivers.map((r) => r.received.length);
    const [claimed] = await drill.app
      .sql`select count(*)::int as n from deliveries where claim_token is not null and status = 'pending'`;

    const second = drill.startServer();
    await second.ready;
    const lost = await awaitDeliveries(receivers, eventIds, 120_000, 250);
    const duplicates = receivers.map((r) => tally(r.received).duplicates);
    report('graceful stop', {
      events: EVENTS,
      exitCode: code,
      stoppedInMs,
      receivedBeforeStop,
      claimsLeftBehind: claimed?.n,
      duplicates,
      lost,
    });
    expect(lost).toBe(0);
    expect(code).toBe(0);
    // Grace period plus shutting the pool: well under the 5 s delivery timeout plus lease.
    expect(stoppedInMs).toBeLessThan(5000);
    expect(claimed?.n).toBe(0);
    // Attempts cut short by the stop were sent but not answered: they go again.
    expect(duplicates.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(32);
    second.signal('SIGTERM');
    expect(await second.exited).toBe(0);
  });
});
