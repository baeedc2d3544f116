import { publishEvents } from '../../../src/events/store.js';
import { createWorkspace } from '../../../src/workspaces/store.js';
import { type Bench, countingReceiver, median, REPEATS, record, server, settle, webhook } from '../harness.js';
import { startBaseline } from '../processes.js';

/**
 * A backlog of 20,000 deliveries (2,000 events × 10 webhooks, published with no worker
 * running), drained by one worker process (`ROLE=worker`, default concurrency) into a
 * keep-alive receiver, against the floor: the same work per delivery with no queue at all
 * (baselines/floor-deliver.ts). Both timed at the same receiver, first receipt to last.
 */
export async function drainScenario(bench: Bench) {
  const EVENTS = 2000;
  const WEBHOOKS = 10;
  const TOTAL = EVENTS * WEBHOOKS;
  const receiver = await countingReceiver();
  const ours: number[] = [];
  const floor: number[] = [];
  for (let run = 0; run < REPEATS; run++) {
    const workspace = await createWorkspace(bench.sql, `bench-drain-${run}`);
    for (let i = 0; i < WEBHOOKS; i++) await webhook(bench, workspace.id, 'agent', receiver.url);
    for (let i = 0; i < EVENTS; i += 100) {
      await publishEvents(
        bench.sql,
        Array.from({ length: 100 }, (_, j) => ({
          workspaceId: workspace.id,
          agentId: 'agent',
          type: 'conversation_ended',
          data: { n: i + j, transcript: 'x'.repeat(500) },
        })),
      );
    }
    await settle(bench);
    let arrived = receiver.expect(TOTAL);
    const worker = await server(bench, 'worker');
    await arrived;
    ours.push(TOTAL / ((performance.now() - receiver.firstAt()) / 1000));
    await worker.stop();

    await settle(bench);
    arrived = receiver.expect(TOTAL);
    const baseline = await startBaseline('floor-deliver.ts', {
      DATABASE_URL: bench.databaseUrl,
      RECEIVER_URL: receiver.url,
      COUNT: String(TOTAL),
    });
    await arrived;
    floor.push(TOTAL / ((performance.now() - receiver.firstAt()) / 1000));
    await baseline.stop();
  }
  await receiver.close();
  process.stdout.write(
    `    runs: ours ${ours.map(Math.round).join(', ')}; floor ${floor.map(Math.round).join(', ')}\n`,
  );
  record(
    {
      scenario: 'delivery drain',
      measured: `deliveries/s, ${TOTAL.toLocaleString('en')} due, first receipt → last`,
      figure: Math.round(median(ours)),
      baseline: Math.round(median(floor)),
      target: '≥ 0.5× the no-queue floor',
    },
    (ratio) => ratio >= 0.5,
  );
}
