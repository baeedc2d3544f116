import { beforeAll, describe, expect, it } from 'vitest';
import { recordOutcomes } from '../../src/queue/record.js';
import { pruneOnce } from '../../src/worker/retention.js';
import { createTestApp, type TestApp } from '../support/app.js';
import { conversationEnded, DELETE, PUBLISH, REGISTER, validWebhook } from '../support/operations.js';

let app: TestApp;
let apiKey: string;
beforeAll(async () => {
  app = await createTestApp();
  ({ apiKey } = await app.newWorkspace());
  for (let i = 0; i < 3; i++)
    await app.graphql(REGISTER, { apiKey, variables: { input: validWebhook({ agentId: 'kept' }) } });
});

async function publishAged(days: number, status: 'succeeded' | 'failed' | 'pending', at?: Date) {
  const res = await app.graphql(PUBLISH, { apiKey, variables: { input: conversationEnded('kept') } });
  const id = res.data?.publishEvent.id as string;
  const backdated = at ? `${(Date.now() - at.getTime()) / 1000} seconds` : `${days} days`;
  await app.sql`update events set created_at = now() - ${backdated}::interval where id = ${id}`;
  await app.sql`update deliveries set created_at = now() - ${backdated}::interval, status = ${status},
    next_attempt_at = ${status === 'pending' ? app.sql`now() + interval '1 day'` : null} where event_id = ${id}`;
  await app.sql`insert into delivery_attempts (delivery_id, attempted_at, duration_ms)
    select id, now() - ${backdated}::interval, 10 from deliveries where event_id = ${id}`;
  return id;
}

const exists = async (table: 'events' | 'deliveries', column: string, id: string) =>
  (await app.sql`select count(*)::int as n from ${app.sql(table)} where ${app.sql(column)} = ${id}`)[0]?.n as number;

