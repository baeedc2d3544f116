import { createApiKey } from '../../src/auth/api-keys.js';
import { createWorkspace } from '../../src/workspaces/store.js';
import { type Bench, cannon, median, REPEATS, record, settle, webhook } from '../harness.js';
import { startServer } from '../processes.js';

/**
 * Ingest: events accepted per second by one API process, each fanning out to 10 webhooks,
 * as `publishEvents` batches of 100 against single `publishEvent` calls, 32 connections
 * each (no worker: only accepting is measured; the publish rate limit is off).
 */
export async function publishBatchScenario(bench: Bench) {
  const BATCH = 100;
  const workspace = await createWorkspace(bench.sql, 'bench-ingest');
  const { apiKey } = await createApiKey(bench.sql, workspace.id);
  for (let i = 0; i < 10; i++) await webhook(bench, workspace.id, 'ingest', 'https://example.com/hooks');
  const event = { agentId: 'ingest', type: 'CONVERSATION_ENDED', data: { transcript: 'x'.repeat(500) } };
  const single = JSON.stringify({
    query: 'mutation P($input: PublishEventInput!) { publishEvent(input: $input) { id } }',
    variables: { input: event },
  });
  const batch = JSON.stringify({
    query: 'mutation P($inputs: [PublishEventInput!]!) { publishEvents(inputs: $inputs) { id } }',
    variables: { inputs: Array.from({ length: BATCH }, () => event) },
  });
  const headers = { 'content-type': 'application/json', 'x-api-key': apiKey };
  const api = await startServer({ ...bench.serverEnv, ROLE: 'api' });
  const url = `${api.url}/graphql`;
  await cannon(url, headers, single, 2); // warm-up
  await cannon(url, headers, batch, 2);
  const singles: number[] = [];
  const batches: number[] = [];
  const batchP50s: number[] = [];
  for (let i = 0; i < REPEATS; i++) {
    await settle(bench);
    singles.push((await cannon(url, headers, single, 4)).rps);
    await settle(bench);
    // Longer: autocannon counts only requests answered inside the window, and a batch can
    // take seconds under load (32 connections × 100 events in flight), so a window little
    // longer than one round drops most of the last (runs of 0 events/s were seen with 4 s).
    const batched = await cannon(url, headers, batch, 6);
    batches.push(batched.rps * BATCH);
    batchP50s.push(batched.p50);
  }
  await api.stop();
  await bench.sql`update webhooks set active = false where workspace_id = ${workspace.id}`;
  process.stdout.write(
    `    events/s: batches ${batches.map(Math.round).join(', ')} (p50 ${batchP50s.join(', ')} ms); single calls ${singles.map(Math.round).join(', ')}\n`,
  );
  record(
    {
      scenario: 'publish',
      measured: 'events accepted/s, 10 webhooks each, publishEvents of 100, 32 connections',
      figure: Math.round(median(batches)),
      baseline: Math.round(median(singles)),
      target: '≥ 5× single publishEvent calls',
    },
    (ratio) => ratio >= 5,
  );
}
