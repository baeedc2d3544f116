import { createApiKey } from '../../../src/auth/api-keys.js';
import { createWorkspace } from '../../../src/workspaces/store.js';
import { type Bench, cannon, median, REPEATS, record } from '../harness.js';
import { startBaseline, startServer } from '../processes.js';

/** registerWebhook through the whole server vs a bare node:http handler doing the same validated INSERT. */
export async function registerScenario(bench: Bench) {
  const workspace = await createWorkspace(bench.sql, 'bench-register');
  const { apiKey } = await createApiKey(bench.sql, workspace.id);
  const input = { name: 'bench', agentId: 'agent', url: 'https://example.com/hooks', events: ['CONVERSATION_ENDED'] };
  const query = 'mutation R($input: RegisterWebhookInput!) { registerWebhook(input: $input) { id secret } }';
  const body = JSON.stringify({ query, variables: { input } });
  const headers = { 'content-type': 'application/json', 'x-api-key': apiKey };

  // As in production: registration refuses private targets (only delivery scenarios need them).
  const ours = await startServer({ ...bench.serverEnv, ROLE: 'api', ALLOW_PRIVATE_TARGETS: 'false' });
  const bare = await startBaseline('bare-register.ts', bench.serverEnv);
  const oursRuns: { rps: number; p50: number; p99: number }[] = [];
  const bareRuns: { rps: number; p50: number; p99: number }[] = [];
  await cannon(`${ours.url}/graphql`, headers, body, 2); // warm-up (JIT, pools, caches)
  await cannon(bare.url, headers, body, 2);
  for (let i = 0; i < REPEATS; i++) {
    oursRuns.push(await cannon(`${ours.url}/graphql`, headers, body));
    bareRuns.push(await cannon(bare.url, headers, body));
  }
  await ours.stop();
  await bare.stop();
  const rps = median(oursRuns.map((r) => r.rps));
  const p99 = median(oursRuns.map((r) => r.p99));
  record(
    {
      scenario: 'register',
      measured: 'req/s (32 connections)',
      figure: Math.round(rps),
      baseline: Math.round(median(bareRuns.map((r) => r.rps))),
      target: '≥ 0.6× bare node:http',
    },
    (ratio) => ratio >= 0.6,
  );
  record(
    {
      scenario: 'register',
      measured: 'p99 ms',
      figure: p99,
      baseline: median(bareRuns.map((r) => r.p99)),
      target: 'p99 ≤ 25 ms',
    },
    (_r, figure) => figure <= 25,
  );
  process.stdout.write(
    `    p50 ours ${median(oursRuns.map((r) => r.p50))} ms, bare ${median(bareRuns.map((r) => r.p50))} ms\n`,
  );
}
