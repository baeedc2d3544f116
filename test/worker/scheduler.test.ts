import { describe, expect, it } from 'vitest';
import type { ClaimedDelivery } from '../../src/queue/claim.js';
import { createPrefetchBuffer } from '../../src/worker/prefetch-buffer.js';
import { createScheduler, FLOWING_FOR_MS, SET_ASIDE_AFTER_MS } from '../../src/worker/scheduler.js';
import { createSlots } from '../../src/worker/slots.js';

const claimed = (id: string, webhookId: string, workspaceId: string, share: number) =>
  ({ id, webhookId, workspaceId, share }) as ClaimedDelivery;

/** A scheduler on a clock the test moves by hand. */
function scheduled(limits = { total: 8, perWorkspace: 8, perWebhook: 2 }, aheadWaitMs = 1000) {
  const clock = { now: 0 };
  const slots = createSlots(limits);
  const scheduler = createScheduler({
    slots,
    prefetched: createPrefetchBuffer(),
    aheadWaitMs,
    leaseMs: 30_000,
    now: () => clock.now,
  });
  const startAll = () => {
    const started = [];
    for (let entry = scheduler.start(); entry; entry = scheduler.start()) started.push(entry);
    return started;
  };
  return { clock, slots, scheduler, startAll };
}

describe('the worker scheduler, on a fake clock', () => {
  it('claims one share ahead only for a webhook whose last attempt went well, and only for FLOWING_FOR_MS', () => {
    const { clock, scheduler, startAll } = scheduled();
    expect(scheduler.claimRequest().limit).toBe(8); // nothing flowing: the free slots alone
    scheduler.claimed([claimed('d1', 'a', 'x', 2)]);
    const [entry] = startAll();
    if (!entry) throw new Error('nothing started');
    scheduler.finished(entry);
    expect(scheduler.judged('a', true)).toEqual([]);
    const request = scheduler.claimRequest();
    expect(request.limit).toBe(16); // room ahead: a second share, no more in all than the slots
    expect(request.inFlight.get('a')).toBeUndefined(); // nothing of a's claimed here now
    scheduler.claimed([claimed('d2', 'a', 'x', 2)]);
    scheduler.claimed([claimed('d3', 'a', 'x', 2), claimed('d4', 'a', 'x', 2)]);
    const [s2, s3] = startAll(); // a's share is 2: d4 waits in the buffer
    expect(scheduler.claimRequest().inFlight.get('a')).toEqual({
      workspaceId: 'x',
      count: 3,
      aside: undefined,
      ahead: true,
    });
    clock.now += FLOWING_FOR_MS;
    expect(scheduler.claimRequest().inFlight.get('a')?.ahead).toBe(false);
    scheduler.sweep(); // forgets a: nothing flows any more
    expect(scheduler.claimRequest().limit).toBe(6);
    for (const e of [s2, s3]) if (e) scheduler.finished(e);
  });

  it('hands back what waits for a webhook whose attempt went badly', () => {
    const { scheduler, startAll } = scheduled();
    scheduler.claimed(['d1', 'd2', 'd3', 'd4'].map((id) => claimed(id, 'a', 'x', 2)));
    const [first] = startAll();
    if (!first) throw new Error('nothing started');
    scheduler.finished(first);
    expect(scheduler.judged('a', false).map((c) => c.id)).toEqual(['d3', 'd4']);
    expect(scheduler.start()).toBeUndefined();
  });

  it('hands back what waited in the buffer longer than the ahead wait, and no sooner', () => {
    const { clock, scheduler, startAll } = scheduled({ total: 8, perWorkspace: 8, perWebhook: 1 }, 1000);
    scheduler.claimed([claimed('d1', 'a', 'x', 1), claimed('d2', 'a', 'x', 1)]);
    clock.now += 500;
    scheduler.claimed([claimed('d3', 'a', 'x', 1)]);
    expect(startAll().map((e) => e.claim.id)).toEqual(['d1']);
    clock.now = 1000; // d2 has waited exactly the ahead wait
    expect(scheduler.sweep().handBack).toEqual([]);
    clock.now = 1001;
    expect(scheduler.sweep().handBack.map((c) => c.id)).toEqual(['d2']);
    clock.now = 1500;
    expect(scheduler.sweep().handBack).toEqual([]);
    clock.now = 1501;
    expect(scheduler.sweep().handBack.map((c) => c.id)).toEqual(['d3']);
  });

  it('sets aside an attempt its endpoint has held for SET_ASIDE_AFTER_MS, so its workspace may start another', () => {
    const { clock, slots, scheduler, startAll } = scheduled({ total: 8, perWorkspace: 4, perWebhook: 4 });
    scheduler.claimed(['h1', 'h2', 'h3', 'h4'].map((id) => claimed(id, 'hung', 'x', 4)));
    const hung = startAll();
    expect(hung.map((e) => e.claim.id)).toEqual(['h1', 'h2', 'h3', 'h4']);
    scheduler.claimed([claimed('o1', 'other', 'x', 4)]); // x's share is full: o1 waits
    for (const entry of hung) scheduler.sent(entry);
    clock.now += SET_ASIDE_AFTER_MS - 1;
    expect(scheduler.sweep().setAside).toBe(false);
    expect(scheduler.start()).toBeUndefined();
    clock.now += 1;
    expect(scheduler.sweep().setAside).toBe(true); // a quarter of the share at most: one
    expect(slots.ofWorkspace('x')).toBe(3);
    expect(scheduler.start()?.claim.id).toBe('o1');
  });

  it('asks for a claim after an attempt once a batch of slots is free, unless its webhook is still stocked', () => {
    const { scheduler, startAll } = scheduled({ total: 8, perWorkspace: 8, perWebhook: 4 });
    scheduler.claimed(['d1', 'd2', 'd3', 'd4', 'd5', 'd6'].map((id) => claimed(id, 'a', 'x', 4)));
    const started = startAll(); // 4 in flight, 2 waiting: half a share
    expect(started).toHaveLength(4);
    expect(scheduler.wantsClaimAfter(claimed('d1', 'a', 'x', 4))).toBe(false); // stocked
    expect(scheduler.wantsClaimAfter(claimed('e1', 'b', 'x', 4))).toBe(true); // 4 free, b has nothing waiting
  });
});
