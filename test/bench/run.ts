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
import { Logger as GraphileLogger, makeWorkerUtils, run as runGraphileWorker } from 'graphile-worker';
import { createApp } from '../../src/app.js';
import { authenticateApiKey, createApiKey } from '../../src/auth/api-keys.js';
import { loadConfig } from '../../src/config.js';
import { startEmbeddedPostgres } from '../../src/db/embedded.js';
import { migrate } from '../../src/db/migrate.js';
import { createPool, type Pool } from '../../src/db/sql.js';
import { createSender } from '../../src/delivery/sender.js';
import { webhookHeaders } from '../../src/delivery/signing.js';
import { startDeliveryWorker } from '../../src/delivery/worker.js';
import { publishEvent } from '../../src/events/store.js';
import { createLogger } from '../../src/lib/logger.js';
import { webhookRules } from '../../src/webhooks/rules.js';
import { insertWebhook } from '../../src/webhooks/store.js';
import { createWorkspace } from '../../src/workspaces/store.js';

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
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const silent = createLogger('silent');

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

async function main() {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'convo-hooks-bench-'));
  await fs.chmod(dataDir, 0o755);
  const cluster = await startEmbeddedPostgres({ dataDir, settings: { max_connections: '200' } });
  const sql = createPool(cluster.url, { max: 20 });
  const secretKey = randomBytes(32);
  const config = loadConfig({
    DATABASE_URL: cluster.url,
    SECRET_ENCRYPTION_KEY: secretKey.toString('hex'),
    ALLOW_PRIVATE_TARGETS: 'true',
    RATE_LIMIT_PER_SECOND: '0',
    LOG_LEVEL: 'silent',
  });
  const started = Date.now();
  // Peak RSS of this process, which serves the API and runs the worker in every scenario.
  let peakRss = 0;
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
  }, 200);
  try {
    await migrate(sql);
    process.stdout.write(
      `bench on ${os.cpus().length} × ${os.cpus()[0]?.model}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}\n`,
    );
    await registerScenario(sql, config, secretKey);
    await deliveryScenario(sql, config, secretKey, cluster.url);
    await latencyScenario(sql, config, secretKey, cluster.url);
    await isolationScenario(sql, config, secretKey);
    await fanOutScenario(sql, config, secretKey);
    await listScalingScenario(sql, config, secretKey);
    await memoryScenario(sql, config, secretKey);
  } finally {
    await sql.end();
    await cluster.stop();
    await fs.rm(dataDir, { recursive: true, force: true });
  }
  clearInterval(sampler);
  record(
    {
      scenario: 'memory',
      measured: 'peak RSS MB, whole run',
      figure: Math.round(peakRss / 1e6),
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

/** registerWebhook through the whole stack vs a bare node:http handler doing the same validated INSERT. */
async function registerScenario(sql: Pool, config: ReturnType<typeof loadConfig>, secretKey: Buffer) {
  const workspace = await createWorkspace(sql, 'bench-register');
  const { apiKey } = await createApiKey(sql, workspace.id);
  const input = { name: 'bench', agentId: 'agent', url: 'https://example.com/hooks', events: ['CONVERSATION_ENDED'] };
  const query = 'mutation R($input: RegisterWebhookInput!) { registerWebhook(input: $input) { id secret } }';
  const body = JSON.stringify({ query, variables: { input } });
  const headers = { 'content-type': 'application/json', 'x-api-key': apiKey };

  const yoga = createApp({ sql, config, secretKey, log: silent });
  const ours = await listen(yoga);
  const schema = webhookRules;
  const bare = await listen((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      try {
        const key = await authenticateApiKey(sql, String(req.headers['x-api-key']));
        if (!key) return void res.writeHead(401).end();
        const { input: raw } = JSON.parse(Buffer.concat(chunks).toString()).variables;
        const parsed = {
          name: schema.name.parse(raw.name),
          agentId: schema.agentId.parse(raw.agentId),
          url: schema.url.parse(raw.url),
          events: schema.events.parse(raw.events.map((e: string) => e.toLowerCase())),
        };
        const webhook = await insertWebhook(sql, secretKey, { ...parsed, workspaceId: key.workspaceId, active: true });
        res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify({ data: { registerWebhook: { id: webhook.id, secret: webhook.secret } } }));
      } catch {
        res.writeHead(500).end();
      }
    });
  });
  const oursRuns: { rps: number; p50: number; p99: number }[] = [];
  const bareRuns: { rps: number; p50: number; p99: number }[] = [];
  await cannon(`${ours.url}/graphql`, headers, body, 2); // warm-up
  for (let i = 0; i < REPEATS; i++) {
    oursRuns.push(await cannon(`${ours.url}/graphql`, headers, body));
    bareRuns.push(await cannon(bare.url, headers, body));
  }
  ours.server.close();
  bare.server.close();
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

