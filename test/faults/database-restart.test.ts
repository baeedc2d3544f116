import { describe, expect, inject, it } from 'vitest';
import { startEmbeddedPostgres, stopEmbeddedPostgres } from '../../src/db/embedded.js';
import { TEST_CLUSTER_SETTINGS } from '../support/global-setup.js';
import { createReceiver, eventually, sleep } from '../support/receiver.js';
import { awaitDeliveries, drillSetup, report, tally } from './support.js';

const EVENTS = 2000;

describe('drill: database restart', () => {
  it('while events flow: the API answers errors (no hangs, no crash), recovers by itself, and nothing accepted is lost', async () => {
    const dataDir = inject('embeddedDataDir');
    expect(dataDir, 'this drill restarts the embedded test cluster; run it without TEST_DATABASE_URL').not.toBe('');
    const drill = await drillSetup();
    const receivers = await Promise.all([1, 2].map(() => createReceiver(() => ({ status: 200, delayMs: 2 }))));
    const server = drill.startServer();
    const base = await server.ready;
    for (const receiver of receivers) await drill.registerAt(base, receiver.url, 'restart-agent');

    const publishing = drill.publishAll(() => [base], 'restart-agent', EVENTS, 8);
    await sleep(1500);

    // A fast stop still writes a shutdown checkpoint: after earlier drills' writes that can
    // take seconds, during which the database is as good as down.
    const stopAt = Date.now();
    await stopEmbeddedPostgres(dataDir);
    const downAt = Date.now();
    // While it is down: answers come quickly, and say so.
    const probes: { status: number; ms: number }[] = [];
    for (let i = 0; i < 5; i++) {
      const t = Date.now();
      const res = await drill.call(base, '{ webhooks { totalCount } }', {}).catch(() => ({ status: 0 }));
      probes.push({ status: res.status, ms: Date.now() - t });
      await sleep(300);
    }
    const health = await fetch(`${base}/health`);
    const ready = await fetch(`${base}/ready`);

    await startEmbeddedPostgres({ dataDir, settings: TEST_CLUSTER_SETTINGS });
    const upAt = Date.now();
    await eventually(
      async () => (await drill.call(base, '{ webhooks { totalCount } }', {})).status === 200,
      30_000,
      100,
    );
    const recoveredMs = Date.now() - upAt;

    const { eventIds, rejected } = await publishing;
    const lost = await awaitDeliveries(receivers, eventIds, 120_000, 500);
    report('database restart', {
      events: EVENTS,
      stopTookMs: downAt - stopAt,
      downForMs: upAt - downAt,
      answersWhileDown: probes,
      publishesRejectedAndRetried: rejected,
      apiRecoveredMsAfterRestart: recoveredMs,
      delivered: receivers.map((r) => tally(r.received).distinct.size),
      duplicates: receivers.map((r) => tally(r.received).duplicates),
      lost,
    });
    expect(lost).toBe(0);
    for (const probe of probes) {
      expect(probe.status).toBe(503);
      expect(probe.ms).toBeLessThan(7000);
    }
    expect(health.status).toBe(200);
    expect(ready.status).toBe(503);
    expect(rejected).toBeGreaterThan(0);
    expect(eventIds).toHaveLength(EVENTS);
    expect(recoveredMs).toBeLessThan(15_000);
    server.signal('SIGTERM');
    expect(await server.exited).toBe(0);
  });
});
