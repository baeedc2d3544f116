import { beforeAll, describe, expect, it } from 'vitest';
import { RECOVER_BATCH } from '../../src/queue/recover.js';
import { syncSwitchedBacklogs } from '../../src/queue/sync-held.js';
import { createTestApp, type TestApp } from '../support/app.js';
import { conversationEnded, PUBLISH, REGISTER, UPDATE, validWebhook } from '../support/operations.js';
import { createReceiver, eventually } from '../support/receiver.js';

/** recoverDeliveries: a new attempt for every FAILED delivery of a webhook in a time range. */
let app: TestApp;
beforeAll(async () => {
  // Two attempts, 100 ms apart, then FAILED for good; retention of a day for the range check.
  app = await createTestApp({ DELIVERY_RETRY_SCHEDULE: '100ms', RETENTION: '1d', CIRCUIT_BREAKER_FAILURES: '1000' });
  app.startWorker();
});

const RECOVER = `mutation Recover($webhookId: ID!, $since: DateTime!, $until: DateTime) {
  recoverDeliveries(webhookId: $webhookId, since: $since, until: $until)
}`;

const minutesAgo = (minutes: number) => new Date(Date.now() - minutes * 60_000).toISOString();

async function failedDeliveries(workspaceId: string) {
  return app.sql<{ id: string; status: string; createdAt: Date }[]>`
    select id, status, created_at from deliveries where workspace_id = ${workspaceId} order by created_at, id`;
}

describe('recoverDeliveries', () => {
  it('sends every failed delivery again once the schedule has run out, and is safe to call twice', async () => {
    const { apiKey, workspaceId } = await app.newWorkspace();
    let up = false;
    const receiver = await createReceiver(() => ({ status: up ? 200 : 503 }));
    const webhook = (
      await app.graphql(REGISTER, { apiKey, variables: { input: validWebhook({ url: receiver.url, agentId: 'r1' }) } })
    ).data?.registerWebhook;
    for (let i = 0; i < 3; i++) await app.graphql(PUBLISH, { apiKey, variables: { input: conversationEnded('r1') } });
    await eventually(async () => (await failedDeliveries(workspaceId)).every((d) => d.status === 'failed'));
    expect(receiver.received.length).toBe(6);

    up = true;
    const res = await app.graphql(RECOVER, { apiKey, variables: { webhookId: webhook.id, since: minutesAgo(5) } });
    expect(res.errors).toBeUndefined();
    expect(res.data?.recoverDeliveries).toBe(3);
    // Twice: they are pending or succeeded now, not failed.
    const again = await app.graphql(RECOVER, { apiKey, variables: { webhookId: webhook.id, since: minutesAgo(5) } });
    expect(again.data?.recoverDeliveries).toBe(0);
    await eventually(async () => (await failedDeliveries(workspaceId)).every((d) => d.status === 'succeeded'));
    expect(receiver.received.length).toBe(9);
    expect(new Set(receiver.received.slice(6).map((r) => r.headers['webhook-id'])).size).toBe(3);
  });

  it('takes only deliveries created in [since, until)', async () => {
    const { apiKey, workspaceId } = await app.newWorkspace();
    const receiver = await createReceiver(() => ({ status: 500 }));
    const webhook = (
      await app.graphql(REGISTER, { apiKey, variables: { input: validWebhook({ url: receiver.url, agentId: 'r2' }) } })
    ).data?.registerWebhook;
    for (let i = 0; i < 4; i++) await app.graphql(PUBLISH, { apiKey, variables: { input: conversationEnded('r2') } });
    await eventually(async () => (await failedDeliveries(workspaceId)).every((d) => d.status === 'failed'));
    const rows = await failedDeliveries(workspaceId);
    // [second, fourth): the second and third.
    const since = rows[1]?.createdAt.toISOString();
    const until = rows[3]?.createdAt.toISOString();
    const res = await app.graphql(RECOVER, { apiKey, variables: { webhookId: webhook.id, since, until } });
    expect(res.data?.recoverDeliveries).toBe(2);
  });

  it('goes through more failed deliveries than one batch holds; a paused webhook keeps them until resumed', async () => {
    const { apiKey, workspaceId } = await app.newWorkspace();
    const webhook = (
      await app.graphql(REGISTER, {
        apiKey,
        variables: { input: validWebhook({ url: 'http://127.0.0.1:9/hooks', agentId: 'r3', active: false }) },
      })
    ).data?.registerWebhook;
    const COUNT = 2 * RECOVER_BATCH + 500;
    const [event] = await app.sql<{ id: string }[]>`
      insert into events (id, workspace_id, agent_id, type, payload)
      values ('evt_recoverbatch001', ${workspaceId}, 'r3', 'conversation_ended', '{}') returning id`;
    // Failed deliveries spread over the last hour, several sharing a created_at (the walk's tie-break).
    await app.sql`
      insert into deliveries (id, workspace_id, event_id, webhook_id, status, attempt_count, next_attempt_at, created_at)
      select 'dlv_recover' || lpad(i::text, 8, '0'), ${workspaceId}, ${event?.id as string}, ${webhook.id}, 'failed', 6, null,
        now() - (i / 3) * interval '1 second'
      from generate_series(1, ${COUNT}) as i`;

    const res = await app.graphql(RECOVER, { apiKey, variables: { webhookId: webhook.id, since: minutesAgo(120) } });
    expect(res.data?.recoverDeliveries).toBe(COUNT);
    const [row] = await app.sql`
      select count(*) filter (where status = 'pending' and held)::int as held, count(*)::int as n
      from deliveries where webhook_id = ${webhook.id}`;
    expect(row).toEqual({ held: COUNT, n: COUNT });
    // Resuming releases them into the queue.
    await app.graphql(UPDATE, { apiKey, variables: { id: webhook.id, input: { active: true } } });
    // Released by the workers in batches (queue/sync-held.ts), as they do on hearing of the resume.
    await syncSwitchedBacklogs(app.sql);
    const [after] = await app.sql`
      select count(*) filter (where held)::int as held from deliveries where webhook_id = ${webhook.id}`;
    expect(after?.held).toBe(0);
  });

  it('refuses a range the wrong way round or older than retention, and foreign webhooks', async () => {
    const { apiKey } = await app.newWorkspace();
    const other = await app.newWorkspace();
    const webhook = (await app.graphql(REGISTER, { apiKey, variables: { input: validWebhook({ agentId: 'r4' }) } }))
      .data?.registerWebhook;
    const backwards = await app.graphql(RECOVER, {
      apiKey,
      variables: { webhookId: webhook.id, since: minutesAgo(1), until: minutesAgo(2) },
    });
    expect(backwards.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', issues: [{ path: ['since'] }] });
    const tooOld = await app.graphql(RECOVER, {
      apiKey,
      variables: { webhookId: webhook.id, since: minutesAgo(25 * 60) },
    });
    expect(tooOld.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', issues: [{ path: ['since'] }] });
    const foreign = await app.graphql(RECOVER, {
      apiKey: other.apiKey,
      variables: { webhookId: webhook.id, since: minutesAgo(1) },
    });
    expect(foreign.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    const badDate = await app.graphql(RECOVER, { apiKey, variables: { webhookId: webhook.id, since: 'yesterday' } });
    expect(badDate.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });
});
