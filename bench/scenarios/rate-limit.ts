import { createWorkspace } from '../../src/workspaces/store.js';
import { type Bench, countingReceiver, listen, publishMany, record, server, settle, webhook } from '../harness.js';

/**
 * A webhook limited to 50/s with 5,000 deliveries due, beside an unlimited one with 2,000:
 * the limited one's busiest second, and the unlimited one's throughput against the same
 * run without the limited backlog.
 */
export async function rateLimitScenario(bench: Bench) {
  const LIMIT = 50;
  const LIMITED = 5000;
  const OTHER = 2000;
  const WATCH_MS = 10_000;
  const arrivals: number[] = [];
  const { server: limitedReceiver, url: limitedUrl } = await listen((req, res) => {
    arrivals.push(performance.now());
    req.resume();
    req.on('end', () => res.writeHead(200).end());
  });
  const other = await countingReceiver();

  const run = async (withLimited: boolean) => {
    const workspace = await createWorkspace(bench.sql, 'bench-rate');
    await webhook(bench, workspace.id, 'other', other.url);
    if (withLimited) {
      const limited = await webhook(bench, workspace.id, 'limited', `${limitedUrl}/`);
      await bench.sql`update webhooks set rate_limit_per_second = ${LIMIT} where id = ${limited.id}`;
      await publishMany(bench, workspace.id, () => 'limited', LIMITED);
    }
    await publishMany(bench, workspace.id, () => 'other', OTHER);
    await settle(bench);
    arrivals.length = 0;
    const arrived = other.expect(OTHER);
    const worker = await server(bench, 'worker');
    const t = performance.now();
    await arrived;
    const rate = OTHER / ((performance.now() - t) / 1000);
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, WATCH_MS - (performance.now() - t))));
    await worker.stop();
    await bench.sql`update webhooks set active = false where workspace_id = ${workspace.id}`;
    return rate;
  };

  const without = await run(false);
  const withLimited = await run(true);
  // The busiest one-second window of the limited webhook's arrivals.
  let busiest = 0;
  for (let i = 0, j = 0; i < arrivals.length; i++) {
    while (j < arrivals.length && (arrivals[j] as number) < (arrivals[i] as number) + 1000) j++;
    busiest = Math.max(busiest, j - i);
  }
  process.stdout.write(
    `    limited: ${arrivals.length} in ${WATCH_MS / 1000} s, busiest second ${busiest}; other: ${Math.round(withLimited)} vs ${Math.round(without)}/s\n`,
  );
  limitedReceiver.closeAllConnections();
  limitedReceiver.close();
  await other.close();
  record(
    {
      scenario: 'rate limit',
      measured: 'busiest second of a webhook limited to 50/s, 5,000 due',
      figure: busiest,
      baseline: LIMIT,
      target: '≤ 50 + burst (5)',
    },
    (_r, f) => f <= LIMIT + Math.ceil(LIMIT / 10),
  );
  record(
    {
      scenario: 'rate limit',
      measured: 'deliveries/s of an unlimited webhook beside it',
      figure: Math.round(withLimited),
      baseline: Math.round(without),
      target: '≥ 0.9× without the limited backlog',
    },
    (ratio) => ratio >= 0.9,
  );
}
