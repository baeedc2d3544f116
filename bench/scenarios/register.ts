import { createApiKey } from '../../src/auth/api-keys.js';
import { createWorkspace } from '../../src/workspaces/store.js';
import { type Bench, cannon, median, REPEATS, record } from '../harness.js';
import { startBaseline, startServer } from '../processes.js';

type Run = { rps: number; p50: number; p99: number; cpuUs: number };

/**
 * registerWebhook through the whole server vs two bare node:http handlers doing the same
 * validated, encrypted INSERT: one that also looks the API key up in the database (the
 * bench's baseline so far), and the floor, which takes its workspace from configuration.
 */
export async function registerScenario(bench: Bench) {
  const workspace = await createWorkspace(bench.sql, 'bench-register');
  const { apiKey } = await createApiKey(bench.sql, workspace.id);
  const input = { name: 'bench', agentId: 'agent', url: 'https://example.com/hooks', events: ['CONVERSATION_ENDED'] };
  const query = 'mutation R($input: RegisterWebhookInput!) { registerWebhook(input: $input) { id secret } }';
  const body = JSON.stringify({ query, variables: { input } });
  const headers = { 'content-type': 'application/json', 'x-api-key': apiKey };

  // As in production: registration refuses private targets (only delivery scenarios need them).
  const ours = await startServer({ ...bench.serverEnv, ROLE: 'api', ALLOW_PRIVATE_TARGETS: 'false' });
  const floor = await startBaseline('bare-register.ts', { ...bench.serverEnv, BARE_WORKSPACE_ID: workspace.id });
  const lookup = await startBaseline('bare-register.ts', bench.serverEnv);
  const targets = [
    { url: `${ours.url}/graphql`, child: ours, runs: [] as Run[] },
    { url: floor.url, child: floor, runs: [] as Run[] },
    { url: lookup.url, child: lookup, runs: [] as Run[] },
  ] as const;
  for (const t of targets) await cannon(t.url, headers, body, 2); // warm-up (JIT, pools, caches)
  // CPU per request beside req/s: on a loaded machine it moves less than throughput does.
  for (let i = 0; i < REPEATS; i++) {
    for (const t of targets) {
      const cpuBefore = await t.child.cpuMs();
      const run = await cannon(t.url, headers, body, 5);
      const cpuUs = (((await t.child.cpuMs()) - cpuBefore) * 1000) / Math.max(1, run.requests);
      t.runs.push({ ...run, cpuUs: Math.round(cpuUs) });
    }
  }
  await ours.stop();
  await floor.stop();
  await lookup.stop();
  const [o, f, l] = targets.map(({ runs }) => ({
    rps: Math.round(median(runs.map((r) => r.rps))),
    p50: median(runs.map((r) => r.p50)),
    p99: median(runs.map((r) => r.p99)),
    cpuUs: median(runs.map((r) => r.cpuUs)),
  })) as [Run, Run, Run];
  record(
    {
      scenario: 'register',
      measured: 'req/s (32 connections) vs bare INSERT, no key lookup',
      figure: o.rps,
      baseline: f.rps,
      target: '≥ 0.5× bare node:http (INSERT only)',
    },
    (ratio) => ratio >= 0.5,
  );
  record(
    { scenario: 'register', measured: 'p99 ms', figure: o.p99, baseline: f.p99, target: 'p99 ≤ 25 ms' },
    (_r, figure) => figure <= 25,
  );
  record(
    {
      scenario: 'register',
      measured: 'req/s (32 connections) vs bare with key lookup',
      figure: o.rps,
      baseline: l.rps,
      target: '≥ 0.9× bare node:http (key lookup + INSERT)',
    },
    (ratio) => ratio >= 0.9,
  );
  process.stdout.write(
    `    runs ours ${targets[0].runs.map((r) => Math.round(r.rps)).join(', ')}; floor ${targets[1].runs.map((r) => Math.round(r.rps)).join(', ')}; lookup ${targets[2].runs.map((r) => Math.round(r.rps)).join(', ')}\n` +
      `    p50 ours ${o.p50} ms, floor ${f.p50} ms, lookup ${l.p50} ms; p99 lookup ${l.p99} ms\n` +
      `    CPU per request ours ${o.cpuUs} µs, floor ${f.cpuUs} µs, lookup ${l.cpuUs} µs\n`,
  );
}
