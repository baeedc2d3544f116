import { beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../support/app.js';
import { conversationEnded, PUBLISH, REGISTER, UPDATE, validWebhook } from '../support/operations.js';
import { createReceiver, eventually } from '../support/receiver.js';

/** Webhook.backlog: what waits to be delivered to a webhook, read for a page of webhooks at once. */
let app: TestApp;
beforeAll(async () => {
  app = await createTestApp({ DELIVERY_RETRY_SCHEDULE: '1h', CIRCUIT_BREAKER_FAILURES: '1000' });
  app.startWorker();
});

const BACKLOG = `query Backlog($id: ID!) { webhook(id: $id) { backlog { pending oldestPendingAt } } }`;
const BACKLOGS = `{ webhooks(first: 100) { edges { node { id backlog { pending oldestPendingAt } } } } }`;

type Backlog = { pending: number; oldestPendingAt: string | null };

async function backlogOf(apiKey: string, id: string): Promise<Backlog> {
  const res = await app.graphql(BACKLOG, { apiKey, variables: { id } });
  expect(res.errors).toBeUndefined();
  return res.data?.webhook.backlog;
}

async function register(apiKey: string, input: Record<string, unknown>): Promise<{ id: string }> {
  const res = await app.graphql(REGISTER, { apiKey, variables: { input: validWebhook(input) } });
  expect(res.errors).toBeUndefined();
  return res.data?.registerWebhook;
}

const publish = (apiKey: string, agentId: string) =>
  app.graphql(PUBLISH, { apiKey, variables: { input: conversationEnded(agentId) } });

describe('Webhook.backlog', () => {
  it('counts the deliveries a paused webhook holds and dates the oldest; nothing once an active one has delivered', async () => {
    const { apiKey } = await app.newWorkspace();
    const failing = await createReceiver(() => ({ status: 503 }));
    const receiver = await createReceiver();
    const paused = await register(apiKey, { agentId: 'held', url: failing.url });
    const active = await register(apiKey, { agentId: 'live', url: receiver.url });
    expect(await backlogOf(apiKey, paused.id)).toEqual({ pending: 0, oldestPendingAt: null });

    // Three fail once (the next attempt is an hour away), then their webhook is paused: it holds them.
    for (let i = 0; i < 3; i++) await publish(apiKey, 'held');
    await failing.waitFor(3);
    const res = await app.graphql(UPDATE, { apiKey, variables: { id: paused.id, input: { active: false } } });
    expect(res.errors).toBeUndefined();
    for (let i = 0; i < 2; i++) await publish(apiKey, 'live');
    const [oldest] = await app.sql<{ createdAt: Date }[]>`
      select min(created_at) as created_at from deliveries where webhook_id = ${paused.id}`;
    expect(await backlogOf(apiKey, paused.id)).toEqual({
      pending: 3,
      oldestPendingAt: oldest?.createdAt.toISOString(),
    });
    await receiver.waitFor(2);
    await eventually(async () => (await backlogOf(apiKey, active.id)).pending === 0);
    expect(await backlogOf(apiKey, active.id)).toEqual({ pending: 0, oldestPendingAt: null });
  });

  it('counts deliveries waiting for a retry of a failing endpoint', async () => {
    const { apiKey } = await app.newWorkspace();
    const failing = await createReceiver(() => ({ status: 500 }));
    const webhook = await register(apiKey, { agentId: 'failing', url: failing.url });
    for (let i = 0; i < 2; i++) await publish(apiKey, 'failing');
    await failing.waitFor(2);
    await eventually(async () => {
      const [row] = await app.sql`select count(*)::int as n from delivery_attempts a
        join deliveries d on d.id = a.delivery_id where d.webhook_id = ${webhook.id}`;
      return row?.n === 2;
    });
    const backlog = await backlogOf(apiKey, webhook.id);
    expect(backlog.pending).toBe(2);
    expect(backlog.oldestPendingAt).not.toBeNull();
  });

  it('gives each webhook of a page its own backlog, and stops counting at 10,000', async () => {
    const { apiKey, workspaceId } = await app.newWorkspace();
    const big = await register(apiKey, { agentId: 'big', url: 'http://127.0.0.1:9/hooks', active: false });
    const small = await register(apiKey, { agentId: 'small', url: 'http://127.0.0.1:9/hooks', active: false });
    const empty = await register(apiKey, { agentId: 'empty', url: 'http://127.0.0.1:9/hooks', active: false });
    await app.sql`
      insert into events (id, workspace_id, agent_id, type, payload)
      values ('evt_backlogbig0001', ${workspaceId}, 'big', 'conversation_ended', '{}')`;
    // Held (the webhooks are paused), created a second apart, the oldest 10,050 s ago.
    await app.sql`
      insert into deliveries (id, workspace_id, event_id, webhook_id, status, held, next_attempt_at, created_at)
      select 'dlv_backlog' || lpad(i::text, 8, '0'), ${workspaceId}, 'evt_backlogbig0001',
        case when i <= 10050 then ${big.id} else ${small.id} end, 'pending', true, now(), now() - i * interval '1 second'
      from generate_series(1, 10057) as i`;
    const res = await app.graphql(BACKLOGS, { apiKey });
    expect(res.errors).toBeUndefined();
    const byId = new Map<string, Backlog>(
      res.data?.webhooks.edges.map((e: { node: { id: string; backlog: Backlog } }) => [e.node.id, e.node.backlog]),
    );
    const [ages] = await app.sql<{ big: Date; small: Date }[]>`
      select min(created_at) filter (where webhook_id = ${big.id}) as big,
        min(created_at) filter (where webhook_id = ${small.id}) as small
      from deliveries where workspace_id = ${workspaceId}`;
    expect(byId.get(big.id)).toEqual({ pending: 10_000, oldestPendingAt: ages?.big.toISOString() });
    expect(byId.get(small.id)).toEqual({ pending: 7, oldestPendingAt: ages?.small.toISOString() });
    expect(byId.get(empty.id)).toEqual({ pending: 0, oldestPendingAt: null });
  });
});
