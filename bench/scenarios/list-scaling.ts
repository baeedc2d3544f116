import { createApiKey } from '../../src/auth/api-keys.js';
import { createWorkspace } from '../../src/workspaces/store.js';
import { type Bench, cannon, median, REPEATS, record, server } from '../harness.js';

/** First page of `webhooks` (no totalCount) with 200,000 rows vs 1,000. */
export async function listScalingScenario(bench: Bench) {
  const api = await server(bench, 'api');
  const page = JSON.stringify({
    query: '{ webhooks(first: 20) { edges { node { id name url } } pageInfo { endCursor } } }',
  });
  const counted = JSON.stringify({ query: '{ webhooks(first: 20) { totalCount } }' });
  const measure = async (rows: number) => {
    const workspace = await createWorkspace(bench.sql, `bench-list-${rows}`);
    const { apiKey } = await createApiKey(bench.sql, workspace.id);
    await bench.sql`insert into webhooks (id, workspace_id, name, agent_id, url, events, secret_encrypted, created_at)
      select random_id('wh_'), ${workspace.id}, 'hook ' || n, 'agent-' || (n % 100), 'https://example.com/' || n,
        array['conversation_ended'], '\\x00'::bytea, now() - n * interval '1 second'
      from generate_series(1, ${rows}::int) n`;
    await bench.sql`analyze webhooks`;
    const headers = { 'content-type': 'application/json', 'x-api-key': apiKey };
    const runs: number[] = [];
    const countRuns: number[] = [];
    for (let i = 0; i < REPEATS; i++) {
      runs.push((await cannon(`${api.url}/graphql`, headers, page, 2)).p50);
      countRuns.push((await cannon(`${api.url}/graphql`, headers, counted, 2)).p50);
    }
    return { p50: median(runs), countP50: median(countRuns) };
  };
  const small = await measure(1000);
  const large = await measure(200_000);
  await api.stop();
  record(
    {
      scenario: 'list scaling',
      measured: 'first page p50 ms, 200k rows (1k baseline)',
      figure: large.p50,
      baseline: small.p50,
      target: '≤ 1.5× the 1k figure',
    },
    (ratio) => ratio <= 1.5,
  );
  record(
    {
      scenario: 'list scaling',
      measured: 'totalCount p50 ms, 200k rows (1k baseline)',
      figure: large.countP50,
      baseline: small.countP50,
      target: 'reported',
    },
    () => true,
  );
}
