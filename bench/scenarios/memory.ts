import { createWorkspace } from '../../src/workspaces/store.js';
import { type Bench, listen, record, server, webhook } from '../harness.js';
import type { Child } from '../processes.js';

/** A server (API + worker) started on 100,000 pending deliveries to a slow receiver: its RSS over 10 s. */
export async function memoryScenario(bench: Bench) {
  const { server: receiver, url } = await listen((req, res) => {
    req.resume();
    req.on('end', () => setTimeout(() => res.writeHead(200).end(), 20));
  });
  const workspace = await createWorkspace(bench.sql, 'bench-memory');
  const webhooks = [];
  for (let i = 0; i < 10; i++) webhooks.push(await webhook(bench, workspace.id, 'mem', `${url}/`));
  // 10,000 events × 10 webhooks, written straight to the tables: the backlog a long outage leaves.
  await bench.sql`insert into events (id, workspace_id, agent_id, type, payload)
    select 'evt_m' || lpad(n::text, 15, '0'), ${workspace.id}, 'mem', 'conversation_ended', '{"data":{}}'
    from generate_series(1, 10000) n`;
  // In publishing order, as fan-out writes them: each event's deliveries side by side.
  await bench.sql`insert into deliveries (id, workspace_id, event_id, webhook_id, next_attempt_at)
    select random_id('dlv_'), ${workspace.id}, e.id, w.id, now() - interval '1 minute' + (row_number() over (order by e.id, w.id)) * interval '1 microsecond'
    from events e cross join unnest(${webhooks.map((w) => w.id)}::text[]) as w(id) where e.workspace_id = ${workspace.id}
    order by e.id, w.id`;
  const all: Child = await server(bench, 'all');
  const atStart = await all.rssMb();
  const samples: number[] = [];
  for (let i = 0; i < 20; i++) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    samples.push(await all.rssMb());
  }
  await all.stop();
  receiver.closeAllConnections();
  receiver.close();
  const [left] =
    await bench.sql`select count(*)::int as n from deliveries where workspace_id = ${workspace.id} and status = 'pending'`;
  process.stdout.write(
    `    memory: RSS ${samples.filter((_, i) => i % 4 === 3).join(' → ')} MB; ${left?.n} of 100,000 still pending after 10 s\n`,
  );
  record(
    {
      scenario: 'memory',
      measured: 'server RSS MB with 100,000 pending (max over 10 s)',
      figure: Math.max(...samples),
      baseline: atStart,
      target: '≤ 300 MB, flat with backlog',
    },
    (_r, f) => f <= 300,
  );
}
