/**
 * What the bench scenarios share: the result rows and their recording, receivers, the load
 * generator, the server processes and the data helpers. Each scenario is a file under
 * scenarios/, listed in run.ts.
 */
import fs from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import autocannon from 'autocannon';
import type { Pool } from '../src/db/sql.js';
import { publishEvent, publishEvents } from '../src/events/publish.js';
import { insertWebhook } from '../src/webhooks/store.js';
import { processCpuMs, procStat, startServer } from './processes.js';

export type Row = {
  scenario: string;
  measured: string;
  figure: number;
  baseline: number;
  ratio: number;
  target: string;
  met: boolean;
};
export const rows: Row[] = [];
export const REPEATS = Number(process.env.BENCH_REPEATS ?? 3);
export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

export const percentile = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))] as number;

export function record(row: Omit<Row, 'ratio' | 'met'>, met: (ratio: number, figure: number) => boolean) {
  const ratio = Number((row.figure / row.baseline).toFixed(2));
  const full = { ...row, ratio, met: met(ratio, row.figure) };
  rows.push(full);
  process.stdout.write(
    `  ${row.scenario}: ${row.measured} ${row.figure} vs ${row.baseline} → ${ratio}× ${full.met ? 'met' : 'NOT met'} (${row.target})\n`,
  );
}

export async function listen(handler: Parameters<typeof createServer>[1]): Promise<{ server: Server; url: string }> {
  const server = createServer(handler);
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

/**
 * A keep-alive receiver that counts, resolving when `expected` requests have arrived;
 * `answerAfterMs`: each is answered (and counted) that long after it arrived.
 */
export async function countingReceiver(answerAfterMs = 0) {
  let count = 0;
  let target = Number.POSITIVE_INFINITY;
  let done: () => void = () => {};
  let firstAt = 0;
  const { server, url } = await listen((req, res) => {
    req.resume();
    const answer = () => {
      res.writeHead(200).end();
      if (count === 0) firstAt = performance.now();
      if (++count === target) done();
    };
    req.on('end', () => (answerAfterMs > 0 ? setTimeout(answer, answerAfterMs) : answer()));
  });
  return {
    url: `${url}/hooks`,
    /** When the first request since the last expect() arrived (performance.now()). */
    firstAt: () => firstAt,
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

/**
 * A keep-alive receiver that times publish → receipt by `webhook-id`. Arrivals are kept by id,
 * so a delivery that lands before its publish call has returned (and told us its id) still
 * counts, at its true latency.
 */
export async function latencyReceiver() {
  const sentAt = new Map<string, number>();
  const arrivedAt = new Map<string, number>();
  const { server, url } = await listen((req, res) => {
    const id = String(req.headers['webhook-id']);
    if (!arrivedAt.has(id)) arrivedAt.set(id, performance.now());
    req.resume();
    req.on('end', () => res.writeHead(200).end());
  });
  return {
    url: `${url}/`,
    sent: (id: string, at: number) => sentAt.set(id, at),
    /** Waits up to `ms` for everything sent to arrive; its latencies, and a fresh start. */
    async latencies(label: string, ms = 10_000): Promise<number[]> {
      const deadline = performance.now() + ms;
      const missing = () => [...sentAt.keys()].filter((id) => !arrivedAt.has(id)).length;
      while (missing() > 0) {
        if (performance.now() > deadline) throw new Error(`${label}: ${missing()} of ${sentAt.size} never arrived`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const latencies = [...sentAt].map(([id, at]) => (arrivedAt.get(id) as number) - at);
      sentAt.clear();
      arrivedAt.clear();
      return latencies;
    },
    close() {
      server.closeAllConnections();
      server.close();
    },
  };
}

/** Long enough for 32 requests in flight to finish: the slowest measured (a 1M-row stats read) takes ~150 ms. */
const TAIL_MS = 1_000;

export async function cannon(url: string, headers: Record<string, string>, body: string, seconds = 6) {
  const result = await autocannon({ url, connections: 32, duration: seconds, method: 'POST', headers, body });
  // autocannon stops at its deadline with up to 32 requests still running in the server: let
  // them finish, or they would be measured as part of whatever is timed next.
  await new Promise((resolve) => setTimeout(resolve, TAIL_MS));
  if (result.non2xx > 0) throw new Error(`${result.non2xx} non-2xx answers from ${url}`);
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    requests: result.requests.total,
  };
}

export async function printTopStatements(sql: Pool) {
  const top = await sql<{ calls: number; totalMs: number; meanMs: number; rows: number; query: string }[]>`
    select calls::int, round(total_exec_time)::int as total_ms, round(mean_exec_time::numeric, 2)::float as mean_ms,
      rows::int, left(regexp_replace(query, '[[:space:]]+', ' ', 'g'), 100) as query
    from pg_stat_statements order by total_exec_time desc limit ${Number(process.env.BENCH_STATEMENTS_TOP ?? 8)}`;
  for (const s of top) {
    process.stdout.write(
      `      ${s.totalMs} ms total, ${s.calls} calls, ${s.meanMs} ms mean, ${s.rows} rows: ${s.query}\n`,
    );
  }
}

/** What every scenario gets: the bench's own pool (to set up data and publish) and the server's environment. */
export type Bench = { sql: Pool; secretKey: Buffer; databaseUrl: string; serverEnv: Record<string, string> };

/**
 * Every measured run starts from a vacuumed database, not in the wake of the last run's
 * writes: queue tables leave dead index entries that autovacuum (once a minute) would
 * clear at a moment no run controls. Ours and the baselines get the same.
 */
export const settle = (bench: Bench) => bench.sql`vacuum analyze`;

export const server = (bench: Bench, role: 'all' | 'api' | 'worker') => startServer({ ...bench.serverEnv, ROLE: role });

export const webhook = (bench: Bench, workspaceId: string, agentId: string, url: string) =>
  insertWebhook(bench.sql, bench.secretKey, {
    workspaceId,
    name: 'bench',
    agentId,
    url,
    events: ['conversation_ended'],
    active: true,
    rateLimitPerSecond: null,
  });

/** Publishes `count` events for one agent, `parallel` at a time, as a busy platform would. */
export async function publishMany(
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

/** A backlog that is set up, not measured: `count` events for one agent, `publishEvents` of 100 at a time. */
export async function publishBacklog(bench: Bench, workspaceId: string, agentId: string, count: number) {
  for (let i = 0; i < count; i += 100) {
    await publishEvents(
      bench.sql,
      Array.from({ length: Math.min(100, count - i) }, (_, j) => ({
        workspaceId,
        agentId,
        type: 'conversation_ended' as const,
        data: { n: i + j, transcript: 'x'.repeat(500) },
      })),
    );
  }
}

/**
 * CPU the whole PostgreSQL cluster has used so far, in ms: the postmaster with the backends it
 * has reaped, plus those still running. Read before and after a run: what its SQL cost.
 */
export async function databaseCpuMs(sql: Pool): Promise<number> {
  const [row] = await sql<{ pid: number }[]>`select pg_backend_pid() as pid`;
  const postmaster = (await procStat(row?.pid ?? 0))[1];
  if (!postmaster) return 0;
  let total = await processCpuMs(postmaster, true);
  for (const entry of await fs.readdir('/proc')) {
    if (/^\d+$/.test(entry) && (await procStat(Number(entry)))[1] === postmaster) {
      total += await processCpuMs(Number(entry));
    }
  }
  return total;
}

/** CPU this (the bench's) process has used so far, in ms: its receivers' share of a run. */
export const benchCpuMs = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};