/** 20,000 deliveries from a backlog: our worker vs graphile-worker doing the same work per job. */
async function deliveryScenario(sql: Pool, config: ReturnType<typeof loadConfig>, secretKey: Buffer, url: string) {
  const EVENTS = 2000;
  const WEBHOOKS = 10;
  const receiver = await countingReceiver();
  const ours: number[] = [];
  const theirs: number[] = [];
  await sql`create table if not exists bench_attempts (id bigint generated always as identity primary key, delivery_id text,
    attempted_at timestamptz, status_code int, duration_ms int, error text, response_body text)`;
  const utils = await makeWorkerUtils({ connectionString: url });
  await utils.migrate();
  const sender = createSender({ timeoutMs: config.deliveryTimeoutMs, allowPrivateTargets: true });
  const secret = `whsec_${randomBytes(32).toString('base64')}`;

  for (let run = 0; run < REPEATS; run++) {
    // Ours.
    const workspace = await createWorkspace(sql, `bench-delivery-${run}`);
    for (let i = 0; i < WEBHOOKS; i++) {
      await insertWebhook(sql, secretKey, {
        workspaceId: workspace.id,
        name: `w${i}`,
        agentId: 'agent',
        url: receiver.url,
        events: ['conversation_ended'],
        active: true,
      });
    }
    for (let i = 0; i < EVENTS; i += 100) {
      await Promise.all(
        Array.from({ length: Math.min(100, EVENTS - i) }, (_, j) =>
          publishEvent(sql, {
            workspaceId: workspace.id,
            agentId: 'agent',
            type: 'conversation_ended',
            data: { n: i + j, transcript: 'x'.repeat(500) },
          }),
        ),
      );
    }
    let arrived = receiver.expect(EVENTS * WEBHOOKS);
    let t = performance.now();
    const worker = startDeliveryWorker({ sql, secretKey, config, log: silent });
    await arrived;
    ours.push((EVENTS * WEBHOOKS) / ((performance.now() - t) / 1000));
    await worker.stop();

    // graphile-worker: one job per delivery; each job signs, POSTs with the same sender, and writes an attempt row.
    const body = JSON.stringify({ type: 'conversation_ended', data: { transcript: 'x'.repeat(500) } });
    for (let i = 0; i < EVENTS * WEBHOOKS; i += 500) {
      await sql`select graphile_worker.add_job('deliver', json_build_object('id', 'evt_' || n))
        from generate_series(${i}::int, ${Math.min(i + 500, EVENTS * WEBHOOKS) - 1}::int) n`;
    }
    arrived = receiver.expect(EVENTS * WEBHOOKS);
    t = performance.now();
    const runner = await runGraphileWorker({
      connectionString: url,
      concurrency: 24,
      noHandleSignals: true,
      pollInterval: 1000,
      logger: new GraphileLogger(() => () => {}),
      taskList: {
        deliver: async (payload) => {
          const { id } = payload as { id: string };
          const attemptedAt = new Date();
          const result = await sender.send(receiver.url, webhookHeaders([secret], id, body), body);
          await sql`insert into bench_attempts (delivery_id, attempted_at, status_code, duration_ms, error, response_body)
            values (${id}, ${attemptedAt}, ${result.statusCode}, ${result.durationMs}, ${result.error}, ${result.responseBody})`;
          if (!result.ok) throw new Error(result.error ?? 'failed');
        },
      },
    });
    await arrived;
    theirs.push((EVENTS * WEBHOOKS) / ((performance.now() - t) / 1000));
    await runner.stop();
  }
  await utils.release();
  await sender.close();
  await receiver.close();
  record(
    {
      scenario: 'delivery throughput',
      measured: 'deliveries/s (20,000)',
      figure: Math.round(median(ours)),
      baseline: Math.round(median(theirs)),
      target: '≥ 1.5× graphile-worker',
    },
    (ratio) => ratio >= 1.5,
  );
}

