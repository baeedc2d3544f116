import { describe, expect, it } from 'vitest';
import { createReceiver, eventually, sleep } from '../support/receiver.js';
import { subscribe } from '../support/sse.js';
import { drillSetup, metric, report, tally } from './support.js';

const EVENTS = 1500;

describe('drill: three instances on one database', () => {
  it('publishers spread over all three: every delivery made once, work spread across all three, live feed sees all', async () => {
    const drill = await drillSetup();
    const receivers = await Promise.all([1, 2].map(() => createReceiver(() => ({ status: 200, delayMs: 3 }))));
    const servers = [drill.startServer(), drill.startServer(), drill.startServer()];
    const bases = await Promise.all(servers.map((s) => s.ready));
    const webhookIds: string[] = [];
    for (const receiver of receivers)
      webhookIds.push(await drill.registerAt(bases[0] as string, receiver.url, 'spread'));

    // A live subscriber on the first instance, for every delivery of the workspace.
    const feed = await subscribe(`${bases[0]}/graphql`, 'subscription { deliveryUpdates { id status } }', {
      apiKey: drill.apiKey,
    });
    await sleep(300);
    const { eventIds } = await drill.publishAll(() => bases, 'spread', EVENTS, 12);
    await eventually(async () => receivers.every((r) => tally(r.received).distinct.size === EVENTS), 120_000, 250);
    const succeededInFeed = () =>
      new Set(
        feed.events.filter((e) => e.data?.deliveryUpdates.status === 'SUCCEEDED').map((e) => e.data.deliveryUpdates.id),
      );
    await eventually(async () => succeededInFeed().size === EVENTS * receivers.length, 30_000, 250);
    await feed.close();

    const perInstance = await Promise.all(
      bases.map(async (base) =>
        metric(await (await fetch(`${base}/metrics`)).text(), 'webhook_delivery_attempts_total{outcome="success"}'),
      ),
    );
    const duplicates = receivers.map((r) => tally(r.received).duplicates);
    report('three instances', {
      events: EVENTS,
      deliveries: EVENTS * receivers.length,
      duplicates,
      deliveredByInstance: perInstance,
      liveFeedSucceeded: succeededInFeed().size,
    });
    expect(eventIds).toHaveLength(EVENTS);
    expect(duplicates).toEqual([0, 0]);
    for (const count of perInstance) expect(count).toBeGreaterThan(0);
    expect(perInstance.reduce((a, b) => a + b, 0)).toBe(EVENTS * receivers.length);
    for (const server of servers) server.signal('SIGTERM');
    expect(await Promise.all(servers.map((s) => s.exited))).toEqual([0, 0, 0]);
  });
});
