import { createWorkspace } from '../../src/workspaces/store.js';
import {
  type Bench,
  countingReceiver,
  median,
  publishMany,
  REPEATS,
  record,
  server,
  settle,
  webhook,
} from '../harness.js';
import { startBaseline } from '../processes.js';

/**
 * 6,000 deliveries (600 events × 10 webhooks), timed from the first publish to the last
 * receipt: our worker process vs graphile-worker doing the same work per job.
 */
export async function deliveryScenario(bench: Bench) {
  const EVENTS = 600;
  const WEBHOOKS = 10;
  const TOTAL = EVENTS * WEBHOOKS;
  const receiver = await countingReceiver();
  const ours: number[] = [];
  const theirs: number[] = [];
  for (let run = 0; run < REPEATS; run++) {
    const workspace = await createWorkspace(bench.sql, `bench-delivery-${run}`);
    for (let i = 0; i < WEBHOOKS; i++) await webhook(bench, workspace.id, 'agent', receiver.url);
    const worker = await server(bench, 'worker');
    await settle(bench);
    let arrived = receiver.expect(TOTAL);
    let t = performance.now();
    await publishMany(bench, workspace.id, () => 'agent', EVENTS);
    await arrived;
    ours.push(TOTAL / ((performance.now() - t) / 1000));
    await worker.stop();

    const graphile = await startBaseline('graphile-deliver.ts', { DATABASE_URL: bench.databaseUrl });
    await settle(bench);
    arrived = receiver.expect(TOTAL);
    t = performance.now();
    for (let i = 0; i < TOTAL; i += 500) {
      await bench.sql`select graphile_worker.add_job('deliver', json_build_object('id', 'evt_' || n, 'url', ${receiver.url}::text))
        from generate_series(${i}::int, ${Math.min(i + 500, TOTAL) - 1}::int) n`;
    }
    await arrived;
    theirs.push(TOTAL / ((performance.now() - t) / 1000));
    await graphile.stop();
  }
  await receiver.close();
  process.stdout.write(
    `    runs: ours ${ours.map(Math.round).join(', ')}; graphile-worker ${theirs.map(Math.round).join(', ')}\n`,
  );
  record(
    {
      scenario: 'delivery throughput',
      measured: `deliveries/s (${TOTAL.toLocaleString('en')})`,
      figure: Math.round(median(ours)),
      baseline: Math.round(median(theirs)),
      target: '≥ 1.5× graphile-worker',
    },
    (ratio) => ratio >= 1.5,
  );
}