describe('retention', () => {
  it('deletes events past the retention period with their deliveries and attempts, in bounded batches, keeping held and recent ones', async () => {
    const old = await Promise.all(
      Array.from({ length: 7 }, (_, i) => publishAged(31 + i, i % 2 ? 'failed' : 'succeeded')),
    );
    const held = await publishAged(40, 'pending');
    const recent = await publishAged(29, 'succeeded');

    expect(await pruneOnce(app.sql, 30 * 86_400_000, 3)).toBe(7);
    for (const id of old) {
      expect(await exists('events', 'id', id)).toBe(0);
      expect(await exists('deliveries', 'event_id', id)).toBe(0);
    }
    const [orphans] =
      await app.sql`select count(*)::int as n from delivery_attempts a where not exists (select 1 from deliveries d where d.id = a.delivery_id)`;
    expect(orphans?.n).toBe(0);
    expect(await exists('events', 'id', held)).toBe(1);
    expect(await exists('deliveries', 'event_id', held)).toBe(3);
    expect(await exists('events', 'id', recent)).toBe(1);
    expect(await pruneOnce(app.sql, 30 * 86_400_000, 3)).toBe(0);
  });

  it('walks its keyset past events published in the same instant and past held ones, batch after batch', async () => {
    // Five deletable events in one microsecond, behind three held ones, pruned two at a time:
    // each batch starts at the last one's newest event, so ties are not skipped.
    const instant = new Date(Date.now() - 35 * 86_400_000);
    const held = await Promise.all([0, 1, 2].map(() => publishAged(45, 'pending')));
    const tied = await Promise.all([0, 1, 2, 3, 4].map(() => publishAged(35, 'succeeded', instant)));
    await app.sql`update events set created_at = ${instant} where id in ${app.sql(tied)}`;
    const later = await publishAged(33, 'failed');

    expect(await pruneOnce(app.sql, 30 * 86_400_000, 2)).toBe(6);
    for (const id of [...tied, later]) expect(await exists('events', 'id', id)).toBe(0);
    for (const id of held) expect(await exists('deliveries', 'event_id', id)).toBe(3);
  });

  it('lets pruners run at once: each event goes once, with all its deliveries and attempts', async () => {
    const old = await Promise.all(Array.from({ length: 12 }, (_, i) => publishAged(31 + (i % 4), 'succeeded')));
    const counts = await Promise.all([
      pruneOnce(app.sql, 30 * 86_400_000, 2),
      pruneOnce(app.sql, 30 * 86_400_000, 3),
      pruneOnce(app.sql, 30 * 86_400_000, 5),
    ]);
    // A pruner skips what another has locked, so together they may leave some for the next round.
    const again = await pruneOnce(app.sql, 30 * 86_400_000);
    expect(counts.reduce((a, b) => a + b, 0) + again).toBe(12);
    for (const id of old) expect(await exists('deliveries', 'event_id', id)).toBe(0);
    const [orphans] =
      await app.sql`select count(*)::int as n from delivery_attempts a where not exists (select 1 from deliveries d where d.id = a.delivery_id)`;
    expect(orphans?.n).toBe(0);
  });

  // Attempts go with their deliveries by a statement-level trigger, not a foreign key (migration 0014).
  it('deletes the attempts of deliveries deleted any way: with their webhook too, and only theirs', async () => {
    const hooks = [];
    for (let i = 0; i < 2; i++)
      hooks.push(
        (await app.graphql(REGISTER, { apiKey, variables: { input: validWebhook({ agentId: 'cascade' }) } })).data
          ?.registerWebhook.id as string,
      );
    const res = await app.graphql(PUBLISH, { apiKey, variables: { input: conversationEnded('cascade') } });
    const eventId = res.data?.publishEvent.id as string;
    await app.sql`insert into delivery_attempts (delivery_id, attempted_at, duration_ms)
      select id, now(), 10 from deliveries, generate_series(1, 2) where event_id = ${eventId}`;
    const attemptsOf = async (webhookId: string) =>
      (
        await app.sql`select count(*)::int as n from delivery_attempts a
          where a.delivery_id in (select id from deliveries where event_id = ${eventId} and webhook_id = ${webhookId})
            or a.delivery_id not in (select id from deliveries)`
      )[0]?.n as number;
    expect(await attemptsOf(hooks[0] as string)).toBe(2);
    expect((await app.graphql(DELETE, { apiKey, variables: { id: hooks[0] } })).data?.deleteWebhook).toBe(hooks[0]);
    const [orphans] =
      await app.sql`select count(*)::int as n from delivery_attempts a where not exists (select 1 from deliveries d where d.id = a.delivery_id)`;
    expect(orphans?.n).toBe(0);
    expect(await attemptsOf(hooks[1] as string)).toBe(2);
  });

  it('writes no attempt for a delivery deleted while its outcome is being recorded', async () => {
    const webhook = (await app.graphql(REGISTER, { apiKey, variables: { input: validWebhook({ agentId: 'racing' }) } }))
      .data?.registerWebhook.id as string;
    const res = await app.graphql(PUBLISH, { apiKey, variables: { input: conversationEnded('racing') } });
    const eventId = res.data?.publishEvent.id as string;
    const [delivery] = await app.sql<{ id: string; workspaceId: string; webhookId: string }[]>`
      update deliveries set claim_token = 'racing-claim' where event_id = ${eventId}
      returning id, workspace_id, webhook_id`;
    expect(delivery).toBeDefined();
    const { id, workspaceId, webhookId } = delivery as { id: string; workspaceId: string; webhookId: string };
    expect(webhookId).toBe(webhook);
    // Another transaction deletes the delivery and has not committed yet.
    const deleting = await app.sql.reserve();
    await deleting`begin`;
    await deleting`delete from deliveries where id = ${id}`;
    let recorded = false;
    const recording = recordOutcomes(
      app.sql,
      [
        {
          deliveryId: id,
          workspaceId,
          claimToken: 'racing-claim',
          webhookId,
          conversationId: null,
          attempt: { attemptedAt: new Date(), statusCode: 200, durationMs: 5, error: null, responseBody: 'ok' },
          nextAttemptAt: null,
          status: 'succeeded',
          gone: false,
        },
      ],
      { disableAfterMs: 86_400_000, circuitFailures: 5, probeIntervalMs: 1000 },
      async () => {},
    ).then(() => {
      recorded = true;
    });
    // The record waits for the delete (as the foreign key's check made it), or, without the
    // lock, finishes first and leaves an attempt behind the delete.
    for (let i = 0; i < 200 && !recorded; i++) {
      const [waiting] = await app.sql`select count(*)::int as n from pg_stat_activity
        where datname = current_database() and wait_event_type = 'Lock'`;
      if ((waiting?.n ?? 0) > 0) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await deleting`commit`;
    deleting.release();
    await recording;
    const [left] = await app.sql`select count(*)::int as n from delivery_attempts where delivery_id = ${id}`;
    expect(left?.n).toBe(0);
  });
});
