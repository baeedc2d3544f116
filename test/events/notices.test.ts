import { Webhook } from 'standardwebhooks';
import { beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../support/app.js';
import { conversationEnded, GET, PUBLISH, REGISTER, validWebhook } from '../support/operations.js';
import { createReceiver, eventually, type Reply } from '../support/receiver.js';

/**
 * Operational notices, end to end: real receivers, a real worker, and a short retry
 * schedule (three attempts, 50 ms apart) so deliveries fail for good within the test.
 * A notice's deliveries are written in the transaction that emits it, so once a notice
 * has arrived anywhere, the database already holds every delivery it will ever have.
 */
let app: TestApp;
beforeAll(async () => {
  app = await createTestApp({ DELIVERY_RETRY_SCHEDULE: '50ms,50ms' });
  app.startWorker();
});

async function register(apiKey: string, input: Record<string, unknown>) {
  const res = await app.graphql(REGISTER, { apiKey, variables: { input: validWebhook(input) } });
  expect(res.errors).toBeUndefined();
  return res.data?.registerWebhook as { id: string; secret: string; name: string; url: string; agentId: string };
}

const answering = (reply: Reply) => createReceiver(() => reply);

const deliveriesOf = async (webhookId: string) =>
  app.sql<{ id: string; type: string; status: string }[]>`
    select d.id, e.type, d.status from deliveries d join events e on e.id = d.event_id where d.webhook_id = ${webhookId}`;

const noticesIn = async (workspaceId: string, type: string) =>
  app.sql<{ id: string; payload: string }[]>`
    select id, payload from events where workspace_id = ${workspaceId} and type = ${type}`;

describe('webhook.disabled', () => {
  it('a 410 sends exactly one notice to another webhook of the workspace, whatever its agent; none to itself or to another workspace', async () => {
    const { apiKey, workspaceId } = await app.newWorkspace();
    const other = await app.newWorkspace();
    const gone = await answering({ status: 410 });
    const watcher = await answering({ status: 200 });
    const outsider = await answering({ status: 200 });
    const goneHook = await register(apiKey, {
      name: 'Gone endpoint',
      url: gone.url,
      agentId: 'agent-410',
      events: ['CONVERSATION_ENDED', 'WEBHOOK_DISABLED', 'DELIVERY_FAILED'],
    });
    const watcherHook = await register(apiKey, {
      url: watcher.url,
      agentId: 'another-agent',
      events: ['WEBHOOK_DISABLED'],
    });
    const outsiderHook = await register(other.apiKey, {
      url: outsider.url,
      agentId: 'agent-410',
      events: ['WEBHOOK_DISABLED', 'DELIVERY_FAILED'],
    });

    await app.graphql(PUBLISH, { apiKey, variables: { input: conversationEnded('agent-410') } });
    await watcher.waitFor(1, 15_000);

    const disabled = (await app.graphql(GET, { apiKey, variables: { id: goneHook.id } })).data?.webhook;
    expect(disabled).toMatchObject({ active: false, disabledReason: expect.stringMatching(/410 Gone/) });
    const [request] = watcher.received;
    const notice = new Webhook(watcherHook.secret).verify(
      request?.body ?? '',
      request?.headers as Record<string, string>,
    ) as Record<string, unknown>;
    expect(notice).toEqual({
      id: request?.headers['webhook-id'],
      type: 'webhook.disabled',
      timestamp: expect.any(String),
      workspaceId,
      agentId: 'agent-410',
      data: { webhookId: goneHook.id, name: 'Gone endpoint', url: gone.url, reason: disabled.disabledReason },
    });
    // A real event of the workspace: readable through the API.
    const event = await app.graphql(`query($id: ID!) { event(id: $id) { type agentId data } }`, {
      apiKey,
      variables: { id: notice.id },
    });
    expect(event.data?.event).toMatchObject({ type: 'webhook.disabled', agentId: 'agent-410' });

    expect(await noticesIn(workspaceId, 'webhook.disabled')).toHaveLength(1);
    expect((await deliveriesOf(watcherHook.id)).map((d) => d.type)).toEqual(['webhook.disabled']);
    // Never about itself (the 410's delivery.failed included), never in another workspace.
    expect((await deliveriesOf(goneHook.id)).map((d) => d.type)).toEqual(['conversation_ended']);
    expect(await deliveriesOf(outsiderHook.id)).toEqual([]);
    expect(await noticesIn(other.workspaceId, 'webhook.disabled')).toEqual([]);
    expect(gone.received).toHaveLength(1);
  });
});

describe('webhook.disabled after DELIVERY_DISABLE_AFTER of failures', () => {
  it('is emitted once when the rule turns the webhook off', async () => {
    const other = await createTestApp({
      DELIVERY_RETRY_SCHEDULE: Array(30).fill('50ms').join(','),
      DELIVERY_DISABLE_AFTER: '300ms',
      CIRCUIT_BREAKER_FAILURES: '1000',
    });
    other.startWorker();
    const { apiKey, workspaceId } = await other.newWorkspace();
    const failing = await answering({ status: 500 });
    const watcher = await answering({ status: 200 });
    const reg = async (input: Record<string, unknown>) =>
      (await other.graphql(REGISTER, { apiKey, variables: { input: validWebhook(input) } })).data?.registerWebhook;
    const failingHook = await reg({ url: failing.url, agentId: 'slow-death', events: ['CONVERSATION_ENDED'] });
    await reg({ url: watcher.url, agentId: 'ops', events: ['WEBHOOK_DISABLED'] });

    await other.graphql(PUBLISH, { apiKey, variables: { input: conversationEnded('slow-death') } });
    await watcher.waitFor(1, 15_000);
    const notice = JSON.parse(watcher.received[0]?.body ?? '{}');
    expect(notice).toMatchObject({
      type: 'webhook.disabled',
      data: { webhookId: failingHook.id, reason: expect.stringMatching(/^Every delivery attempt failed since /) },
    });
    const [row] = await other.sql`
      select count(*)::int as n from events where workspace_id = ${workspaceId} and type = 'webhook.disabled'`;
    expect(row?.n).toBe(1);
  });
});

describe('delivery.failed', () => {
  it('a delivery that exhausts its schedule sends exactly one notice to the other subscribed webhooks', async () => {
    const { apiKey, workspaceId } = await app.newWorkspace();
    const failing = await answering({ status: 500, body: 'down for maintenance' });
    const watcher = await answering({ status: 200 });
    const failingHook = await register(apiKey, {
      url: failing.url,
      agentId: 'agent-500',
      events: ['CONVERSATION_ENDED', 'DELIVERY_FAILED'],
    });
    const watcherHook = await register(apiKey, { url: watcher.url, agentId: 'ops', events: ['DELIVERY_FAILED'] });

    const published = await app.graphql(PUBLISH, { apiKey, variables: { input: conversationEnded('agent-500') } });
    await watcher.waitFor(1, 15_000);

    const [failed] = await deliveriesOf(failingHook.id);
    expect(failed).toMatchObject({ type: 'conversation_ended', status: 'failed' });
    const [request] = watcher.received;
    const notice = new Webhook(watcherHook.secret).verify(
      request?.body ?? '',
      request?.headers as Record<string, string>,
    ) as Record<string, unknown>;
    expect(notice).toMatchObject({
      type: 'delivery.failed',
      workspaceId,
      agentId: 'agent-500',
      data: {
        deliveryId: failed?.id,
        eventId: published.data?.publishEvent.id,
        eventType: 'conversation_ended',
        webhookId: failingHook.id,
        attempts: 3,
        lastStatusCode: 500,
        lastError: 'HTTP 500',
      },
    });
    expect(failing.received).toHaveLength(3);
    expect(await noticesIn(workspaceId, 'delivery.failed')).toHaveLength(1);
    expect((await deliveriesOf(failingHook.id)).map((d) => d.type)).toEqual(['conversation_ended']);
    expect((await deliveriesOf(watcherHook.id)).map((d) => d.type)).toEqual(['delivery.failed']);
  });

  it('is not stored when no webhook of the workspace would receive it', async () => {
    const { apiKey, workspaceId } = await app.newWorkspace();
    const failing = await answering({ status: 500 });
    // It subscribes to DELIVERY_FAILED itself, but a notice is never about its recipient.
    const hook = await register(apiKey, {
      url: failing.url,
      agentId: 'agent-alone',
      events: ['CONVERSATION_ENDED', 'DELIVERY_FAILED'],
    });
    await app.graphql(PUBLISH, { apiKey, variables: { input: conversationEnded('agent-alone') } });
    await eventually(async () => (await deliveriesOf(hook.id))[0]?.status === 'failed', 15_000);
    expect(await noticesIn(workspaceId, 'delivery.failed')).toEqual([]);
  });

  it('two failing webhooks subscribed to each other’s failures exchange one notice each, and the chain stops', async () => {
    const { apiKey, workspaceId } = await app.newWorkspace();
    const first = await answering({ status: 503 });
    const second = await answering({ status: 503 });
    const events = ['CONVERSATION_ENDED', 'DELIVERY_FAILED'];
    const a = await register(apiKey, { url: first.url, agentId: 'loop', events });
    const b = await register(apiKey, { url: second.url, agentId: 'loop', events });

    await app.graphql(PUBLISH, { apiKey, variables: { input: conversationEnded('loop') } });
    // Until nothing is pending: from then on no notice can be emitted (they come only with a failure).
    await eventually(async () => {
      const rows = [...(await deliveriesOf(a.id)), ...(await deliveriesOf(b.id))];
      return rows.length === 4 && rows.every((d) => d.status === 'failed');
    }, 20_000);
    expect((await deliveriesOf(a.id)).map((d) => d.type).sort()).toEqual(['conversation_ended', 'delivery.failed']);
    expect((await deliveriesOf(b.id)).map((d) => d.type).sort()).toEqual(['conversation_ended', 'delivery.failed']);
    const notices = (await noticesIn(workspaceId, 'delivery.failed')).map(
      (n) => (JSON.parse(n.payload) as { data: { webhookId: string; eventType: string } }).data,
    );
    expect(notices.map((n) => n.eventType)).toEqual(['conversation_ended', 'conversation_ended']);
    expect(notices.map((n) => n.webhookId).sort()).toEqual([a.id, b.id].sort());
  });
});

describe('notices are the service’s own', () => {
  it('publishEvent refuses a notice type, writing nothing', async () => {
    const { apiKey, workspaceId } = await app.newWorkspace();
    for (const type of ['WEBHOOK_DISABLED', 'DELIVERY_FAILED']) {
      const res = await app.graphql(PUBLISH, {
        apiKey,
        variables: { input: { agentId: 'a', type, data: { webhookId: 'wh_fake' } } },
      });
      expect(res.errors?.[0]?.extensions).toMatchObject({
        code: 'BAD_USER_INPUT',
        issues: [{ path: ['input', 'type'], message: expect.stringMatching(/notice/) }],
      });
    }
    const [row] = await app.sql`select count(*)::int as n from events where workspace_id = ${workspaceId}`;
    expect(row?.n).toBe(0);
  });
});
