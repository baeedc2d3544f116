/**
 * `npm run bench`: each scenario against a baseline measured in the same run, on one
 * embedded PostgreSQL (default durability) and receivers on 127.0.0.1. Prints a table
 * and writes test/bench/results/latest.json. Figures are ratios: this machine is small
 * and noisy, so absolute numbers mean little from one run to the next.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { makeWorkerUtils } from 'graphile-worker';
import { createApiKey } from '../../src/auth/api-keys.js';
import { startEmbeddedPostgres } from '../../src/db/embedded.js';
import { migrate } from '../../src/db/migrate.js';
import { createPool, type Pool } from '../../src/db/sql.js';
import { publishEvent } from '../../src/events/store.js';
import { insertWebhook } from '../../src/webhooks/store.js';
import { createWorkspace } from '../../src/workspaces/store.js';
import { type Child, serverPeakRssMb, startBaseline, startServer } from './processes.js';

type Row = {
  scenario: string;
  measured: string;
  figure: number;
  baseline: number;
  ratio: number;
  target: string;
  met: boolean;
};
const rows: Row[] = [];
const REPEATS = Number(process.env.BENCH_REPEATS ?? 3);
/** BENCH_ONLY=register,isolation runs just those scenarios (while profiling one). */
const ONLY = process.env.BENCH_ONLY?.split(',');
/** BENCH_STATEMENTS=1 prints each scenario's costliest SQL statements (pg_stat_statements). */
const STATEMENTS = Boolean(process.env.BENCH_STATEMENTS);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

function record(row: Omit<Row, 'ratio' | 'met'>, met: (ratio: number, figure: number) => boolean) {
  const ratio = Number((row.figure / row.baseline).toFixed(2));
  const full = { ...row, ratio, met: met(ratio, row.figure) };
  rows.push(full);
  process.stdout.write(
    `  ${row.scenario}: ${row.measured} ${row.figure} vs ${row.baseline} → ${ratio}× ${full.met ? 'met' : 'NOT met'} (${row.target})\n`,
  );
}

async function listen(handler: Parameters<typeof createServer>[1]): Promise<{ server: Server; url: string }> {
  const server = createServer(handler);
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

/** A keep-alive receiver that counts, resolving when `expected` requests have arrived. */
async function countingReceiver() {
  let count = 0;
  let target = Number.POSITIVE_INFINITY;
  let done: () => void = () => {};
  const { server, url } = await listen((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200).end();
      if (++count === target) done();
    });
  });
  return {
    url: `${url}/hooks`,
    close: () => new Promise((resolve) => server.close(resolve)),
    expect(n: number) {
      count = 0;
      target = n;
      return new Promise<void>((resolve) => {
        done = resolve;
      });
    },
  };
}

async function cannon(url: string, headers: Record<string, string>, body: string, seconds = 6) {
  const result = await autocannon({ url, connections: 32, duration: seconds, method: 'POST', headers, body });
  if (result.non2xx > 0) throw new Error(`${result.non2xx} non-2xx answers from ${url}`);
  return { rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99 };
}

async function printTopStatements(sql: Pool) {
  const top = await sql<{ calls: number; totalMs: number; meanMs: number; rows: number; query: string }[]>`
    select calls::int, round(total_exec_time)::int as total_ms, round(mean_exec_time::numeric, 2)::float as mean_ms,
      rows::int, left(regexp_replace(query, '[[:space:]]+', ' ', 'g'), 100) as query
    from pg_stat_statements order by total_exec_time desc limit 8`;
  for (const s of top) {
    process.stdout.write(
      `      ${s.totalMs} ms total, ${s.calls} calls, ${s.meanMs} ms mean, ${s.rows} rows: ${s.query}\n`,
    );
  }
}

/** What every scenario gets: the bench's own pool (to set up data and publish) and the server's environment. */
type Bench = { sql: Pool; secretKey: Buffer; databaseUrl: string; serverEnv: Record<string, string> };

/**
 * Every measured run starts from a vacuumed database, not in the wake of the last run's
 * writes: queue tables leave dead index entries that autovacuum (once a minute) would
 * clear at a moment no run controls. Ours and the baselines get the same.
 */
const settle = (bench: Bench) => bench.sql`vacuum analyze`;

const server = (bench: Bench, role: 'all' | 'api' | 'worker') => startServer({ ...bench.serverEnv, ROLE: role });

