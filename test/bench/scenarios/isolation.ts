import { createWorkspace } from '../../../src/workspaces/store.js';
import {
  type Bench,
  countingReceiver,
  listen,
  median,
  publishMany,
  REPEATS,
  record,
  settle,
  webhook,
} from '../harness.js';
import { startServer } from '../processes.js';

/** 50 webhooks, one a black hole (accepts, never answers): healthy throughput vs the same run without it. */
export async function isolationScenario(bench: Bench) {
  const EVENTS = 500;
  const HEALTHY = 49;
  const healthy = await countingReceiver();
  const hung = new Set<import('node:http').ServerResponse>();
  const blackHole = await listen((req, res) => {
    req.resume();
    hung.add(res);
  });
  const run = async (withBlackHole: boolean) => {
    const workspace = await createWorkspace(bench.sql, 'bench-isolation');
    for (let i = 0; i < HEALTHY; i++) await webhook(bench, workspace.id, 'iso', healthy.url);
    if (withBlackHole) await webhook(bench, workspace.id, 'iso', `${blackHole.url}/`);
    // A short grace: stopping should not wait out the black hole's hung requests.
    const worker = await startServer({ ...bench.serverEnv, ROLE: 'worker', SHUTDOWN_GRACE_MS: '500' });
    await settle(bench);
    const arrived = healthy.expect(EVENTS * HEALTHY);
    const t = performance.now();
    await publishMany(bench, workspace.id, () => 'iso', EVENTS, 20);
    await arrived;
    const rate = (EVENTS * HEALTHY) / ((performance.now() - t) / 1000);
    await bench.sql`update webhooks set active = false where workspace_id = ${workspace.id}`;
    await worker.stop();
    return rate;
  };
  const withHole: number[] = [];
  const without: number[] = [];
  await run(false); // warm-up: the first run after a quiet spell is slow either way
  // Short runs on a busy machine: more pairs than other scenarios, for a steadier median.
  for (let i = 0; i < Math.max(REPEATS, 5); i++) {
    without.push(await run(false));
    withHole.push(await run(true));
  }
  for (const res of hung) res.destroy();
  blackHole.server.closeAllConnections();
  blackHole.server.close();
  await healthy.close();
  process.stdout.write(
    `    runs: with ${withHole.map(Math.round).join(', ')}; without ${without.map(Math.round).join(', ')}\n`,
  );
  record(
    {
      scenario: 'isolation',
      measured: 'healthy deliveries/s with a black hole',
      figure: Math.round(median(withHole)),
      baseline: Math.round(median(without)),
      target: '≥ 0.9× without it',
    },
    (ratio) => ratio >= 0.9,
  );
}
