import { describe, expect, it } from 'vitest';
import { CROWDED_SHARE, createBuckets } from '../../src/auth/use-rate-limit.js';
import { createTestApp } from '../support/app.js';
import { congestLoop } from '../support/congestion.js';
import { conversationEnded } from '../support/operations.js';
import { sleep } from '../support/receiver.js';

/**
 * The heavy rates (bytes read, events published, deliveries fanned out) are what a key may
 * use of a process with room. While the process is crowded for a key (its event loop
 * congested, other keys served too) they refill at an eighth and hold at most an eighth of
 * their burst, never less than one operation's worth.
 */
describe('heavy rates while the process is crowded', () => {
  it('refill at an eighth and hold an eighth of the burst (never less than `atLeast`); in full again once it is not', () => {
    let t = 0;
    let crowded = false;
    const buckets = createBuckets(100, 2_000, () => t, { when: () => crowded, atLeast: 100 });
    expect(CROWDED_SHARE).toBe(1 / 8);
    expect(buckets.take('k', 1_000)).toBe(0);
    crowded = true;
    // 1,000 held, an eighth of the burst kept: 250.
    expect(buckets.take('k', 250)).toBe(0);
    // Refilling at 12.5 a second: 100 more take 8 s.
    expect(buckets.take('k', 100)).toBe(8);
    t += 4_000;
    expect(buckets.take('k', 50)).toBe(0);
    crowded = false;
    t += 1_000;
    // The full rate again: 100 a second, up to the full burst.
    expect(buckets.take('k', 100)).toBe(0);
    t += 60_000;
    expect(buckets.take('k', 2_000)).toBe(0);
    // A small burst is never cut below one operation's worth.
    const small = createBuckets(100, 400, () => t, { when: () => true, atLeast: 100 });
    expect(small.take('k', 100)).toBe(0);
    expect(small.take('k', 1)).toBeGreaterThan(0);
    // Another key is not touched by this one's share.
    expect(buckets.crowded('other')).toBe(false);
  });

  it('a debt run up while crowded is paid off at the crowded share, even once the crowding has passed', () => {
    let t = 0;
    let crowded = true;
    const buckets = createBuckets(100, 2_000, () => t, { when: () => crowded });
    // A big read charged while crowded: 250 held, 1,000 charged, 750 owed.
    buckets.charge('k', 1_000);
    crowded = false;
    // Paid at 12.5 a second, not 100: 60 s, not 7.5 s.
    expect(buckets.take('k', 0)).toBe(60);
    t += 30_000;
    expect(buckets.take('k', 0)).toBe(30);
    t += 30_000;
    expect(buckets.take('k', 0)).toBe(0);
    // Paid off, the full rate again.
    t += 1_000;
    expect(buckets.take('k', 100)).toBe(0);
    // A debt run up while not crowded is paid at the full rate, if no crowding is seen meanwhile.
    buckets.charge('k', 2_500);
    expect(buckets.take('k', 0)).toBe(25);
    expect(buckets.crowded('k')).toBe(false);
    // Crowding seen while it is owed (the read that ran it up crowded the loop, and was
    // charged before that was seen): the rest is a crowded debt, said so in refusals.
    // 5 s later, crowded: 2,500 - 5 × 12.5 owed (what has refilled meanwhile is reckoned at
    // the share of the moment it is read), 195 s at the crowded share, crowded or not.
    t += 5_000;
    crowded = true;
    expect(buckets.take('k', 0)).toBe(195);
    crowded = false;
    expect(buckets.take('k', 0)).toBe(195);
    expect(buckets.crowded('k')).toBe(true);
    // Taking more once it is paid: the debt at the crowded share, the rest at the full rate.
    expect(buckets.take('k', 100)).toBe(196);
    t += 196_000;
    expect(buckets.take('k', 0)).toBe(0);
    expect(buckets.crowded('k')).toBe(false);
  });

  it('in the server, its loop congested while another key is served: a key publishes an eighth of its burst, told why, then all of it again', async () => {
    // 100 events a second, bursts of 2,000: what refills while the loop is slow stays small.
    const app = await createTestApp({ PUBLISH_RATE_LIMIT_PER_SECOND: '100', PUBLISH_RATE_LIMIT_BURST: '2000' });
    const url = await app.listen();
    const post = (apiKey: string, body: unknown) =>
      fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': apiKey },
        body: JSON.stringify(body),
      });
    const batch = {
      query: 'mutation($inputs: [PublishEventInput!]!) { publishEvents(inputs: $inputs) { id } }',
      variables: { inputs: Array.from({ length: 100 }, () => conversationEnded('busy')) },
    };
    const publish = async (apiKey: string) => {
      const res = await post(apiKey, batch);
      return { status: res.status, body: (await res.json()) as { errors?: { message: string }[] } };
    };
    const busy = await app.newWorkspace();
    const bystander = await app.newWorkspace();
    // Each key's first request looks it up; the door knows it live once the revocation listener runs.
    for (const key of [busy.apiKey, bystander.apiKey])
      await (await post(key, { query: '{ workspace { id } }' })).text();
    await sleep(1_000);

    // The loop has room: five batches pass (500 of a burst of 2,000).
    for (let i = 0; i < 5; i++) expect((await publish(busy.apiKey)).status).toBe(200);

    const congestion = congestLoop(50);
    // The bystander keeps being served, so the process is shared.
    let serving = true;
    const bystanding = (async () => {
      while (serving) {
        await (await post(bystander.apiKey, { query: '{ workspace { id } }' })).text();
        await sleep(100);
      }
    })();
    await sleep(400);
    const crowded: number[] = [];
    let refusal = '';
    for (let i = 0; i < 10; i++) {
      const { status, body } = await publish(busy.apiKey);
      crowded.push(status);
      if (status === 429) refusal = body.errors?.[0]?.message ?? '';
    }
    serving = false;
    await bystanding;
    await congestion.stop();
    // 1,500 held, of which the crowded bucket keeps an eighth of the burst (250), refilling
    // at 12.5 a second: two or three batches of the ten pass (uncrowded, all ten would:
    // 1,000 of the 1,500 held).
    const passed = crowded.filter((status) => status === 200).length;
    expect(passed, JSON.stringify(crowded)).toBeGreaterThanOrEqual(2);
    expect(passed, JSON.stringify(crowded)).toBeLessThanOrEqual(3);
    expect(refusal).toContain('at most 100 events published per second');
    expect(refusal).toContain('1/8 of that while this server is congested and serving other API keys too');

    // The loop relieved (congestion is held a second past its last reading): the full rate again.
    await sleep(2_500);
    expect((await publish(busy.apiKey)).status).toBe(200);
  });
});
