import { beforeAll, describe, expect, it } from 'vitest';
import { DELIVERY_UPDATES, type DeliveryChange, encodeChanges } from '../../src/db/channels.js';
import { createListener } from '../../src/db/listener.js';
import { createDeliveryFeed, type DeliveryFeed, FellBehind } from '../../src/live/delivery-feed.js';
import { createTestApp, type TestApp } from '../support/app.js';
import { cleanup } from '../support/cleanup.js';
import { REGISTER, validWebhook } from '../support/operations.js';
import { eventually, sleep } from '../support/receiver.js';

/**
 * The feed itself, on a real listening session: changes are sent with NOTIFY as writers send
 * them, and each subscriber's pages are collected as they come.
 */
let app: TestApp;
let feed: DeliveryFeed;
beforeAll(async () => {
  app = await createTestApp();
  const listener = createListener(app.db.url);
  feed = createDeliveryFeed(app.sql, { listener });
  cleanup(async () => {
    await feed.close();
    await listener.close();
  });
});

const notify = (changes: DeliveryChange[]) => app.sql`select pg_notify(${DELIVERY_UPDATES}, ${encodeChanges(changes)})`;

/** A subscriber that keeps every id it is handed, and how it ended. */
function collect(options: { workspaceId: string; agents?: string[] }) {
  const stop = new AbortController();
  const ids: string[] = [];
  const ended = (async () => {
    try {
      for await (const page of feed.subscribe({ ...options, signal: stop.signal })) ids.push(...page.ids);
    } catch (error) {
      return error;
    }
  })();
  cleanup(() => stop.abort());
  return { ids, ended, stop: () => stop.abort() };
}

async function workspaceWithAgents() {
  const { apiKey, workspaceId } = await app.newWorkspace();
  const register = async (agentId: string) =>
    (await app.graphql(REGISTER, { apiKey, variables: { input: validWebhook({ agentId }) } })).data?.registerWebhook
      .id as string;
  return { workspaceId, a: await register('agent_a'), b: await register('agent_b') };
}

/** Resolves once `everything` (an unscoped subscriber of the workspace) hears a probe: LISTEN is on. */
async function listening(workspaceId: string, webhookId: string, everything: { ids: string[] }) {
  const probe = `dlv_probe_${Math.random()}`;
  await eventually(async () => {
    await notify([{ workspaceId, webhookId, deliveryId: probe }]);
    return everything.ids.includes(probe);
  });
}

describe('the delivery feed', () => {
  it("scoped to agents, queues only their webhooks' changes (each unknown webhook's agent read once); unscoped, every change of the workspace", async () => {
    const { workspaceId, a, b } = await workspaceWithAgents();
    const everything = collect({ workspaceId });
    const portal = collect({ workspaceId, agents: ['agent_a'] });
    await listening(workspaceId, a, everything);
    await notify([
      { workspaceId, webhookId: b, deliveryId: 'dlv_b1' },
      { workspaceId, webhookId: a, deliveryId: 'dlv_a1' },
      { workspaceId, webhookId: b, deliveryId: 'dlv_b2' },
      { workspaceId: 'ws_other', webhookId: a, deliveryId: 'dlv_elsewhere' },
    ]);
    await eventually(async () => everything.ids.includes('dlv_b2') && portal.ids.includes('dlv_a1'));
    // Read once and remembered: with the webhooks table locked, its next change still passes.
    const locker = await app.sql.reserve();
    try {
      await locker`begin`;
      await locker`lock table webhooks in access exclusive mode`;
      await notify([{ workspaceId, webhookId: a, deliveryId: 'dlv_a2' }]);
      await eventually(async () => portal.ids.includes('dlv_a2'));
    } finally {
      await locker`rollback`;
      locker.release();
    }
    expect(portal.ids.filter((id) => !id.startsWith('dlv_probe'))).toEqual(['dlv_a1', 'dlv_a2']);
    expect(everything.ids.filter((id) => !id.startsWith('dlv_probe'))).toEqual([
      'dlv_b1',
      'dlv_a1',
      'dlv_b2',
      'dlv_a2',
    ]);
  });

  it("while the agents cannot be read, at most 50 notices of a workspace wait for them: past that its scoped feeds fall behind, the others hear everything, and other workspaces' portals are untouched", async () => {
    const { workspaceId, a } = await workspaceWithAgents();
    const everything = collect({ workspaceId });
    const portal = collect({ workspaceId, agents: ['agent_a'] });
    await listening(workspaceId, a, everything);
    // Another workspace's portal, its webhook's agent already known to the feed.
    const other = await workspaceWithAgents();
    const otherEverything = collect({ workspaceId: other.workspaceId });
    const otherPortal = collect({ workspaceId: other.workspaceId, agents: ['agent_a'] });
    await listening(other.workspaceId, other.a, otherEverything);
    await eventually(async () => otherPortal.ids.length > 0);
    // The webhooks table locked: reading any webhook's agent waits.
    const locker = await app.sql.reserve();
    try {
      await locker`begin`;
      await locker`lock table webhooks in access exclusive mode`;
      // 51 notices, each naming a webhook the feed has never seen.
      for (let i = 0; i < 51; i++) {
        await notify([{ workspaceId, webhookId: `wh_unseen_${i}`, deliveryId: `dlv_unseen_${i}` }]);
      }
      expect(await portal.ended).toBeInstanceOf(FellBehind);
      await eventually(async () => everything.ids.includes('dlv_unseen_50'));
      expect(portal.ids.filter((id) => id.startsWith('dlv_unseen'))).toEqual([]);
      // The other workspace's portal waits for nothing and is not closed.
      await notify([{ workspaceId: other.workspaceId, webhookId: other.a, deliveryId: 'dlv_other' }]);
      await eventually(async () => otherPortal.ids.includes('dlv_other'));
    } finally {
      await locker`rollback`;
      locker.release();
    }
    // Once they can be read, what waited is handed out, and a new portal feed hears its
    // agents again (one that subscribes while the line is still full falls behind at once).
    await eventually(async () => {
      const again = collect({ workspaceId, agents: ['agent_a'] });
      await notify([{ workspaceId, webhookId: a, deliveryId: 'dlv_after' }]);
      await sleep(100);
      again.stop();
      return again.ids.includes('dlv_after');
    });
  });
});
