/**
 * `npm run bench`: each scenario against a baseline measured in the same run, on one
 * embedded PostgreSQL (default durability) and receivers on 127.0.0.1. Prints a table
 * and writes bench/results/latest.json. Figures are ratios: this machine is small
 * and noisy, so absolute numbers mean little from one run to the next.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeWorkerUtils } from 'graphile-worker';
import { startEmbeddedPostgres } from '../src/db/embedded.js';
import { migrate } from '../src/db/migrate.js';
import { createPool } from '../src/db/sql.js';
import { type Bench, printTopStatements, REPEATS, record, rows, settle } from './harness.js';
import { enterScenario, scenarioPeakRssMb, serverPeakRssMb } from './processes.js';
import { conditionsScenario } from './scenarios/conditions.js';
import { deliveryScenario } from './scenarios/delivery.js';
import { drainScenario } from './scenarios/drain.js';
import { everyCoreScenario } from './scenarios/every-core.js';
import { fanOutScenario } from './scenarios/fan-out.js';
import { ingestLimitsScenario } from './scenarios/ingest-limits.js';
import { isolationScenario } from './scenarios/isolation.js';
import { latencyScenario } from './scenarios/latency.js';
import { listScalingScenario } from './scenarios/list-scaling.js';
import { memoryScenario } from './scenarios/memory.js';
import { noisyNeighbourScenario } from './scenarios/noisy-neighbour.js';
import { orderingScenario } from './scenarios/ordering.js';
import { publishBatchScenario } from './scenarios/publish-batch.js';
import { rateLimitScenario } from './scenarios/rate-limit.js';
import { registerScenario } from './scenarios/register.js';
import { scaleScenario } from './scenarios/scale.js';
import { statsScenario } from './scenarios/stats.js';

/** BENCH_ONLY=register,isolation runs just those scenarios (while profiling one). */
const ONLY = process.env.BENCH_ONLY?.split(',');
/** BENCH_STATEMENTS=1 prints each scenario's costliest SQL statements (pg_stat_statements). */
const STATEMENTS = Boolean(process.env.BENCH_STATEMENTS);

async function main() {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'convo-hooks-bench-'));
  await fs.chmod(dataDir, 0o755);
  const cluster = await startEmbeddedPostgres({
    dataDir,
    settings: {
      max_connections: '200',
      // As production would size it for this machine (24 GiB) rather than PostgreSQL's 128 MB
      // default: at 10 million deliveries the indexes' hot pages must fit (see the scale rows).
      shared_buffers: process.env.BENCH_SHARED_BUFFERS ?? '1GB',
      ...(STATEMENTS ? { shared_preload_libraries: 'pg_stat_statements' } : {}),
      // BENCH_PG_SETTINGS='{"auto_explain.log_min_duration":"20ms",…}': more settings while profiling.
      ...(process.env.BENCH_PG_SETTINGS ? (JSON.parse(process.env.BENCH_PG_SETTINGS) as Record<string, string>) : {}),
    },
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
      // Limits off: each scenario measures throughput; ingest-limits measures the defaults.
      RATE_LIMIT_PER_SECOND: '0',
      PUBLISH_RATE_LIMIT_PER_SECOND: '0',
      FANOUT_RATE_LIMIT_PER_SECOND: '0',
      // Register's runs add thousands of webhooks to one agent.
      MAX_WEBHOOKS_PER_AGENT: '0',
      MAX_WEBHOOKS_PER_WORKSPACE: '0',
    },
  };
  const started = Date.now();
  /** Seconds each scenario took (the whole bench should stay under 15 minutes). */
  const durations: Record<string, number> = {};
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
      const scenarioStarted = Date.now();
      enterScenario(name);
      await scenario(bench);
      durations[name] = Math.round((Date.now() - scenarioStarted) / 1000);
      process.stdout.write(`    (${name}: ${durations[name]} s, server peak RSS ${scenarioPeakRssMb[name] ?? 0} MB)\n`);
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
      measured: `peak RSS MB, any server process, whole run (a ROLE=${serverPeakRssMb().role} process, ${serverPeakRssMb().scenario} scenario)`,
      figure: serverPeakRssMb().mb,
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
    `${JSON.stringify({ at: new Date().toISOString(), machine, repeats: REPEATS, seconds: durations, rows }, null, 2)}\n`,
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

const scenarios = {
  register: registerScenario,
  delivery: deliveryScenario,
  drain: drainScenario,
  latency: latencyScenario,
  isolation: isolationScenario,
  'noisy-neighbour': noisyNeighbourScenario,
  'rate-limit': rateLimitScenario,
  ordering: orderingScenario,
  publish: publishBatchScenario,
  'every-core': everyCoreScenario,
  'ingest-limits': ingestLimitsScenario,
  'fan-out': fanOutScenario,
  conditions: conditionsScenario,
  list: listScalingScenario,
  stats: statsScenario,
  memory: memoryScenario,
  // After everything: it empties the delivery tables, then fills them with 10 million deliveries.
  scale: scaleScenario,
};

await main();
process.exit(0);
