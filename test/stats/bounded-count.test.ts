import { beforeAll, describe, expect, it } from 'vitest';
import { countDeliveriesOf, countSearchedDeliveries } from '../../src/deliveries/store.js';
import { countSearchedEvents } from '../../src/events/reads.js';
import { BOUNDED_COUNT_LIMIT, resolvePage } from '../../src/graphql/connection.js';
import { createReadBudget } from '../../src/graphql/read-budget.js';
import { countWebhooks } from '../../src/webhooks/store.js';
import { createTestApp, type TestApp } from '../support/app.js';
import { REGISTER, validWebhook } from '../support/operations.js';

/** boundedCount: beside totalCount on every connection, exact up to 1,000 and capped above. */
let app: TestApp;
beforeAll(async () => {
  app = await createTestApp();
});

const OVER = 1_050;

/**
 * A workspace with webhooks "big" (1,050 failed deliveries of one event) and "small" (7), and
 * one more event without deliveries: rows inserted set-based, as the delivery engine would leave them.
 */
async function workspaceWithDeliveries() {
  const { apiKey, workspaceId } = await app.newWorkspace();
  const register = async (agentId: string) =>
    (await app.graphql(REGISTER, { apiKey, variables: { input: validWebhook({ agentId, active: false }) } })).data
      ?.registerWebhook as { id: string };
  const big = await register('big');
  const small = await register('small');
  const suffix = workspaceId.slice(-8);
  await app.sql`
    insert into events (id, workspace_id, agent_id, type, payload)
    values (${`evt_big${suffix}`}, ${workspaceId}, 'big', 'conversation_ended', '{}'),
      (${`evt_small${suffix}`}, ${workspaceId}, 'small', 'conversation_ended', '{}')`;
  await app.sql`
    insert into deliveries (id, workspace_id, event_id, webhook_id, status, attempt_count, created_at)
    select 'dlv_' || ${suffix} || lpad(i::text, 8, '0'), ${workspaceId},
      case when i <= ${OVER} then ${`evt_big${suffix}`} else ${`evt_small${suffix}`} end,
      case when i <= ${OVER} then ${big.id} else ${small.id} end,
      'failed', 1, now() - i * interval '1 millisecond'
    from generate_series(1, ${OVER + 7}) as i`;
  return { apiKey, workspaceId, big, small };
}

let fixture: Awaited<ReturnType<typeof workspaceWithDeliveries>>;
beforeAll(async () => {
  fixture = await workspaceWithDeliveries();
});

describe('boundedCount', () => {
  it('is exact up to 1,000 and stops at 1,000 above, while totalCount stays exact', async () => {
    const { apiKey, big, small } = fixture;
    // Three counts: as many as one request may make.
    const res = await app.graphql(
      `query Counts($big: ID!) {
        all: deliveries(first: 1) { totalCount boundedCount { count exact } }
        big: deliveries(webhookId: $big, first: 1) { boundedCount { count exact } }
      }`,
      { apiKey, variables: { big: big.id } },
    );
    expect(res.errors).toBeUndefined();
    expect(res.data).toEqual({
      all: { totalCount: OVER + 7, boundedCount: { count: 1_000, exact: false } },
      big: { boundedCount: { count: 1_000, exact: false } },
    });
    const under = await app.graphql(
      `query ($id: ID!) { deliveries(webhookId: $id, first: 1) { totalCount boundedCount { count exact } } }`,
      { apiKey, variables: { id: small.id } },
    );
    expect(under.data?.deliveries).toEqual({ totalCount: 7, boundedCount: { count: 7, exact: true } });
  });

  it('is on every connection, nested ones counted for a whole page of parents at once', async () => {
    const { apiKey, big, small } = fixture;
    const res = await app.graphql(
      `{
        webhooks { boundedCount { count exact }
          edges { node { id deliveries(first: 1) { boundedCount { count exact } } } } }
        events { boundedCount { count exact } }
      }`,
      { apiKey },
    );
    expect(res.errors).toBeUndefined();
    expect(res.data?.webhooks.boundedCount).toEqual({ count: 2, exact: true });
    expect(res.data?.events.boundedCount).toEqual({ count: 2, exact: true });
    const nested = new Map(
      res.data?.webhooks.edges.map((e: { node: { id: string; deliveries: { boundedCount: unknown } } }) => [
        e.node.id,
        e.node.deliveries.boundedCount,
      ]),
    );
    expect(nested.get(big.id)).toEqual({ count: 1_000, exact: false });
    expect(nested.get(small.id)).toEqual({ count: 7, exact: true });
  });

  it('counts exactly at the boundary: 1,000 rows are exact', async () => {
    const { apiKey, big } = fixture;
    // Leave exactly 1,000 of the big webhook's deliveries FAILED.
    await app.sql`update deliveries set status = 'succeeded' where id in (
      select id from deliveries where webhook_id = ${big.id} order by id limit ${OVER - 1_000})`;
    const res = await app.graphql(
      `query ($id: ID!) { deliveries(webhookId: $id, status: FAILED, first: 1) { boundedCount { count exact } } }`,
      { apiKey, variables: { id: big.id } },
    );
    expect(res.data?.deliveries.boundedCount).toEqual({ count: 1_000, exact: true });
  });

  it('is one of the three counts a request may make, as totalCount is', async () => {
    const res = await app.graphql(
      `{ a: webhooks { boundedCount { count } } b: events { boundedCount { count } }
         c: deliveries { totalCount } d: deliveries(status: FAILED) { boundedCount { count } } }`,
      { apiKey: fixture.apiKey },
    );
    expect(res.errors?.[0]?.extensions?.code).toBe('OPERATION_TOO_COMPLEX');
    expect(res.errors?.[0]?.message).toMatch(/boundedCount/);
  });

  it('never counts past the limit: the count statements stop at 1,001 rows, not after every match', async () => {
    const { workspaceId, big, small } = fixture;
    const atMost = BOUNDED_COUNT_LIMIT + 1;
    expect(await countSearchedDeliveries(app.sql, workspaceId, {}, atMost)).toBe(atMost);
    expect(await countSearchedDeliveries(app.sql, workspaceId, {})).toBe(OVER + 7);
    const perWebhook = await countDeliveriesOf(app.sql, workspaceId, 'webhook', [big.id, small.id], {}, atMost);
    expect(Object.fromEntries(perWebhook)).toEqual({ [big.id]: atMost, [small.id]: 7 });
    expect(await countSearchedEvents(app.sql, workspaceId, {}, 1)).toBe(1);
    expect(await countWebhooks(app.sql, workspaceId, {}, 1)).toBe(1);

    // And a connection asks its store for the bounded count, never for the exact one.
    const asked: (number | undefined)[] = [];
    const page = await resolvePage(
      { first: 1 },
      createReadBudget({ rows: 100, bytes: 1_000_000, counts: 3 }),
      async () => [],
      (limit) => {
        asked.push(limit);
        return countSearchedDeliveries(app.sql, workspaceId, {}, limit);
      },
    );
    expect(await page.boundedCount()).toEqual({ count: BOUNDED_COUNT_LIMIT, exact: false });
    expect(asked).toEqual([atMost]);
  });
});
