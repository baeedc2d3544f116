import { publishEvent } from '../../../src/events/store.js';
import { createWorkspace } from '../../../src/workspaces/store.js';
import { type Bench, listen, percentile, record, server, webhook } from '../harness.js';
import { startBaseline } from '../processes.js';

/**
 * Events published one at a time at a steady rate, publish → receipt; the baseline is
 * graphile-worker's add_job → receipt of the same signed POST.
 */
export async function latencyScenario(bench: Bench) {
  const RATE = 50;
  const COUNT = 500;
  const sentAt = new Map<string, number>();
  const latencies: number[] = [];
  const { server: receiver, url } = await listen((req, res) => {
    const at = sentAt.get(String(req.headers['webhook-id']));
    if (at !== undefined) latencies.push(performance.now() - at);
    req.resume();
    req.on('end', () => res.writeHead(200).end());
  });
  const steadily = async (send: (i: number) => Promise<string>) => {
    latencies.length = 0;
    for (let i = 0; i < COUNT; i++) {
      const t = performance.now();
      sentAt.set(await send(i), t);
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, 1000 / RATE - (performance.now() - t))));
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
    if (latencies.length < COUNT) throw new Error(`latency: only ${latencies.length} of ${COUNT} arrived`);
    return [...latencies];
  };

  const workspace = await createWorkspace(bench.sql, 'bench-latency');
  await webhook(bench, workspace.id, 'latency', `${url}/`);
  const worker = await server(bench, 'worker');
  const ours = await steadily(async (i) => {
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
  const theirs = await steadily(async (i) => {
    await bench.sql`select graphile_worker.add_job('deliver', json_build_object('id', ${`job_${i}`}::text, 'url', ${`${url}/`}::text))`;
    return `job_${i}`;
  });
  await graphile.stop();
  receiver.close();
  const round = (x: number) => Number(x.toFixed(1));
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