async function main() {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'convo-hooks-bench-'));
  await fs.chmod(dataDir, 0o755);
  const cluster = await startEmbeddedPostgres({
    dataDir,
    settings: { max_connections: '200', ...(STATEMENTS ? { shared_preload_libraries: 'pg_stat_statements' } : {}) },
  });
  const sql = createPool(cluster.url, { max: 20 });
  const secretKey = randomBytes(32);
  const bench: Bench = {
    sql,
    secretKey,
    databaseUrl: cluster.url,
    serverEnv: {
      DATABASE_URL: cluster.url,
      SECRET_ENCRYPTION_KEY: secretKey.toString('hex'),
      ALLOW_PRIVATE_TARGETS: 'true',
      RATE_LIMIT_PER_SECOND: '0',
    },
  };
  const started = Date.now();
  try {
    await migrate(sql);
    if (STATEMENTS) await sql`create extension if not exists pg_stat_statements`;
    process.stdout.write(
      `bench on ${os.cpus().length} × ${os.cpus()[0]?.model}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}\n`,
    );
    await sql`create table bench_attempts (id bigint generated always as identity primary key, delivery_id text,
      attempted_at timestamptz, status_code int, duration_ms int, error text, response_body text)`;
    const utils = await makeWorkerUtils({ connectionString: cluster.url });
    await utils.migrate();
    await utils.release();

    for (const [name, scenario] of Object.entries(scenarios)) {
      if (ONLY && !ONLY.includes(name)) continue;
      await settle(bench);
      if (STATEMENTS) await sql`select pg_stat_statements_reset()`;
      await scenario(bench);
      if (STATEMENTS) await printTopStatements(sql);
    }
  } finally {
    await sql.end();
    await cluster.stop();
    await fs.rm(dataDir, { recursive: true, force: true });
  }
  record(
    {
      scenario: 'memory',
      measured: 'peak RSS MB, any server process, whole run',
      figure: serverPeakRssMb(),
      baseline: 300,
      target: '≤ 300 MB',
    },
    (_r, f) => f <= 300,
  );
  const machine = {
    cpus: os.cpus().length,
    cpu: os.cpus()[0]?.model,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
  };
  const out = fileURLToPath(new URL('./results/latest.json', import.meta.url));
  await fs.mkdir(path.dirname(out), { recursive: true });
  await fs.writeFile(
    out,
    `${JSON.stringify({ at: new Date().toISOString(), machine, repeats: REPEATS, rows }, null, 2)}\n`,
  );
  process.stdout.write(
    `\n| scenario | measured | figure | baseline | ratio | target | met |\n| --- | --- | --- | --- | --- | --- | --- |\n`,
  );
  for (const r of rows)
    process.stdout.write(
      `| ${r.scenario} | ${r.measured} | ${r.figure} | ${r.baseline} | ${r.ratio}× | ${r.target} | ${r.met ? 'yes' : 'no'} |\n`,
    );
  process.stdout.write(`\nwhole run: ${Math.round((Date.now() - started) / 1000)} s; results in ${out}\n`);
}

const webhook = (bench: Bench, workspaceId: string, agentId: string, url: string) =>
  insertWebhook(bench.sql, bench.secretKey, {
    workspaceId,
    name: 'bench',
    agentId,
    url,
    events: ['conversation_ended'],
    active: true,
  });

/** Publishes `count` events for one agent, `parallel` at a time, as a busy platform would. */
async function publishMany(
  bench: Bench,
  workspaceId: string,
  agentId: (i: number) => string,
  count: number,
  parallel = 100,
) {
  for (let i = 0; i < count; i += parallel) {
    await Promise.all(
      Array.from({ length: Math.min(parallel, count - i) }, (_, j) =>
        publishEvent(bench.sql, {
          workspaceId,
          agentId: agentId(i + j),
          type: 'conversation_ended',
          data: { n: i + j, transcript: 'x'.repeat(500) },
        }),
      ),
    );
  }
}

