import { publishEvent } from '../../src/events/publish.js';
import { createWorkspace } from '../../src/workspaces/store.js';
import { type Bench, latencyReceiver, percentile, record, server, webhook } from '../harness.js';
import { startBaseline } from '../processes.js';

/**
 * Events published one at a time at a steady rate, publish → receipt; the baseline is
 * graphile-worker's add_job → receipt of the same signed POST. Each worker's first second
 * is a warm-up, printed but not recorded: there every slowest delivery of a run was (its
 * pool opening connections, each preparing its statements), for both, and a service's p99
 * is its steady state's.
 */
export async function latencyScenario(bench: Bench) {
  const RATE = 50;
  const COUNT = 500;
  const WARM_UP = RATE;
  const receiver = await latencyReceiver();
  const steadily = async (label: string, send: (i: number) => Promise<string>) => {
    const warmUp = await publishAtRate(`${label}, warm-up`, send, 0, WARM_UP);
    process.stdout.write(
      `    ${label}: first second (not recorded) p50 ${round(percentile(warmUp, 0.5))} ms, slowest ${round(Math.max(...warmUp))} ms\n`,
    );
    return publishAtRate(label, send, WARM_UP, COUNT);
  };
  /** Publishes numbers `from` … `from + count - 1` at RATE; their latencies. */
  const publishAtRate = async (label: string, send: (i: number) => Promise<string>, from: number, count: number) => {
    for (let i = from; i < from + count; i++) {
      const t = performance.now();
      receiver.sent(await send(i), t);
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, 1000 / RATE - (performance.now() - t))));
    }
    return receiver.latencies(label);
  };
  const round = (x: number) => Number(x.toFixed(1));

  const workspace = await createWorkspace(bench.sql, 'bench-latency');
  await webhook(bench, workspace.id, 'latency', receiver.url);
  const worker = await server(bench, 'worker');
  const ours = await steadily('latency (ours)', async (i) => {
    const { event } = await publishEvent(bench.sql, {
      workspaceId: workspace.id,
      agentId: 'latency',
      type: 'conversation_ended',
      data: { i },
    });
    return event.id;
  });
  await worker.stop();

  const graphile = await startBaseline('graphile-deliver.ts', { DATABASE_URL: bench.databaseUrl });
  const theirs = await steadily('latency (graphile-worker)', async (i) => {
    await bench.sql`select graphile_worker.add_job('deliver', json_build_object('id', ${`job_${i}`}::text, 'url', ${receiver.url}::text))`;
    return `job_${i}`;
  });
  await graphile.stop();
  receiver.close();
  for (const [label, p, limitMs] of [
    ['p50', 0.5, 10],
    ['p99', 0.99, 50],
  ] as const) {
    record(
      {
        scenario: 'latency',
        measured: `publish→receive ${label} ms (${RATE}/s)`,
        figure: round(percentile(ours, p)),
        baseline: round(percentile(theirs, p)),
        target: `${label} ≤ ${limitMs} ms`,
      },
      (_r, f) => f <= limitMs,
    );
  }
}