const percentile = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))] as number;

/** Events published one at a time at a steady rate: publish → receipt, vs graphile-worker's add → start. */
async function latencyScenario(sql: Pool, config: ReturnType<typeof loadConfig>, secretKey: Buffer, url: string) {
  const RATE = 50;
  const COUNT = 400;
  const published = new Map<string, number>();
  const latencies: number[] = [];
  const { server, url: base } = await listen((req, res) => {
    const id = String(req.headers['webhook-id']);
    const at = published.get(id);
    if (at !== undefined) latencies.push(performance.now() - at);
    req.resume();
    req.on('end', () => res.writeHead(200).end());
  });
  const workspace = await createWorkspace(sql, 'bench-latency');
  await insertWebhook(sql, secretKey, {
    workspaceId: workspace.id,
    name: 'l',
    agentId: 'latency',
    url: `${base}/`,
    events: ['conversation_ended'],
    active: true,
  });
  const worker = startDeliveryWorker({ sql, secretKey, config, log: silent });
  for (let i = 0; i < COUNT; i++) {
    const t = performance.now();
    const { event } = await publishEvent(sql, {
      workspaceId: workspace.id,
      agentId: 'latency',
      type: 'conversation_ended',
      data: { i },
    });
    published.set(event.id, t);
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, 1000 / RATE - (performance.now() - t))));
  }
  await new Promise((resolve) => setTimeout(resolve, 1000));
  await worker.stop();
  server.close();

  const starts: number[] = [];
  const added = new Map<string, number>();
  const utils = await makeWorkerUtils({ connectionString: url });
  const runner = await runGraphileWorker({
    connectionString: url,
    concurrency: 24,
    noHandleSignals: true,
    pollInterval: 1000,
    logger: new GraphileLogger(() => () => {}),
    taskList: {
      latency: async (payload) => {
        const at = added.get((payload as { id: string }).id);
        if (at !== undefined) starts.push(performance.now() - at);
      },
    },
  });
  for (let i = 0; i < COUNT; i++) {
    const t = performance.now();
    added.set(String(i), t);
    await utils.addJob('latency', { id: String(i) });
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, 1000 / RATE - (performance.now() - t))));
  }
  await new Promise((resolve) => setTimeout(resolve, 1500));
  await runner.stop();
  await utils.release();
  const round = (x: number) => Number(x.toFixed(1));
  record(
    {
      scenario: 'latency',
      measured: `publish→receive p50 ms (${RATE}/s)`,
      figure: round(percentile(latencies, 0.5)),
      baseline: round(percentile(starts, 0.5)),
      target: 'p50 ≤ 10 ms',
    },
    (_r, f) => f <= 10,
  );
  record(
    {
      scenario: 'latency',
      measured: `publish→receive p99 ms (${RATE}/s)`,
      figure: round(percentile(latencies, 0.99)),
      baseline: round(percentile(starts, 0.99)),
      target: 'p99 ≤ 50 ms',
    },
    (_r, f) => f <= 50,
  );
}

