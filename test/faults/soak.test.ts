import { describe, expect, it } from 'vitest';
import { DELETE, LIST, PUBLISH, REGISTER, UPDATE, validWebhook } from '../support/operations.js';
import { createReceiver, eventually, sleep } from '../support/receiver.js';
import { drillSetup, fullCollections, metric, report } from './support.js';

const SECONDS = Number(process.env.SOAK_SECONDS ?? 120);
// Errors a client is told to expect. The soak registers about 1,500 webhooks on 50 agents
// of one workspace: past MAX_WEBHOOKS_PER_AGENT and _PER_WORKSPACE it meets LIMIT_EXCEEDED.
const SEND_TEST = 'mutation Test($id: ID!) { sendTestEvent(webhookId: $id) { id webhook { id } event { id data } } }';
// The other writers of the same rows, and reads that join what they change.
const ROTATE = 'mutation Rotate($id: ID!) { rotateWebhookSecret(id: $id, expireCurrentInSeconds: 60) { id } }';
const RETRY = 'mutation Retry($id: ID!) { retryDelivery(id: $id) { id webhook { id } event { data } } }';
const RECOVER = 'mutation Recover($id: ID!, $since: DateTime!) { recoverDeliveries(webhookId: $id, since: $since) }';
const ERASE = 'mutation Erase($id: ID!) { eraseEvent(id: $id) }';
const DELIVERIES = `query Deliveries($ids: [ID!]!) {
  deliveries(first: 20) { edges { node { id status webhook { id } event { id data } attempts { statusCode } } } }
  nodes(ids: $ids) { id ... on Delivery { webhook { id } event { data } } ... on Event { data } }
}`;
const DECLARED = new Set(['BAD_USER_INPUT', 'NOT_FOUND', 'RATE_LIMITED', 'LIMIT_EXCEEDED']);

