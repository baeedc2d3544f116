import { availableParallelism } from 'node:os';
import { createApiKey } from '../../src/auth/api-keys.js';
import { createWorkspace } from '../../src/workspaces/store.js';
import {
  type Bench,
  cannon,
  countingReceiver,
  databaseCpuMs,
  median,
  REPEATS,
  record,
  settle,
  webhook,
} from '../harness.js';
import { type Child, startServer } from '../processes.js';

type Run = {
  register: number;
  publish: number;
  registerP99: number;
  /** CPU per registerWebhook, µs: the server's processes together, and PostgreSQL's. */
  serverCpuUs: number;
  databaseCpuUs: number;
};

/**
 * `npm start` as production runs it (ROLE=all: the API and the delivery worker) with the
 * API in one process against the API on every core (API_PROCESSES = the CPUs), in the
 * same run: registerWebhook and publishEvent req/s at 32 connections. Each published event
 * goes to one webhook whose receiver answers at once, so the delivery workers (in the
 * primaries) work alongside, as they would. A third set-up lets the kernel balance the
 * connections instead of the primary (reported only).
 */
export async function everyCoreScenario(bench: Bench) {
  const cores = availableParallelism();
  const workspace = await createWorkspace(bench.sql, 'bench-every-core');
  const { apiKey } = await createApiKey(bench.sql, workspace.id);
  const receiver = await countingReceiver();
  await webhook(bench, workspace.id, 'cores-publish', receiver.url);
  const headers = { 'content-type': 'application/json', 'x-api-key': apiKey };
  const register = JSON.stringify({
    query: 'mutation R($input: RegisterWebhookInput!) { registerWebhook(input: $input) { id secret } }',
    variables: {
      input: {
        name: 'bench',
        agentId: 'cores-register',
        url: 'https://example.com/hooks',
        events: ['CONVERSATION_ENDED'],
      },
    },
  });
  const publish = JSON.stringify({
    query: 'mutation P($input: PublishEventInput!) { publishEvent(input: $input) { id } }',
    variables: {
      input: { agentId: 'cores-publish', type: 'CONVERSATION_ENDED', data: { transcript: 'x'.repeat(500) } },
    },
  });

  // every: node:cluster's default, the primary accepts and hands connections round-robin;
  // kernel: each process accepts on the shared socket itself (NODE_CLUSTER_SCHED_POLICY=none).
  const setups = {
    one: { API_PROCESSES: '1' },
    every: { API_PROCESSES: String(cores) },
    kernel: { API_PROCESSES: String(cores), NODE_CLUSTER_SCHED_POLICY: 'none' },
  } as const;
  type Setup = keyof typeof setups;
  const runs: Record<Setup, Run[]> = { one: [], every: [], kernel: [] };
  const names = Object.keys(setups) as Setup[];
  // All three up at once and measured in short turns, many rounds: on a shared machine the
  // load of others drifts over a minute, and each set-up must meet the same drift.
  const servers = {} as Record<Setup, Child>;
  for (const setup of names) servers[setup] = await startServer({ ...bench.serverEnv, ROLE: 'all', ...setups[setup] });
  const urlOf = (setup: Setup) => `${servers[setup].url}/graphql`;
  for (const setup of names) {
    await cannon(urlOf(setup), headers, register, 1); // warm-up (JIT, pools, caches)
    await cannon(urlOf(setup), headers, publish, 1);
  }
  await deliveredAll(bench, workspace.id);
  for (let round = 0; round < 2 * REPEATS; round++) {
    // A different one goes first each round.
    const order = [...names.slice(round % names.length), ...names.slice(0, round % names.length)];
    for (const setup of order) {
      const [serverBefore, databaseBefore] = [await servers[setup].treeCpuMs(), await databaseCpuMs(bench.sql)];
      const registered = await cannon(urlOf(setup), headers, register, 3);
      const [serverAfter, databaseAfter] = [await servers[setup].treeCpuMs(), await databaseCpuMs(bench.sql)];
      const perRequest = (ms: number) => (ms * 1000) / Math.max(1, registered.requests);
      const published = await cannon(urlOf(setup), headers, publish, 3);
      runs[setup].push({
        register: registered.rps,
        publish: published.rps,
        registerP99: registered.p99,
        serverCpuUs: perRequest(serverAfter - serverBefore),
        databaseCpuUs: perRequest(databaseAfter - databaseBefore),
      });
    }
    // Any of the three workers delivers; the next round starts without a backlog.
    await deliveredAll(bench, workspace.id);
    await settle(bench);
  }
  for (const setup of names) await servers[setup].stop();
  await receiver.close();
  await bench.sql`update webhooks set active = false where workspace_id = ${workspace.id}`;

  const figure = (setup: Setup, key: keyof Run) => Math.round(median(runs[setup].map((run) => run[key])));
  const list = (setup: Setup, key: keyof Run) => runs[setup].map((run) => Math.round(run[key])).join(', ');
  for (const key of ['register', 'publish', 'registerP99', 'serverCpuUs', 'databaseCpuUs'] as const) {
    process.stdout.write(
      `    ${key}: one ${list('one', key)}; every core (${cores}) ${list('every', key)}; kernel-balanced ${list('kernel', key)}\n`,
    );
  }
  record(
    {
      scenario: 'every-core',
      measured: `registerWebhook req/s (32 connections), API on ${cores} processes vs 1, worker alongside`,
      figure: figure('every', 'register'),
      baseline: figure('one', 'register'),
      target: '≥ 1.2× one process',
    },
    (ratio) => ratio >= 1.2,
  );
  record(
    {
      scenario: 'every-core',
      measured: `publishEvent req/s (32 connections, 1 webhook each, delivered), API on ${cores} processes vs 1`,
      figure: figure('every', 'publish'),
      baseline: figure('one', 'publish'),
      target: '≥ 1.2× one process',
    },
    (ratio) => ratio >= 1.2,
  );
  record(
    {
      scenario: 'every-core',
      measured: `registerWebhook req/s, ${cores} processes accepting for themselves (NODE_CLUSTER_SCHED_POLICY=none) vs 1`,
      figure: figure('kernel', 'register'),
      baseline: figure('one', 'register'),
      target: 'reported',
    },
    () => true,
  );
}

/** Waits (up to a minute) until the workspace has no delivery pending, so the next turn starts without a backlog. */
async function deliveredAll(bench: Bench, workspaceId: string) {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const [row] = await bench.sql<{ pending: number }[]>`
      select count(*)::int as pending from deliveries where workspace_id = ${workspaceId} and status = 'pending'`;
    if ((row?.pending ?? 0) === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error('every-core: the backlog was not delivered within a minute');
}