/** 50 webhooks, one a black hole (accepts, never answers): healthy throughput vs the same run without it. */
async function isolationScenario(sql: Pool, config: ReturnType<typeof loadConfig>, secretKey: Buffer) {
  const EVENTS = 100;
  const healthy = await countingReceiver();
  const hung = new Set<import('node:http').ServerResponse>();
  const blackHole = await listen((req, res) => {
    req.resume();
    hung.add(res);
  });
  const run = async (withBlackHole: boolean) => {
    const workspace = await createWorkspace(sql, 'bench-isolation');
    for (let i = 0; i < 49; i++) {
      await insertWebhook(sql, secretKey, {
        workspaceId: workspace.id,
        name: 'h',
        agentId: 'iso',
        url: healthy.url,
        events: ['conversation_ended'],
        active: true,
      });
    }
    if (withBlackHole) {
      await insertWebhook(sql, secretKey, {
        workspaceId: workspace.id,
        name: 'b',
        agentId: 'iso',
        url: `${blackHole.url}/`,
        events: ['conversation_ended'],
        active: true,
      });
    }
    for (let i = 0; i < EVENTS; i += 20) {
      await Promise.all(
        Array.from({ length: 20 }, () =>
          publishEvent(sql, { workspaceId: workspace.id, agentId: 'iso', type: 'conversation_ended', data: {} }),
        ),
      );
    }
    const arrived = healthy.expect(EVENTS * 49);
    const t = performance.now();
    const worker = startDeliveryWorker({ sql, secretKey, config, log: silent });
    await arrived;
    const rate = (EVENTS * 49) / ((performance.now() - t) / 1000);
    await worker.stop(0);
    await sql`update webhooks set active = false where workspace_id = ${workspace.id}`;
    return rate;
  };
  const withHole: number[] = [];
  const without: number[] = [];
  for (let i = 0; i < REPEATS; i++) {
    without.push(await run(false));
    withHole.push(await run(true));
  }
  for (const res of hung) res.destroy();
  blackHole.server.closeAllConnections();
  blackHole.server.close();
  await healthy.close();
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

/** RSS while the worker chews through 100,000 pending deliveries to a slow receiver. */
async function memoryScenario(sql: Pool, config: ReturnType<typeof loadConfig>, secretKey: Buffer) {
  const { server, url } = await listen((req, res) => {
    req.resume();
    req.on('end', () => setTimeout(() => res.writeHead(200).end(), 20));
  });
  const workspace = await createWorkspace(sql, 'bench-memory');
  const webhooks = [];
  for (let i = 0; i < 10; i++) {
    webhooks.push(
      await insertWebhook(sql, secretKey, {
        workspaceId: workspace.id,
        name: 'm',
        agentId: 'mem',
        url: `${url}/`,
        events: ['conversation_ended'],
        active: true,
      }),
    );
  }
  // 10,000 events × 10 webhooks, written straight to the tables: the backlog a long outage leaves.
  await sql`insert into events (id, workspace_id, agent_id, type, payload)
    select 'evt_m' || lpad(n::text, 15, '0'), ${workspace.id}, 'mem', 'conversation_ended', '{"data":{}}'
    from generate_series(1, 10000) n`;
  // In publishing order, as fan-out writes them: each event's deliveries side by side.
  await sql`insert into deliveries (id, workspace_id, event_id, webhook_id, next_attempt_at)
    select random_id('dlv_'), ${workspace.id}, e.id, w.id, now() - interval '1 minute' + (row_number() over (order by e.id, w.id)) * interval '1 microsecond'
    from events e cross join unnest(${webhooks.map((w) => w.id)}::text[]) as w(id) where e.workspace_id = ${workspace.id}
    order by e.id, w.id`;
  const before = process.memoryUsage().rss;
  const samples: number[] = [];
  const worker = startDeliveryWorker({ sql, secretKey, config, log: silent });
  for (let i = 0; i < 20; i++) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    samples.push(process.memoryUsage().rss);
  }
  await worker.stop(0);
  server.closeAllConnections();
  server.close();
  const [left] =
    await sql`select count(*)::int as n from deliveries where workspace_id = ${workspace.id} and status = 'pending'`;
  process.stdout.write(`    memory: ${left?.n} of 100,000 deliveries still pending after 10 s\n`);
  record(
    {
      scenario: 'memory',
      measured: 'RSS MB with 100,000 pending (max over 10 s)',
      figure: Math.round(Math.max(...samples) / 1e6),
      baseline: Math.round(before / 1e6),
      target: '≤ 300 MB, flat with backlog',
    },
    (_r, f) => f <= 300,
  );
}

