import { describe, expect, it } from 'vitest';
import { createReceiver, eventually, sleep } from '../support/receiver.js';
import { awaitDeliveries, drillSetup, report, tally } from './support.js';

const EVENTS = 5000;
const CONCURRENCY = 64;

describe('drill: kill -9 under load', () => {
  it('twice, at random moments, while 5,000 events flow to three receivers: every event arrives, duplicates only from the in-flight window', async () => {
    const drill = await drillSetup({ DELIVERY_CONCURRENCY: String(CONCURRENCY) });
    const receivers = await Promise.all([1, 2, 3].map(() => createReceiver(() => ({ status: 200, delayMs: 2 }))));
    let server = drill.startServer();
    let base = await server.ready;
    for (const receiver of receivers) await drill.registerAt(base, receiver.url, 'drill-agent');

    const started = Date.now();
    const publishing = drill.publishAll(() => [base], 'drill-agent', EVENTS);
    const kills: number[] = [];
    for (let i = 0; i < 2; i++) {
      await sleep(1500 + Math.random() * 2500);
      kills.push(receivers.reduce((n, r) => n + r.received.length, 0));
      server.signal('SIGKILL');
      await server.exited;
      server = drill.startServer();
      base = await server.ready;
    }
    const { eventIds, rejected } = await publishing;
    expect(eventIds).toHaveLength(EVENTS);

    const lost = await awaitDeliveries(receivers, eventIds, 180_000, 500);
    const elapsed = (Date.now() - started) / 1000;
    const duplicates = receivers.reduce((n, r) => n + tally(r.received).duplicates, 0);
    const [stuck] = await drill.app.sql`
      select count(*)::int as n from deliveries where status = 'pending' and next_attempt_at < now() - interval '1 second'`;
    // Received but not yet recorded as succeeded when the last one arrived (recorded just after).
    const [unrecorded] = await drill.app.sql`select count(*)::int as n from deliveries where status <> 'succeeded'`;
    report('kill -9', {
      events: EVENTS,
      deliveries: EVENTS * receivers.length,
      deliveredDistinct: receivers.reduce((n, r) => n + tally(r.received).distinct.size, 0),
      duplicates,
      lost,
      unrecordedAtLastReceipt: unrecorded?.n,
      publishRetries: rejected,
      killedAfterReceipts: kills,
      seconds: Number(elapsed.toFixed(1)),
    });
    expect(lost).toBe(0);
    // Only what the killed process had in flight, or had sent but not yet recorded, comes again.
    expect(duplicates).toBeLessThanOrEqual(2 * 2 * CONCURRENCY);
    expect(stuck?.n).toBe(0);
    await eventually(
      async () =>
        (await drill.app.sql`select count(*)::int as n from deliveries where status <> 'succeeded'`)[0]?.n === 0,
      30_000,
    );
    server.signal('SIGTERM');
    await server.exited;
  });
});
