import { beforeAll, describe, expect, it } from 'vitest';
import type { Pool } from '../../src/db/sql.js';
import { emitNotices, webhookDisabled } from '../../src/events/notices.js';
import { publishEvents } from '../../src/events/publish.js';
import { type Outcome, recordOutcomes } from '../../src/queue/record.js';
import { syncHeldDeliveries, syncSwitchedBacklogs } from '../../src/queue/sync-held.js';
import { createTestApp, type TestApp } from '../support/app.js';
import { PUBLISH, REGISTER, UPDATE, validWebhook } from '../support/operations.js';
import { sleep } from '../support/receiver.js';

/**
 * Requests and the worker change the same rows at once. Each test holds a lock the way one
 * side does (a delete in progress, another request's insert) in a transaction of its own,
 * and checks that the other side waits for it, or steps around it, and then answers as if
 * the two had run one after the other: never a deadlock, never INTERNAL.
 */
let app: TestApp;
beforeAll(async () => {
  app = await createTestApp();
});

/** A transaction of its own, left open until `commit` (or `rollback`). */
async function openTransaction(sql: Pool) {
  const reserved = await sql.reserve();
  await reserved`begin`;
  const end = async (how: 'commit' | 'rollback') => {
    await reserved.unsafe(how);
    reserved.release();
  };
  return { sql: reserved, commit: () => end('commit'), rollback: () => end('rollback') };
}

async function register(apiKey: string, agentId: string, extra: Record<string, unknown> = {}) {
  const res = await app.graphql(REGISTER, {
    apiKey,
    variables: { input: validWebhook({ agentId, url: 'http://127.0.0.1:9/hook', ...extra }) },
  });
  expect(res.errors).toBeUndefined();
  return res.data?.registerWebhook.id as string;
}

/** `n` deliveries of one stored event to the webhook, created over the last `n` ms. */
async function seedDeliveries(workspaceId: string, webhookId: string, n: number, status: 'pending' | 'failed') {
  const eventId = `evt_seed${webhookId.slice(3)}${status}`;
  await app.sql`insert into events (id, workspace_id, agent_id, type, payload, created_at)
    values (${eventId}, ${workspaceId}, 'seeded', 'conversation_ended', '{}', now() - interval '1 minute')`;
  await app.sql`insert into deliveries (id, workspace_id, event_id, webhook_id, status, next_attempt_at, created_at)
    select random_id('dlv_'), ${workspaceId}, ${eventId}, ${webhookId}, ${status},
      case when ${status} = 'pending' then now() + interval '1 hour' end, now() - g * interval '1 ms'
    from generate_series(1, ${n}) g`;
}

/** Whether `work` ends while the caller still holds its lock, or was still waiting after `ms`. */
const endsWithin = async (work: Promise<unknown>, ms: number) =>
  Promise.race([work.then(() => true), sleep(ms).then(() => false)]);

