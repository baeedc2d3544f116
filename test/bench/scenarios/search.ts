import { createApiKey } from '../../../src/auth/api-keys.js';
import { createWorkspace } from '../../../src/workspaces/store.js';
import { type Bench, cannon, median, REPEATS, record, server } from '../harness.js';

/** Deliveries in the large workspace (two per event); BENCH_SEARCH_ROWS makes it smaller while trying things. */
const LARGE = Number(process.env.BENCH_SEARCH_ROWS ?? 1_000_000);
const SMALL = 1000;
const BATCH_EVENTS = 100_000;

/**
 * First page of Query.deliveries(status: FAILED) and of Query.events, in a workspace of
 * 1,000 deliveries and in one of a million (500,000 events), beside each other in one
 * database: each should walk its index (migrations/0008) the same short way at any size.
 */
export async function searchScenario(bench: Bench) {
  const api = await server(bench, 'api');
  const failed = JSON.stringify({
    query:
      '{ deliveries(status: FAILED, first: 20) { edges { node { id status createdAt } } pageInfo { endCursor hasNextPage } } }',
  });
  const events = JSON.stringify({
    query: '{ events(first: 20) { edges { node { id type agentId createdAt } } pageInfo { endCursor hasNextPage } } }',
  });
  const measure = async (deliveries: number) => {
    const workspace = await createWorkspace(bench.sql, `bench-search-${deliveries}`);
    const { apiKey } = await createApiKey(bench.sql, workspace.id);
    const webhooks = await bench.sql<{ id: string }[]>`
      insert into webhooks (id, workspace_id, name, agent_id, url, events, secret_encrypted)
      select random_id('wh_'), ${workspace.id}, 'hook ' || n, 'agent-' || (n % 5), 'https://example.com/' || n,
        array['conversation_started', 'conversation_ended', 'conversation_analysed'], '\\x00'::bytea
      from generate_series(1, 10) n
      returning id`;
    const webhookIds = webhooks.map((w) => w.id);
    // Events one a second into the past, each delivered to two webhooks; 2% of deliveries
    // FAILED, the rest SUCCEEDED (none pending: no worker should pick these up later).
    const eventCount = deliveries / 2;
    for (let from = 1; from <= eventCount; from += BATCH_EVENTS) {
      const to = Math.min(from + BATCH_EVENTS - 1, eventCount);
      await bench.sql`
        with e as (
          insert into events (id, workspace_id, agent_id, type, payload, created_at)
          select random_id('evt_'), ${workspace.id}, 'agent-' || (n % 5),
            (array['conversation_started', 'conversation_ended', 'conversation_analysed'])[1 + n % 3],
            '{"data":{}}', now() - n * interval '1 second'
          from generate_series(${from}::int, ${to}::int) n
          returning id, created_at)
        insert into deliveries (id, workspace_id, event_id, webhook_id, status, attempt_count, created_at, updated_at)
        select random_id('dlv_'), ${workspace.id}, e.id, (${webhookIds}::text[])[1 + floor(random() * 10)::int],
          case when random() < 0.02 then 'failed' else 'succeeded' end, 1, e.created_at, e.created_at
        from e cross join generate_series(1, 2)`;
    }
    await bench.sql`vacuum analyze events`;
    await bench.sql`vacuum analyze deliveries`;
    const headers = { 'content-type': 'application/json', 'x-api-key': apiKey };
    const failedRuns: number[] = [];
    const eventRuns: number[] = [];
    for (let i = 0; i < REPEATS; i++) {
      failedRuns.push((await cannon(`${api.url}/graphql`, headers, failed, 4)).p50);
      eventRuns.push((await cannon(`${api.url}/graphql`, headers, events, 4)).p50);
    }
    return { failed: median(failedRuns), events: median(eventRuns) };
  };
  const small = await measure(SMALL);
  const large = await measure(LARGE);
  await api.stop();
  const size = (n: number) => (n >= 1_000_000 ? `${n / 1_000_000}M` : n >= 1000 ? `${n / 1000}k` : `${n}`);
  record(
    {
      scenario: 'search',
      measured: `deliveries(status: FAILED) first page p50 ms, ${size(LARGE)} deliveries (${size(SMALL)} baseline)`,
      figure: large.failed,
      baseline: small.failed,
      target: '≤ 1.5× the 1k figure',
    },
    (ratio) => ratio <= 1.5,
  );
  record(
    {
      scenario: 'search',
      measured: `events first page p50 ms, ${size(LARGE / 2)} events (${size(SMALL / 2)} baseline)`,
      figure: large.events,
      baseline: small.events,
      target: '≤ 1.5× the small figure',
    },
    (ratio) => ratio <= 1.5,
  );
}
