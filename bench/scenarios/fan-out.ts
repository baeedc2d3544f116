import { createWorkspace } from '../../src/workspaces/store.js';
import { type Bench, countingReceiver, median, publishMany, REPEATS, record, server, webhook } from '../harness.js';

/** One event to 5,000 webhooks vs 5,000 events to one webhook each: time to the last receipt. */
export async function fanOutScenario(bench: Bench) {
  const N = 5_000;
  const receiver = await countingReceiver();
  const seconds = async (publish: (workspaceId: string) => Promise<unknown>, agents: (i: number) => string) => {
    const workspace = await createWorkspace(bench.sql, 'bench-fan-out');
    for (let i = 0; i < N; i += 500) {
      await Promise.all(
        Array.from({ length: 500 }, (_, j) => webhook(bench, workspace.id, agents(i + j), receiver.url)),
      );
    }
    const worker = await server(bench, 'worker');
    const arrived = receiver.expect(N);
    const t = performance.now();
    await publish(workspace.id);
    await arrived;
    const elapsed = (performance.now() - t) / 1000;
    await bench.sql`update webhooks set active = false where workspace_id = ${workspace.id}`;
    await worker.stop();
    return elapsed;
  };
  const fan: number[] = [];
  const single: number[] = [];
  for (let run = 0; run < REPEATS; run++) {
    fan.push(
      await seconds(
        (ws) => publishMany(bench, ws, () => 'fan', 1),
        () => 'fan',
      ),
    );
    single.push(
      await seconds(
        (ws) => publishMany(bench, ws, (i) => `one-${i}`, N, 50),
        (i) => `one-${i}`,
      ),
    );
  }
  await receiver.close();
  record(
    {
      scenario: 'fan-out',
      measured: `s to last of ${N} receipts`,
      figure: Number(median(fan).toFixed(2)),
      baseline: Number(median(single).toFixed(2)),
      target: '≤ 1.0× single-webhook events',
    },
    (ratio) => ratio <= 1.0,
  );
}
