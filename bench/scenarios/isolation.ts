import { createWorkspace } from '../../src/workspaces/store.js';
import {
  type Bench,
  countingReceiver,
  listen,
  median,
  publishBacklog,
  REPEATS,
  record,
  settle,
  webhook,
} from '../harness.js';
import { startServer } from '../processes.js';

/**
 * 50 webhooks of one agent, 10 of them broken (3 hung, 3 answering 500, 2 resetting the
 * connection, 2 answering after 2 s), 150 events waiting: the 40 healthy ones' throughput
 * from the worker's start vs the same run without the broken ones. The healthy endpoints
 * answer after 50 ms, as a receiver that writes to its own database does: the run is then
 * bound by the workspace's slots (what broken endpoints could take), not by this machine's
 * two cores, whose noise swung the ratio 0.8–1.0 between runs.
 */
export async function isolationScenario(bench: Bench) {
  const EVENTS = 150;
  const HEALTHY = 40;
  const healthy = await countingReceiver(50);
  const hung = new Set<import('node:http').ServerResponse>();
  const broken = await listen((req, res) => {
    req.resume();
    const kind = req.url?.split('/')[1];
    if (kind === 'hung') hung.add(res);
    else if (kind === 'reset') req.socket.destroy();
    else if (kind === 'slow') setTimeout(() => res.writeHead(200).end(), 2000);
    else res.writeHead(500).end();
  });
  const brokenKinds = ['hung', 'hung', 'hung', '500', '500', '500', 'reset', 'reset', 'slow', 'slow'];
  const run = async (withBroken: boolean) => {
    const workspace = await createWorkspace(bench.sql, 'bench-isolation');
    for (let i = 0; i < HEALTHY; i++) await webhook(bench, workspace.id, 'iso', healthy.url);
    if (withBroken) for (const kind of brokenKinds) await webhook(bench, workspace.id, 'iso', `${broken.url}/${kind}`);
    // The backlog first, so the runs time delivery alone: the broken webhooks' extra
    // deliveries cost the publisher a fifth more rows, which is not what is measured here.
    await publishBacklog(bench, workspace.id, 'iso', EVENTS);
    await settle(bench);
    const arrived = healthy.expect(EVENTS * HEALTHY);
    // A short grace: stopping should not wait out the hung requests.
    const worker = await startServer({ ...bench.serverEnv, ROLE: 'worker', SHUTDOWN_GRACE_MS: '500' });
    await arrived;
    // From the first healthy delivery to the last: the worker's start-up is not measured.
    const rate = (EVENTS * HEALTHY) / ((performance.now() - healthy.firstAt()) / 1000);
    // Stopped first, then paused: a bulk pause while the worker records failures of the
    // same webhooks could deadlock (each locks webhooks and deliveries, in another order).
    await worker.stop();
    await bench.sql`update webhooks set active = false where workspace_id = ${workspace.id}`;
    return rate;
  };
  const withBroken: number[] = [];
  const without: number[] = [];
  await run(false); // warm-up: the first run after a quiet spell is slow either way
  for (let i = 0; i < REPEATS; i++) {
    without.push(await run(false));
    withBroken.push(await run(true));
  }
  for (const res of hung) res.destroy();
  broken.server.closeAllConnections();
  broken.server.close();
  await healthy.close();
  process.stdout.write(
    `    runs: with ${withBroken.map(Math.round).join(', ')}; without ${without.map(Math.round).join(', ')}\n`,
  );
  record(
    {
      scenario: 'isolation',
      measured: 'healthy deliveries/s, 10 of 50 endpoints broken',
      figure: Math.round(median(withBroken)),
      baseline: Math.round(median(without)),
      target: '≥ 0.9× without them',
    },
    (ratio) => ratio >= 0.9,
  );
}