describe('concurrent changes to the same rows', () => {
  it('a publish while its agent’s webhook is being deleted succeeds once the delete commits, without a delivery to it', async () => {
    const { apiKey, workspaceId } = await app.newWorkspace();
    const doomed = await register(apiKey, 'deleting');
    const kept = await register(apiKey, 'deleting');
    const deleting = await openTransaction(app.sql);
    await deleting.sql`delete from webhooks where id = ${doomed}`;
    const published = app.graphql(PUBLISH, {
      apiKey,
      variables: { input: { agentId: 'deleting', type: 'CONVERSATION_ENDED', data: {} } },
    });
    // The publish read the webhook before the delete committed: its delivery waits on the row.
    await sleep(300);
    await deleting.commit();
    const res = await published;
    expect(res.errors).toBeUndefined();
    const deliveries = await app.sql`select webhook_id from deliveries where workspace_id = ${workspaceId}`;
    expect(deliveries.map((d) => d.webhookId)).toEqual([kept]);
  });

  it('a test event to a webhook being deleted answers NOT_FOUND once the delete commits, and writes nothing', async () => {
    const { apiKey, workspaceId } = await app.newWorkspace();
    const doomed = await register(apiKey, 'testing');
    const deleting = await openTransaction(app.sql);
    await deleting.sql`delete from webhooks where id = ${doomed}`;
    const sent = app.graphql('mutation Test($id: ID!) { sendTestEvent(webhookId: $id) { id } }', {
      apiKey,
      variables: { id: doomed },
    });
    await sleep(300);
    await deleting.commit();
    const res = await sent;
    expect(res.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    const [events] = await app.sql`select count(*)::int as n from events where workspace_id = ${workspaceId}`;
    expect(events?.n).toBe(0);
  });

  it('a test event whose webhook is deleted the moment it commits still answers its delivery', async () => {
    const { apiKey } = await app.newWorkspace();
    for (let round = 0; round < 5; round++) {
      const webhookId = await register(apiKey, 'tested');
      // An open circuit makes the test event's transaction update the webhook's row (a probe
      // now), after its delivery is written. Holding the row FOR SHARE stops it there...
      await app.sql`update webhooks set circuit_opened_at = now() where id = ${webhookId}`;
      const holder = await openTransaction(app.sql);
      await holder.sql`select 1 from webhooks where id = ${webhookId} for share`;
      const sent = app.graphql('mutation Test($id: ID!) { sendTestEvent(webhookId: $id) { id status } }', {
        apiKey,
        variables: { id: webhookId },
      });
      await sleep(150);
      // ...with a delete queued behind it, which runs the instant the test event commits.
      const deleted = app.sql`delete from webhooks where id = ${webhookId}`;
      await sleep(100);
      await holder.commit();
      const [res] = await Promise.all([sent, deleted]);
      expect(res.errors).toBeUndefined();
      expect(res.data?.sendTestEvent.status).toBe('PENDING');
    }
  });

  it('a delivery whose webhook is deleted, or whose event is erased, between two reads of one request answers NOT_FOUND for it', async () => {
    const { apiKey, workspaceId } = await app.newWorkspace();
    for (const field of ['webhook', 'event'] as const) {
      const webhookId = await register(apiKey, `vanishing-${field}`);
      await seedDeliveries(workspaceId, webhookId, 1, 'pending');
      const [delivery] = await app.sql`select id, event_id from deliveries where webhook_id = ${webhookId}`;
      // The delivery is read first; the read of its webhook (or event) waits on the table...
      const deleting = await openTransaction(app.sql);
      await deleting.sql.unsafe(`lock table ${field}s in access exclusive mode`);
      const read = app.graphql(`query One($id: ID!) { delivery(id: $id) { id ${field} { id } } }`, {
        apiKey,
        variables: { id: delivery?.id },
      });
      await sleep(300);
      // ...while the webhook (or the event) goes, and its deliveries with it.
      if (field === 'webhook') await deleting.sql`delete from webhooks where id = ${webhookId}`;
      else await deleting.sql`delete from events where id = ${delivery?.eventId}`;
      await deleting.commit();
      const res = await read;
      expect(res.errors?.[0]?.extensions?.code, field).toBe('NOT_FOUND');
      expect(res.errors?.[0]?.path).toEqual(['delivery', field]);
      expect(res.data?.delivery).toBeNull();
    }
  });

  it('a batch whose idempotency keys two other requests are inserting returns their events once both commit', async () => {
    const { workspaceId } = await app.newWorkspace();
    const others = [];
    for (const key of ['first', 'second']) {
      const other = await openTransaction(app.sql);
      await other.sql`insert into events (id, workspace_id, agent_id, type, payload, idempotency_key)
        values (${`evt_other${key}`}, ${workspaceId}, 'keys', 'conversation_ended', ${JSON.stringify({ data: {} })}, ${key})`;
      others.push(other);
    }
    const batch = publishEvents(app.sql, [
      { workspaceId, agentId: 'keys', type: 'conversation_ended', data: {}, idempotencyKey: 'first' },
      { workspaceId, agentId: 'keys', type: 'conversation_ended', data: {}, idempotencyKey: 'second' },
    ]);
    // Each commit fails the batch's transaction once (the key is taken): tried again, it finds the event.
    await sleep(200);
    await others[0]?.commit();
    await sleep(200);
    await others[1]?.commit();
    const published = await batch;
    expect(published.map((p) => [p.event.id, p.created])).toEqual([
      ['evt_otherfirst', false],
      ['evt_othersecond', false],
    ]);
  });

  it('recovering deliveries waits for the webhook’s row before taking any of theirs, so a delete in progress goes first', async () => {
    const { apiKey, workspaceId } = await app.newWorkspace();
    const webhookId = await register(apiKey, 'recovering');
    await seedDeliveries(workspaceId, webhookId, 2_500, 'failed');
    // An open circuit: each recovered batch also asks for the next probe, on the webhook's row.
    await app.sql`update webhooks set circuit_opened_at = now(), consecutive_failures = 10, failing_since = now(),
      next_probe_at = now() + interval '1 minute' where id = ${webhookId}`;
    const deleting = await openTransaction(app.sql);
    // A delete takes the webhook's row first, then its deliveries (the cascade).
    await deleting.sql`select 1 from webhooks where id = ${webhookId} for update`;
    const recovered = app.graphql(
      'mutation Recover($id: ID!, $since: DateTime!) { recoverDeliveries(webhookId: $id, since: $since) }',
      { apiKey, variables: { id: webhookId, since: new Date(Date.now() - 3_600_000).toISOString() } },
    );
    await sleep(300);
    const [free] = await app.sql`select count(*)::int as n from (
      select id from deliveries where webhook_id = ${webhookId} for update skip locked) unlocked`;
    expect(free?.n).toBe(2_500);
    await deleting.sql`delete from webhooks where id = ${webhookId}`;
    await deleting.commit();
    const res = await recovered;
    expect(res.errors).toBeUndefined();
    expect(res.data?.recoverDeliveries).toBe(0);
  });

  it('holding or releasing a switched backlog steps around rows others hold, and moves them on a later call', async () => {
    const { apiKey, workspaceId } = await app.newWorkspace();
    const webhookId = await register(apiKey, 'pausing');
    await seedDeliveries(workspaceId, webhookId, 10, 'pending');
    expect((await app.graphql(UPDATE, { apiKey, variables: { id: webhookId, input: { active: false } } })).errors).toBe(
      undefined,
    );
    // As a delete's cascade, or updateWebhook releasing conversation chains, holds them.
    const other = await openTransaction(app.sql);
    await other.sql`select id from deliveries where webhook_id = ${webhookId} limit 1 for update`;
    const first = syncSwitchedBacklogs(app.sql);
    expect(await endsWithin(first, 5_000)).toBe(true);
    const heldNow = async () =>
      (await app.sql`select held from deliveries where webhook_id = ${webhookId} order by id`).map((d) => d.held);
    const synced = async () =>
      (await app.sql`select backlog_synced from webhooks where id = ${webhookId}`)[0]?.backlogSynced;
    expect((await heldNow()).filter(Boolean)).toHaveLength(9);
    expect(await synced()).toBe(false);
    // The five-minute sweep steps around it too.
    expect(await endsWithin(syncHeldDeliveries(app.sql), 5_000)).toBe(true);
    await other.rollback();

    // The webhook's own row held (a delete in progress): marking it done waits for a later call.
    const deleting = await openTransaction(app.sql);
    await deleting.sql`select 1 from webhooks where id = ${webhookId} for update`;
    const second = syncSwitchedBacklogs(app.sql);
    expect(await endsWithin(second, 5_000)).toBe(true);
    expect(await second).toBe(1);
    expect(await synced()).toBe(false);
    await deleting.rollback();
    expect(await syncSwitchedBacklogs(app.sql)).toBe(0);
    expect(await synced()).toBe(true);
    expect(await heldNow()).toEqual(Array(10).fill(true));
  });

  it('two outcome batches sharing failing webhooks in opposite orders both record', async () => {
    const { apiKey, workspaceId } = await app.newWorkspace();
    const a = await register(apiKey, 'outcomes-a');
    const b = await register(apiKey, 'outcomes-b');
    // Enough webhooks that the planner walks the batch's ids in the order given, not the table.
    await app.sql`insert into webhooks (id, workspace_id, name, agent_id, url, events, secret_encrypted)
      select 'wh_bulk' || g, ${workspaceId}, 'bulk', 'bulk', 'http://127.0.0.1:9/bulk', '{conversation_ended}', '\\x00'::bytea
      from generate_series(1, 5000) g`;
    await app.sql`analyze webhooks`;
    const outcome = (webhookId: string): Outcome => ({
      deliveryId: `dlv_none${webhookId}`,
      workspaceId,
      claimToken: 'none',
      webhookId,
      conversationId: null,
      attempt: { attemptedAt: new Date(), statusCode: 500, durationMs: 5, error: 'HTTP 500', responseBody: null },
      nextAttemptAt: new Date(Date.now() + 60_000),
      status: 'pending',
      gone: false,
    });
    const rules = { disableAfterMs: 86_400_000, circuitFailures: 1_000, probeIntervalMs: 1_000 };
    for (let round = 0; round < 2; round++) {
      // Both batches start while the rows are held, so both are in the middle of their writes at once.
      const other = await openTransaction(app.sql);
      await other.sql`select 1 from webhooks where id in (${a}, ${b}) for no key update`;
      const record = (ids: string[]) => recordOutcomes(app.sql, ids.map(outcome), rules, async () => {});
      const both = Promise.all([record([a, b]), record([b, a])]);
      await sleep(200);
      await other.commit();
      await both;
    }
    const rows = await app.sql`select consecutive_failures from webhooks where id in (${a}, ${b})`;
    expect(rows.map((r) => r.consecutiveFailures)).toEqual([4, 4]);
  });

  it('a notice to a webhook being deleted steps over it: the worker’s outcome batch neither waits nor fails', async () => {
    const { apiKey, workspaceId } = await app.newWorkspace();
    const about = await register(apiKey, 'notice-about');
    const doomed = await register(apiKey, 'notice-doomed', { events: ['WEBHOOK_DISABLED'] });
    const kept = await register(apiKey, 'notice-kept', { events: ['WEBHOOK_DISABLED'] });
    const deleting = await openTransaction(app.sql);
    await deleting.sql`delete from webhooks where id = ${doomed}`;
    // As the worker's outcome batch emits it, in its own transaction.
    const notice = webhookDisabled({
      id: about,
      workspaceId,
      agentId: 'notice-about',
      name: 'n',
      url: 'u',
      reason: 'r',
    });
    const emitted = app.sql.begin((tx) => emitNotices(tx, [notice]));
    const ended = await endsWithin(emitted, 1_000);
    await deleting.commit();
    await emitted;
    expect(ended).toBe(true);
    const rows = await app.sql`select webhook_id from deliveries where workspace_id = ${workspaceId}`;
    expect(rows.map((r) => r.webhookId)).toEqual([kept]);
  });

  it('a delete that PostgreSQL ends in a deadlock is tried again, and answers as if it had waited', async () => {
    const { apiKey, workspaceId } = await app.newWorkspace();
    const webhookId = await register(apiKey, 'victim');
    await seedDeliveries(workspaceId, webhookId, 1, 'pending');
    // The worker's side: one of the webhook's deliveries held (recording its outcome)...
    const worker = await openTransaction(app.sql);
    await worker.sql`select 1 from deliveries where webhook_id = ${webhookId} for key share`;
    const deleted = app.graphql('mutation Delete($id: ID!) { deleteWebhook(id: $id) }', {
      apiKey,
      variables: { id: webhookId },
    });
    await sleep(200);
    // ...then a notice to that webhook, whose foreign key waits for the delete holding its row.
    // The delete waited first: PostgreSQL ends it, and it is tried again once the worker commits.
    const [event] = await worker.sql`select event_id from deliveries where webhook_id = ${webhookId}`;
    await worker.sql`insert into deliveries (id, workspace_id, event_id, webhook_id, next_attempt_at)
      values (random_id('dlv_'), ${workspaceId}, ${event?.eventId}, ${webhookId}, now())`;
    await worker.commit();
    const res = await deleted;
    expect(res.errors).toBeUndefined();
    expect(res.data?.deleteWebhook).toBe(webhookId);
    const [left] = await app.sql`select count(*)::int as n from deliveries where webhook_id = ${webhookId}`;
    expect(left?.n).toBe(0);
  });
});