describe('drill: soak', () => {
  it(`${SECONDS} s of mixed load: no undeclared error, flat memory, no file descriptor growth`, async () => {
    const drill = await drillSetup();
    const healthy = await createReceiver();
    const flaky = await createReceiver(() => ({ status: Math.random() < 0.2 ? 500 : 200 }));
    // --trace-gc prints the heap after every full collection: the live heap, which sampled
    // heap use (garbage included) only brackets.
    const spawnedAt = Date.now();
    const server = drill.startServer({}, ['--trace-gc', '--trace-gc-ignore-scavenger']);
    const base = await server.ready;
    await drill.registerAt(base, healthy.url, 'soak');
    await drill.registerAt(base, flaky.url, 'soak');
    const mine: string[] = [];
    // Recent deliveries of test events and events published to the agents whose webhooks come and go.
    const deliveryIds: string[] = [];
    const eventIds: string[] = [];
    const recent = (ids: string[], id: string | undefined) => {
      if (id) ids.push(id);
      if (ids.length > 200) ids.shift();
    };

    const counts: Record<string, number> = {};
    const undeclared: string[] = [];
    const samples: { at: number; rss: number; heap: number; fds: number }[] = [];
    const deadline = Date.now() + SECONDS * 1000;
    let n = 0;

    const sampler = (async () => {
      while (Date.now() < deadline) {
        const text = await (await fetch(`${base}/metrics`)).text();
        samples.push({
          at: Date.now(),
          rss: metric(text, 'process_resident_memory_bytes'),
          heap: metric(text, 'nodejs_heap_size_used_bytes'),
          fds: metric(text, 'process_open_fds'),
        });
        await sleep(5000);
      }
    })();

    const worker = async () => {
      while (Date.now() < deadline) {
        const roll = Math.random();
        const i = n++;
        let res: Awaited<ReturnType<typeof drill.call>>;
        if (roll < 0.1) {
          res = await drill.call(base, REGISTER, {
            input: validWebhook({ agentId: `soak-reg-${i % 50}`, url: healthy.url }),
          });
          if (res.body.data?.registerWebhook) mine.push(res.body.data.registerWebhook.id);
        } else if (roll < 0.17 && mine.length > 0) {
          const id = mine[i % mine.length];
          res = await drill.call(base, UPDATE, { id, input: { name: `renamed ${i}`, active: i % 2 === 0 } });
        } else if (roll < 0.19 && mine.length > 0) {
          // Deleted while others update it, test it and publish to its agent: they wait, or find it gone.
          const [id] = mine.splice(i % mine.length, 1);
          res = await drill.call(base, DELETE, { id });
        } else if (roll < 0.21 && mine.length > 0) {
          res = await drill.call(base, SEND_TEST, { id: mine[i % mine.length] });
          recent(deliveryIds, res.body.data?.sendTestEvent?.id);
        } else if (roll < 0.22 && mine.length > 0) {
          res = await drill.call(base, ROTATE, { id: mine[i % mine.length] });
        } else if (roll < 0.23 && deliveryIds.length > 0) {
          res = await drill.call(base, RETRY, { id: deliveryIds[i % deliveryIds.length] });
        } else if (roll < 0.235 && mine.length > 0) {
          const since = new Date(Date.now() - 60_000).toISOString();
          res = await drill.call(base, RECOVER, { id: mine[i % mine.length], since });
        } else if (roll < 0.24 && eventIds.length > 0) {
          res = await drill.call(base, ERASE, { id: eventIds.splice(i % eventIds.length, 1)[0] });
        } else if (roll < 0.25) {
          res = await drill.call(base, REGISTER, { input: validWebhook({ url: 'not a url' }) });
        } else if (roll < 0.65) {
          // Mostly to the two drill webhooks; some to the agents whose webhooks come and go.
          const agentId = roll < 0.27 ? `soak-reg-${i % 50}` : 'soak';
          res = await drill.call(base, PUBLISH, { input: { agentId, type: 'CONVERSATION_ENDED', data: { i } } });
          if (agentId !== 'soak') recent(eventIds, res.body.data?.publishEvent?.id);
        } else if (roll < 0.68) {
          res = await drill.call(base, DELIVERIES, { ids: [...deliveryIds.slice(-5), ...eventIds.slice(-5)] });
        } else {
          res = await drill.call(base, LIST, { first: 20 });
        }
        const code = res.body.errors?.[0]?.extensions?.code as string | undefined;
        const key = code ?? (res.status === 200 ? 'ok' : `http_${res.status}`);
        counts[key] = (counts[key] ?? 0) + 1;
        if (key !== 'ok' && !DECLARED.has(key)) undeclared.push(JSON.stringify(res.body).slice(0, 300));
      }
    };
    await Promise.all([sampler, ...Array.from({ length: 8 }, worker)]);
    // Held deliveries wait for their paused webhooks.
    await eventually(
      async () => {
        const [row] = await drill.app
          .sql`select count(*)::int as n from deliveries where status = 'pending' and next_attempt_at <= now() and not held`;
        return row?.n === 0;
      },
      60_000,
      500,
    );

    const window = 30_000;
    // The first window starts after 30 s of load: caches (parsed documents, prepared
    // statements) fill during warm-up, and an idle heap is no baseline for a loaded one.
    const start = samples[0]?.at ?? 0;
    const first = samples.filter((s) => s.at - start >= window && s.at - start <= 2 * window);
    const last = samples.filter((s) => (samples.at(-1)?.at ?? 0) - s.at <= window);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const rssFirst = mean(first.map((s) => s.rss));
    const rssLast = mean(last.map((s) => s.rss));
    // The lowest heap in a window is the closest a sample gets to "after a collection";
    // but a window without a full collection has only garbage-laden samples (V8 lets the
    // heap grow to three to four times what is live between two), so its floor moves with
    // GC timing. The heap after each full collection, below, is what stays.
    const heapFloorFirst = Math.min(...first.map((s) => s.heap));
    const heapFloorLast = Math.min(...last.map((s) => s.heap));
    // Full collections from 30 s of load on, the drain included: the first against the last.
    const live = fullCollections(server.output())
      .map((gc) => ({ at: spawnedAt + gc.ms, mb: gc.mb }))
      .filter((gc) => gc.at - start >= window);
    const fdsFirst = Math.max(...first.map((s) => s.fds));
    const fdsLast = Math.max(...last.map((s) => s.fds));
    report('soak', {
      seconds: SECONDS,
      operations: counts,
      undeclaredErrors: undeclared.length,
      deliveries: healthy.received.length + flaky.received.length,
      rssMBAfterWarmUp: Math.round(rssFirst / 1e6),
      rssMBLast30s: Math.round(rssLast / 1e6),
      heapFloorMBAfterWarmUp: Math.round(heapFloorFirst / 1e6),
      heapFloorMBLast30s: Math.round(heapFloorLast / 1e6),
      heapMB: samples.map((s) => Math.round(s.heap / 1e6)),
      liveHeapMBAfterFullGCs: live.map((gc) => Math.round(gc.mb)),
      openFdsAfterWarmUp: fdsFirst,
      openFdsLast30s: fdsLast,
    });
    // With what the server logged of them (an unexpected error's cause is logged, never answered).
    const serverErrors = server
      .output()
      .split('\n')
      .filter((line) => line.includes('"level":50') || line.includes('request failed'));
    expect(undeclared, serverErrors.slice(0, 5).join('\n')).toEqual([]);
    expect(heapFloorLast).toBeLessThan(heapFloorFirst * 1.25 + 30e6);
    // Only with two full collections after warm-up to compare (a lightly loaded run may
    // need just one); the floor above still holds either way.
    if (live.length >= 2) expect(live.at(-1)?.mb).toBeLessThan((live[0]?.mb ?? 0) * 1.25 + 10);
    expect(rssLast).toBeLessThan(rssFirst * 1.5 + 50e6);
    expect(fdsLast).toBeLessThanOrEqual(fdsFirst + 10);
    server.signal('SIGTERM');
    expect(await server.exited).toBe(0);
  });
});
