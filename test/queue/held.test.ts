import { beforeAll, describe, expect, it } from 'vitest';
import { claimDueDeliveries } from '../../src/queue/claim.js';
import { syncHeldDeliveries, syncSwitchedBacklogs } from '../../src/queue/sync-held.js';
import { createTestApp, type TestApp } from '../support/app.js';
import { conversationEnded, PUBLISH, REGISTER, UPDATE, validWebhook } from '../support/operations.js';
import { createReceiver } from '../support/receiver.js';

/**
 * A paused webhook's backlog is held out of the due index, so claims for everyone else
 * never walk past it. No worker runs until a test starts one: states are read as written.
 */
let app: TestApp;
let apiKey: string;
beforeAll(async () => {
  app = await createTestApp();
  ({ apiKey } = await app.newWorkspace());
});

async function webhookWithBacklog(agentId: string, url: string, events: number) {
  const res = await app.graphql(REGISTER, { apiKey, variables: { input: validWebhook({ url, agentId }) } });
  const id = res.data?.registerWebhook.id as string;
  for (let i = 0; i < events; i++) {
    expect((await app.graphql(PUBLISH, { apiKey, variables: { input: conversationEnded(agentId) } })).errors).toBe(
      undefined,
    );
  }
  return id;
}

const heldStates = async (webhookId: string) =>
  (await app.sql<{ held: boolean }[]>`select held from deliveries where webhook_id = ${webhookId} order by id`).map(
    (row) => row.held,
  );

const claimAll = () =>
  claimDueDeliveries(app.sql, {
    limit: 100,
    perWebhook: 100,
    perWorkspace: 100,
    leaseMs: 60_000,
    claimToken: 'test',
    inFlight: new Map(),
  });

describe('held deliveries', () => {
  it('pausing holds the pending backlog out of claims, resuming releases it and it is delivered', async () => {
    const receiver = await createReceiver();
    const id = await webhookWithBacklog('agent-pause', receiver.url, 3);
    expect(await heldStates(id)).toEqual([false, false, false]);

    await app.graphql(UPDATE, { apiKey, variables: { id, input: { active: false } } });
    // The request only marks the webhook; a claim checks its state itself meanwhile.
    expect(await heldStates(id)).toEqual([false, false, false]);
    expect((await claimAll()).filter((c) => c.webhookId === id)).toEqual([]);
    expect(await syncSwitchedBacklogs(app.sql)).toBe(3);
    expect(await heldStates(id)).toEqual([true, true, true]);
    // Also an operator's UPDATE: every way of switching a webhook holds or releases its backlog.
    await app.sql`update webhooks set active = true where id = ${id}`;
    await syncSwitchedBacklogs(app.sql);
    expect(await heldStates(id)).toEqual([false, false, false]);
    await app.sql`update webhooks set active = false where id = ${id}`;
    await syncSwitchedBacklogs(app.sql);
    expect(await heldStates(id)).toEqual([true, true, true]);
    expect((await claimAll()).filter((c) => c.webhookId === id)).toEqual([]);
    expect(await syncSwitchedBacklogs(app.sql)).toBe(0);

    await app.graphql(UPDATE, { apiKey, variables: { id, input: { active: true } } });
    await syncSwitchedBacklogs(app.sql);
    expect(await heldStates(id)).toEqual([false, false, false]);
    const worker = app.startWorker();
    await receiver.waitFor(3);
    await worker.stop(1000);
  });

  it('a delivery retried by hand while its webhook is paused is not held, and is sent', async () => {
    const receiver = await createReceiver();
    const id = await webhookWithBacklog('agent-manual', receiver.url, 2);
    await app.graphql(UPDATE, { apiKey, variables: { id, input: { active: false } } });
    const [first] = await app.sql<{ id: string }[]>`select id from deliveries where webhook_id = ${id} order by id`;
    const retried = await app.graphql('mutation Retry($id: ID!) { retryDelivery(id: $id) { id status } }', {
      apiKey,
      variables: { id: first?.id },
    });
    expect(retried.errors).toBeUndefined();
    expect((await claimAll()).filter((c) => c.webhookId === id).map((c) => c.id)).toEqual([first?.id]);
  });

  it('syncHeldDeliveries puts right a delivery that missed a pause or a resume', async () => {
    const paused = await webhookWithBacklog('agent-sync-paused', 'http://127.0.0.1:9/', 1);
    const active = await webhookWithBacklog('agent-sync-active', 'http://127.0.0.1:9/', 1);
    await app.graphql(UPDATE, { apiKey, variables: { id: paused, input: { active: false } } });
    await syncSwitchedBacklogs(app.sql);
    // As if published in the instant of the pause, and as if held by a stale pause.
    await app.sql`update deliveries set held = false where webhook_id = ${paused}`;
    await app.sql`update deliveries set held = true where webhook_id = ${active}`;

    expect(await syncHeldDeliveries(app.sql)).toBe(2);
    expect(await heldStates(paused)).toEqual([true]);
    expect(await heldStates(active)).toEqual([false]);
    expect(await syncHeldDeliveries(app.sql)).toBe(0);
  });
});

describe('pausing and resuming a large backlog', () => {
  it('costs the request one row, not the backlog: 12,000 pending deliveries are held by the worker in batches, and released the same way', async () => {
    const receiver = await createReceiver();
    const id = await webhookWithBacklog('agent-large', receiver.url, 1);
    const [first] = await app.sql<{ eventId: string; workspaceId: string }[]>`
      select event_id, workspace_id from deliveries where webhook_id = ${id}`;
    await app.sql`
      insert into deliveries (id, workspace_id, event_id, webhook_id, next_attempt_at)
      select random_id('dlv_'), ${first?.workspaceId ?? ''}, ${first?.eventId ?? ''}, ${id}, now() + interval '1 hour'
      from generate_series(1, 12000)`;
    const pause = await app.graphql(UPDATE, { apiKey, variables: { id, input: { active: false } } });
    expect(pause.errors).toBeUndefined();
    const count = async (held: boolean) =>
      (
        await app.sql<
          { n: number }[]
        >`select count(*)::int as n from deliveries where webhook_id = ${id} and held = ${held}`
      )[0]?.n;
    // The request touched no delivery.
    expect(await count(true)).toBe(0);
    const worker = app.startWorker();
    await expect.poll(() => count(true), { timeout: 10_000, interval: 100 }).toBe(12_001);
    await app.graphql(UPDATE, { apiKey, variables: { id, input: { active: true } } });
    await expect.poll(() => count(false), { timeout: 10_000, interval: 100 }).toBe(12_001);
    await worker.stop(1000);
  });
});

describe('a resumed backlog older than everything the worker is claiming', () => {
  it('is delivered at once: every webhook is its own queue, however old its head', async () => {
    const old = await createReceiver();
    const recent = await createReceiver();
    const oldId = await webhookWithBacklog('agent-old', old.url, 3);
    await app.graphql(UPDATE, { apiKey, variables: { id: oldId, input: { active: false } } });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const worker = app.startWorker();
    await webhookWithBacklog('agent-recent', recent.url, 5);
    await recent.waitFor(5);
    await app.graphql(UPDATE, { apiKey, variables: { id: oldId, input: { active: true } } });
    await old.waitFor(3, 1000);
    await worker.stop(1000);
  });
});