/** registerWebhook through the whole server vs a bare node:http handler doing the same validated INSERT. */
async function registerScenario(bench: Bench) {
  const workspace = await createWorkspace(bench.sql, 'bench-register');
  const { apiKey } = await createApiKey(bench.sql, workspace.id);
  const input = { name: 'bench', agentId: 'agent', url: 'https://example.com/hooks', events: ['CONVERSATION_ENDED'] };
  const query = 'mutation R($input: RegisterWebhookInput!) { registerWebhook(input: $input) { id secret } }';
  const body = JSON.stringify({ query, variables: { input } });
  const headers = { 'content-type': 'application/json', 'x-api-key': apiKey };

  // As in production: registration refuses private targets (only delivery scenarios need them).
  const ours = await startServer({ ...bench.serverEnv, ROLE: 'api', ALLOW_PRIVATE_TARGETS: 'false' });
  const bare = await startBaseline('bare-register.ts', bench.serverEnv);
  const oursRuns: { rps: number; p50: number; p99: number }[] = [];
  const bareRuns: { rps: number; p50: number; p99: number }[] = [];
  await cannon(`${ours.url}/graphql`, headers, body, 2); // warm-up (JIT, pools, caches)
  await cannon(bare.url, headers, body, 2);
  for (let i = 0; i < REPEATS; i++) {
    oursRuns.push(await cannon(`${ours.url}/graphql`, headers, body));
    bareRuns.push(await cannon(bare.url, headers, body));
  }
  await ours.stop();
  await bare.stop();
  const rps = median(oursRuns.map((r) => r.rps));
  const p99 = median(oursRuns.map((r) => r.p99));
  record(
    {
      scenario: 'register',
      measured: 'req/s (32 connections)',
      figure: Math.round(rps),
      baseline: Math.round(median(bareRuns.map((r) => r.rps))),
      target: '≥ 0.6× bare node:http',
    },
    (ratio) => ratio >= 0.6,
  );
  record(
    {
      scenario: 'register',
      measured: 'p99 ms',
      figure: p99,
      baseline: median(bareRuns.map((r) => r.p99)),
      target: 'p99 ≤ 25 ms',
    },
    (_r, figure) => figure <= 25,
  );
  process.stdout.write(
    `    p50 ours ${median(oursRuns.map((r) => r.p50))} ms, bare ${median(bareRuns.map((r) => r.p50))} ms\n`,
  );
}

/**
 * 20,000 deliveries (2,000 events × 10 webhooks), timed from the first publish to the last
 * receipt: our worker process vs graphile-worker doing the same work per job.
 */
async function deliveryScenario(bench: Bench) {
  const EVENTS = 2000;
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

const percentile = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))] as number;

/**
 * Events published one at a time at a steady rate, publish → receipt; the baseline is
 * graphile-worker's add_job → receipt of the same signed POST.
 */
async function latencyScenario(bench: Bench) {
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

/** 50 webhooks, one a black hole (accepts, never answers): healthy throughput vs the same run without it. */
async function isolationScenario(bench: Bench) {
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

/** One event to 10,000 webhooks vs 10,000 events to one webhook each: time to the last receipt. */
async function fanOutScenario(bench: Bench) {
  const N = 10_000;
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

/** First page of `webhooks` (no totalCount) with 200,000 rows vs 1,000. */
async function listScalingScenario(bench: Bench) {
  const api = await server(bench, 'api');
  const page = JSON.stringify({
    query: '{ webhooks(first: 20) { edges { node { id name url } } pageInfo { endCursor } } }',
  });
  const counted = JSON.stringify({ query: '{ webhooks(first: 20) { totalCount } }' });
  const measure = async (rows: number) => {
    const workspace = await createWorkspace(bench.sql, `bench-list-${rows}`);
    const { apiKey } = await createApiKey(bench.sql, workspace.id);
    await bench.sql`insert into webhooks (id, workspace_id, name, agent_id, url, events, secret_encrypted, created_at)
      select random_id('wh_'), ${workspace.id}, 'hook ' || n, 'agent-' || (n % 100), 'https://example.com/' || n,
        array['conversation_ended'], '\\x00'::bytea, now() - n * interval '1 second'
      from generate_series(1, ${rows}::int) n`;
    await bench.sql`analyze webhooks`;
    const headers = { 'content-type': 'application/json', 'x-api-key': apiKey };
    const runs: number[] = [];
    const countRuns: number[] = [];
    for (let i = 0; i < REPEATS; i++) {
      runs.push((await cannon(`${api.url}/graphql`, headers, page, 4)).p50);
      countRuns.push((await cannon(`${api.url}/graphql`, headers, counted, 3)).p50);
    }
    return { p50: median(runs), countP50: median(countRuns) };
  };
  const small = await measure(1000);
  const large = await measure(200_000);
  await api.stop();
  record(
    {
      scenario: 'list scaling',
      measured: 'first page p50 ms, 200k rows (1k baseline)',
      figure: large.p50,
      baseline: small.p50,
      target: '≤ 1.5× the 1k figure',
    },
    (ratio) => ratio <= 1.5,
  );
  record(
    {
      scenario: 'list scaling',
      measured: 'totalCount p50 ms, 200k rows (1k baseline)',
      figure: large.countP50,
      baseline: small.countP50,
      target: 'reported',
    },
    () => true,
  );
}

/** A server (API + worker) started on 100,000 pending deliveries to a slow receiver: its RSS over 10 s. */
async function memoryScenario(bench: Bench) {
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

const scenarios = {
  register: registerScenario,
  delivery: deliveryScenario,
  latency: latencyScenario,
  isolation: isolationScenario,
  'fan-out': fanOutScenario,
  list: listScalingScenario,
  memory: memoryScenario,
};

await main();
process.exit(0);