/** One event to 10,000 webhooks vs 10,000 events to one webhook each: time to the last receipt. */
async function fanOutScenario(sql: Pool, config: ReturnType<typeof loadConfig>, secretKey: Buffer) {
  const N = 10_000;
  const receiver = await countingReceiver();
  const seconds = async (publish: (workspaceId: string) => Promise<void>, agents: (i: number) => string) => {
    const workspace = await createWorkspace(sql, 'bench-fan-out');
    for (let i = 0; i < N; i += 500) {
      await Promise.all(
        Array.from({ length: 500 }, (_, j) =>
          insertWebhook(sql, secretKey, {
            workspaceId: workspace.id,
            name: 'f',
            agentId: agents(i + j),
            url: receiver.url,
            events: ['conversation_ended'],
            active: true,
          }),
        ),
      );
    }
    const arrived = receiver.expect(N);
    const worker = startDeliveryWorker({ sql, secretKey, config, log: silent });
    const t = performance.now();
    await publish(workspace.id);
    await arrived;
    const elapsed = (performance.now() - t) / 1000;
    await worker.stop();
    await sql`update webhooks set active = false where workspace_id = ${workspace.id}`;
    return elapsed;
  };
  const fan: number[] = [];
  const single: number[] = [];
  for (let run = 0; run < REPEATS; run++) {
    fan.push(
      await seconds(
        (ws) =>
          publishEvent(sql, { workspaceId: ws, agentId: 'fan', type: 'conversation_ended', data: {} }).then(() => {}),
        () => 'fan',
      ),
    );
    single.push(
      await seconds(
        async (ws) => {
          for (let i = 0; i < N; i += 50) {
            await Promise.all(
              Array.from({ length: 50 }, (_, j) =>
                publishEvent(sql, { workspaceId: ws, agentId: `one-${i + j}`, type: 'conversation_ended', data: {} }),
              ),
            );
          }
        },
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
async function listScalingScenario(sql: Pool, config: ReturnType<typeof loadConfig>, secretKey: Buffer) {
  const yoga = createApp({ sql, config, secretKey, log: silent });
  const server = await listen(yoga);
  const page = JSON.stringify({
    query: '{ webhooks(first: 20) { edges { node { id name url } } pageInfo { endCursor } } }',
  });
  const counted = JSON.stringify({ query: '{ webhooks(first: 20) { totalCount } }' });
  const measure = async (rows: number) => {
    const workspace = await createWorkspace(sql, `bench-list-${rows}`);
    const { apiKey } = await createApiKey(sql, workspace.id);
    await sql`insert into webhooks (id, workspace_id, name, agent_id, url, events, secret_encrypted, created_at)
      select random_id('wh_'), ${workspace.id}, 'hook ' || n, 'agent-' || (n % 100), 'https://example.com/' || n,
        array['conversation_ended'], '\\x00'::bytea, now() - n * interval '1 second'
      from generate_series(1, ${rows}::int) n`;
    await sql`analyze webhooks`;
    const headers = { 'content-type': 'application/json', 'x-api-key': apiKey };
    const runs: number[] = [];
    const countRuns: number[] = [];
    for (let i = 0; i < REPEATS; i++) {
      runs.push((await cannon(`${server.url}/graphql`, headers, page, 4)).p50);
      countRuns.push((await cannon(`${server.url}/graphql`, headers, counted, 3)).p50);
    }
    return { p50: median(runs), countP50: median(countRuns) };
  };
  const small = await measure(1000);
  const large = await measure(200_000);
  server.server.close();
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

await main();
process.exit(0);
