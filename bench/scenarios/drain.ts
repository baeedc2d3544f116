import { createWorkspace } from '../../src/workspaces/store.js';
import {
  type Bench,
  benchCpuMs,
  countingReceiver,
  databaseCpuMs,
  median,
  publishBacklog,
  REPEATS,
  record,
  settle,
  webhook,
} from '../harness.js';
import { startBaseline, startServer } from '../processes.js';

/** BENCH_DRAIN_BASE=dir: a second build of the server (built into dir) also drains, for an A/B. */
const BASE = process.env.BENCH_DRAIN_BASE;

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
  // CPU per delivery (µs) of each side's process, the database and the receiver: on two
  // cores the ratio is mostly what a delivery costs in all, so this says where ours goes.
  const cpu: { ours: string[]; floor: string[]; base: string[] } = { ours: [], floor: [], base: [] };
  const base: number[] = [];
  const perDelivery = async (child: { cpuMs(): Promise<number> }, before: number[]) => {
    const now = [await child.cpuMs(), await databaseCpuMs(bench.sql), benchCpuMs()];
    const [proc, db, receiver] = now.map((ms, i) => Math.round(((ms - (before[i] as number)) * 1000) / TOTAL));
    return `${proc}+${db}+${receiver}`;
  };
  const backlog = (workspaceId: string) => publishBacklog(bench, workspaceId, 'agent', EVENTS);
  /** Drains what is due with a worker process of this build (or of `dist`): deliveries/s. */
  async function drain(dist: string | undefined, into: number[], cpuOf: string[]) {
    await settle(bench);
    const arrived = receiver.expect(TOTAL);
    const worker = await startServer({ ...bench.serverEnv, ROLE: 'worker' }, dist);
    const before = [await worker.cpuMs(), await databaseCpuMs(bench.sql), benchCpuMs()];
    await arrived;
    into.push(TOTAL / ((performance.now() - receiver.firstAt()) / 1000));
    cpuOf.push(await perDelivery(worker, before));
    await worker.stop();
  }
  for (let run = 0; run < REPEATS; run++) {
    const workspace = await createWorkspace(bench.sql, `bench-drain-${run}`);
    for (let i = 0; i < WEBHOOKS; i++) await webhook(bench, workspace.id, 'agent', receiver.url);
    // BENCH_DRAIN_BASE=dir: another build (e.g. the branch's base, built into dir) drains the
    // same backlog in the same run, first on every other repeat: an A/B on a noisy machine.
    const contestants: [string | undefined, number[], string[]][] = [[undefined, ours, cpu.ours]];
    if (BASE) contestants[run % 2 === 0 ? 'push' : 'unshift']([BASE, base, cpu.base]);
    for (const [dist, into, cpuOf] of contestants) {
      await backlog(workspace.id);
      await drain(dist, into, cpuOf);
    }
    await settle(bench);
    const arrived = receiver.expect(TOTAL);
    const baseline = await startBaseline('floor-deliver.ts', {
      DATABASE_URL: bench.databaseUrl,
      RECEIVER_URL: receiver.url,
      COUNT: String(TOTAL),
    });
    const before = [await baseline.cpuMs(), await databaseCpuMs(bench.sql), benchCpuMs()];
    await arrived;
    floor.push(TOTAL / ((performance.now() - receiver.firstAt()) / 1000));
    cpu.floor.push(await perDelivery(baseline, before));
    await baseline.stop();
  }
  await receiver.close();
  process.stdout.write(
    `    runs: ours ${ours.map(Math.round).join(', ')}; floor ${floor.map(Math.round).join(', ')}\n` +
      `    CPU µs per delivery, process+database+receiver: ours ${cpu.ours.join(', ')}; floor ${cpu.floor.join(', ')}\n` +
      (BASE
        ? `    ${BASE}: ${base.map(Math.round).join(', ')} (${cpu.base.join(', ')}), ours/base ${(median(ours) / median(base)).toFixed(2)}×\n`
        : ''),
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
