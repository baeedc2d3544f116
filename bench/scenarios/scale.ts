import { createApiKey } from '../../src/auth/api-keys.js';
import type { Pool } from '../../src/db/sql.js';
import { BASE62, ID_TIME_CHARS } from '../../src/lib/ids.js';
import { pruneOnce } from '../../src/worker/retention.js';
import { createWorkspace } from '../../src/workspaces/store.js';
import {
  type Bench,
  cannon,
  countingReceiver,
  median,
  publishBacklog,
  REPEATS,
  record,
  rows as recorded,
  server,
  settle,
  webhook,
} from '../harness.js';
import { startServer } from '../processes.js';

/** Events of history (each to 10 webhooks): BENCH_SCALE_EVENTS=100000 makes 1M deliveries while trying things. */
const EVENTS = Number(process.env.BENCH_SCALE_EVENTS ?? 1_000_000);
const FAN_OUT = 10;
/** Events of the small history the search pages are first measured on. */
const SMALL_EVENTS = 1000;
/** Deliveries each claim-rate run drains. */
const DRAIN_EVENTS = 1000;

const DAY_MS = 86_400_000;
/** The retention the history is generated around (RETENTION's default). */
const RETENTION_MS = 30 * DAY_MS;

/**
 * `events` events for one agent, one second-ish apart and ending now, each delivered to
 * every one of `webhookIds` (in order): 98% SUCCEEDED at the first attempt, 2% FAILED after
 * 8 (the default schedule's every retry). The oldest tenth is past RETENTION_MS. Ids are
 * made as newId and random_id make them (the row's creation time in milliseconds, then
 * random-looking characters from a hash of the row number), so the indexes keyed by id
 * grow as they would in production; rows go into the heap in creation order, as they
 * would. One statement per table, each in a transaction whose commit need not wait for
 * the disk and whose rows skip the foreign-key triggers (they are consistent by
 * construction), two at a time; every index is in place after.
 */
export async function generateHistory(
  sql: Pool,
  workspaceId: string,
  webhookIds: string[],
  events: number,
  progress: (step: string) => void = () => {},
  /** How long ago the newest event was published (0: now). */
  endedAgoMs = 0,
) {
  const fanOut = webhookIds.length;
  const stepMs = RETENTION_MS / 0.9 / events;
  const start = new Date(Date.now() - endedAgoMs - (events + 1) * stepMs);
  // As newId: the creation time's milliseconds in ID_TIME_CHARS base62 digits, then 9
  // characters from a hash of the row number (salted per kind; base64's + and / mapped into
  // base62), spread like random_id's. The time part is worked out once per event (`e.t`
  // below), not for each of its deliveries and attempts: the digits are most of the cost.
  const at = (n: string) => `$1::timestamptz + (${n}) * $2::float8 * interval '1 millisecond'`;
  const startMs = start.getTime();
  const ms = `(${startMs}::int8 + floor(n::int8 * ${stepMs}::float8)::int8)`;
  const timeDigits = Array.from(
    { length: ID_TIME_CHARS },
    (_, k) => `substr('${BASE62}', 1 + (${ms} / ${62 ** (ID_TIME_CHARS - 1 - k)} % 62)::int, 1)`,
  ).join(' || ');
  const hash = (n: string, salt: number) =>
    `translate(substr(encode(substr(sha224(int8send((${n})::int8 * 2 + ${salt})), 1, 9), 'base64'), 1, 9), '+/', 'xy')`;
  /** Event n (1…`count`) with its time digits `e.t`, id `e.id` and creation `e.at`, each computed once. */
  const eachEvent = (count: string) =>
    `generate_series(1, ${count}::int) n
     cross join lateral (select t, 'evt_' || t || ${hash('n', 1)} as id, at
       from (select ${timeDigits} as t, ${at('n')} as at offset 0) t offset 0) e`;
  /** Delivery m: event n's k-th (0…fanOut-1), to webhook k. */
  const m = `((n - 1)::int8 * ${fanOut} + k)`;
  const deliveryId = `'dlv_' || e.t || ${hash(m, 0)}`;
  /** One statement in its own transaction, on a connection of its own (two run at once: the machine's two cores). */
  const bulk = (statement: string, params: unknown[] = []) =>
    sql.begin(async (tx) => {
      await tx`set local synchronous_commit = off`;
      await tx`set local session_replication_role = replica`;
      await tx`set local maintenance_work_mem = '512MB'`;
      await tx`set local max_parallel_maintenance_workers = 0`;
      await tx.unsafe(statement, params as never[]);
    });
  // Loading into 10 million rows' worth of indexes row by row is what makes it slow
  // (random keys: every insert a different leaf). Their definitions are read from the
  // catalogue, dropped, and built again after the load by a sort, as a restore does.
  // Partial indexes stay: none of their predicates (pending, failed) holds for many rows.
  const tables = ['events', 'deliveries', 'delivery_attempts'];
  const indexes = await sql<{ def: string; name: string }[]>`
    select pg_get_indexdef(i.indexrelid) as def, i.indexrelid::regclass::text as name
    from pg_index i join pg_class t on t.oid = i.indrelid
    where t.relname in ${sql(tables)} and i.indpred is null and not exists (select 1 from pg_constraint c where c.conindid = i.indexrelid)`;
  const keys = await sql<{ table: string; name: string; def: string; foreign: boolean }[]>`
    select conrelid::regclass::text as table, conname as name, pg_get_constraintdef(oid) as def, contype = 'f' as foreign
    from pg_constraint
    where (contype = 'p' and conrelid::regclass::text in ${sql(tables)})
      or (contype = 'f' and confrelid::regclass::text in ${sql(tables)})
    order by contype = 'p'`;
  await sql.begin(async (tx) => {
    for (const k of keys) await tx.unsafe(`alter table ${k.table} drop constraint ${k.name}`);
    for (const i of indexes) await tx.unsafe(`drop index ${i.name}`);
  });
  progress('indexes dropped');
  // Every 50th delivery FAILED.
  const failed = `(${m} * 7919) % 50 = 0`;
  const loadEvents = () =>
    bulk(
      `insert into events (id, workspace_id, agent_id, type, payload, created_at)
       select e.id, $3, 'scale', 'conversation_ended',
         '{"id":"' || e.id || '","type":"conversation_ended","timestamp":"' || e.at || '","workspaceId":"' || $3 || '","agentId":"scale","data":{"callId":"' || n || '","durationSeconds":' || (n % 900) || ',"transcript":"' || repeat('x', 200) || '"}}',
         e.at
       from ${eachEvent('$4')}`,
      [start, stepMs, workspaceId, events],
    ).then(() => progress('events'));
  const loadDeliveries = () =>
    bulk(
      `insert into deliveries (id, workspace_id, event_id, webhook_id, status, attempt_count, created_at, updated_at)
       select ${deliveryId}, $3, e.id, ($5::text[])[k + 1],
         case when ${failed} then 'failed' else 'succeeded' end, case when ${failed} then 8 else 1 end,
         e.at, e.at + interval '1 second'
       from ${eachEvent('$4')} cross join generate_series(0, ${fanOut - 1}) k`,
      [start, stepMs, workspaceId, events, webhookIds],
    ).then(() => progress('deliveries'));
  const loadAttempts = () =>
    bulk(
      `insert into delivery_attempts (delivery_id, attempted_at, status_code, duration_ms, response_body)
       select ${deliveryId}, e.at + a * interval '1 minute',
         case when ${failed} then 500 else 200 end, 20 + ${m} % 200, case when ${failed} then 'upstream error' else 'ok' end
       from ${eachEvent('$3')} cross join generate_series(0, ${fanOut - 1}) k
       cross join lateral generate_series(1, case when ${failed} then 8 else 1 end) a`,
      [start, stepMs, events],
    ).then(() => progress('attempts'));
  // The tables have no keys or indexes while they load, so the three loads are independent.
  await Promise.all([loadEvents().then(loadDeliveries), loadAttempts()]);
  // Then the keys and indexes, two builds at a time (each a sort of its table, on
  // one core: PostgreSQL's parallel workers for a build are switched off in `bulk`).
  const builds = [
    ...keys
      .filter((k) => !k.foreign)
      .map((k) => ({ name: k.name, statement: `alter table ${k.table} add constraint ${k.name} ${k.def}` })),
    ...indexes.map((i) => ({ name: i.name, statement: i.def })),
  ];
  await Promise.all(
    [0, 1].map(async () => {
      for (let build = builds.shift(); build; build = builds.shift()) {
        await bulk(build.statement);
        progress(build.name);
      }
    }),
  );
  for (const k of keys.filter((k) => k.foreign)) {
    // Not validated again (that would scan both tables): the rows are consistent by construction.
    await sql.unsafe(`alter table ${k.table} add constraint ${k.name} ${k.def} not valid`);
  }
  progress('foreign keys');
}

const millions = (n: number) => (n >= 1_000_000 ? `${n / 1_000_000}M` : `${n / 1000}k`);

/**
 * Flat at scale: publish req/s (single publishEvent calls through an API process, 32
 * connections), the claim rate (a worker process draining 10,000 deliveries to a
 * keep-alive receiver) and the first pages of `webhooks`, `deliveries`, `deliveries(status: FAILED)` and `events` (the search indexes), on an empty database
 * and again once it holds 10 million delivery rows with their attempts and events; then
 * retention of the expired million against the ingest rate. Last in the run: it empties
 * the delivery tables first (so empty means empty) and leaves millions of rows behind.
 */
export async function scaleScenario(bench: Bench) {
  await bench.sql`truncate events, deliveries, delivery_attempts`;
  const receiver = await countingReceiver();
  const workspace = await createWorkspace(bench.sql, 'bench-scale');
  const { apiKey } = await createApiKey(bench.sql, workspace.id);
  const targets: string[] = [];
  for (let i = 0; i < FAN_OUT; i++)
    targets.push((await webhook(bench, workspace.id, 'scale', 'https://example.com/hooks')).id);
  const drains: string[] = [];
  for (let i = 0; i < FAN_OUT; i++) drains.push((await webhook(bench, workspace.id, 'drain', receiver.url)).id);
  const headers = { 'content-type': 'application/json', 'x-api-key': apiKey };
  const publish = JSON.stringify({
    query: 'mutation P($input: PublishEventInput!) { publishEvent(input: $input) { id } }',
    variables: { input: { agentId: 'scale', type: 'CONVERSATION_ENDED', data: { transcript: 'x'.repeat(500) } } },
  });
  const page = (field: string, node: string) =>
    JSON.stringify({ query: `{ ${field} { edges { node { ${node} } } pageInfo { endCursor hasNextPage } } }` });
  /** First pages that must cost the same at any size: each walks its index in page order. */
  const pages = {
    webhooks: page('webhooks(first: 20)', 'id name url'),
    deliveries: page('deliveries(first: 20)', 'id status attemptCount createdAt'),
    'deliveries(status: FAILED)': page('deliveries(status: FAILED, first: 20)', 'id status createdAt'),
    events: page('events(first: 20)', 'id type agentId createdAt'),
  };
  const api = await server(bench, 'api');
  const url = `${api.url}/graphql`;

  /** p50 of each named first page, one run each per repeat. */
  const measurePages = async (names: string[]) => {
    const p50s: Record<string, number[]> = Object.fromEntries(names.map((name) => [name, []]));
    for (let i = 0; i < REPEATS; i++)
      for (const name of names)
        p50s[name]?.push((await cannon(url, headers, pages[name as keyof typeof pages], 1)).p50);
    return p50s;
  };

  const measure = async () => {
    // Publishing: the targets' deliveries stay pending (no worker runs), and are held after.
    await bench.sql`update webhooks set active = true where id in ${bench.sql(targets)}`;
    await cannon(url, headers, publish, 1); // warm-up
    const publishes: number[] = [];
    for (let i = 0; i < REPEATS; i++) {
      await settle(bench);
      publishes.push((await cannon(url, headers, publish, 3)).rps);
    }
    await bench.sql`update webhooks set active = false where id in ${bench.sql(targets)}`;
    await settle(bench);
    const pageP50s = await measurePages(Object.keys(pages));
    // Claim rate: 10,000 deliveries published while no worker runs, held behind their
    // paused webhooks while one starts, then released at once: timed from the release to
    // the last receipt.
    const drained: number[] = [];
    for (let i = 0; i < REPEATS; i++) {
      await bench.sql`update webhooks set active = true where id in ${bench.sql(drains)}`;
      await publishBacklog(bench, workspace.id, 'drain', DRAIN_EVENTS);
      await bench.sql`update webhooks set active = false where id in ${bench.sql(drains)}`;
      // Its own pruning would take the expired history away mid-measure: retention is measured apart, below.
      const worker = await startServer({ ...bench.serverEnv, ROLE: 'worker', RETENTION: '3650d' });
      await settle(bench);
      const arrived = receiver.expect(DRAIN_EVENTS * FAN_OUT);
      const t = performance.now();
      await bench.sql`update webhooks set active = true where id in ${bench.sql(drains)}`;
      await arrived;
      drained.push((DRAIN_EVENTS * FAN_OUT) / ((performance.now() - t) / 1000));
      await worker.stop();
    }
    return {
      publish: median(publishes),
      pageP50: Object.fromEntries(Object.entries(pageP50s).map(([name, runs]) => [name, median(runs)])),
      drain: median(drained),
      runs: { publishes, pageP50s, drained },
    };
  };

  const empty = await measure();
  // The search pages' baseline: an empty database has no FAILED delivery and so an empty
  // page, cheaper than any real one. They are measured again on a small history (1,000
  // events, 10,000 deliveries, 200 of them FAILED), which fills every page.
  await generateHistory(bench.sql, workspace.id, targets, SMALL_EVENTS);
  await settle(bench);
  const searchPages = ['deliveries(status: FAILED)', 'events'];
  const small = await measurePages(searchPages);
  // Both measurements start from the same recent rows: the first one's and the small history go.
  await bench.sql`delete from events where workspace_id = ${workspace.id}`;
  let t = performance.now();
  await generateHistory(bench.sql, workspace.id, targets, EVENTS, (step) =>
    process.stdout.write(`    generating: ${step} at ${Math.round((performance.now() - t) / 1000)} s\n`),
  );
  const generation = (performance.now() - t) / 1000;
  await bench.sql`vacuum analyze`;
  const [sizes] = await bench.sql<{ deliveries: number; attempts: number; events: number; mb: number }[]>`
    select (select count(*) from deliveries)::int as deliveries, (select count(*) from delivery_attempts)::int as attempts,
      (select count(*) from events)::int as events,
      (select sum(pg_total_relation_size(r))::bigint / 1000000 from unnest(array['events', 'deliveries', 'delivery_attempts']::regclass[]) r)::int as mb`;
  process.stdout.write(
    `    history: ${sizes?.events} events, ${sizes?.deliveries} deliveries, ${sizes?.attempts} attempts, ${sizes?.mb} MB, generated in ${generation.toFixed(0)} s (vacuum analyze ${((performance.now() - t) / 1000 - generation).toFixed(0)} s more)\n`,
  );
  const full = await measure();
  await api.stop();
  await receiver.close();
  for (const [name, m] of [
    ['empty', empty],
    ['full', full],
  ] as const)
    process.stdout.write(
      `    ${name}: publish/s ${m.runs.publishes.map(Math.round).join(', ')}; drained/s ${m.runs.drained.map(Math.round).join(', ')}; ${Object.entries(
        m.runs.pageP50s,
      )
        .map(([name, runs]) => `${name} p50 ${runs.join(', ')}`)
        .join('; ')}\n`,
    );
  process.stdout.write(
    `    small (${SMALL_EVENTS} events): ${searchPages.map((name) => `${name} p50 ${small[name]?.join(', ')}`).join('; ')}\n`,
  );

  // Retention: the oldest tenth of the history (a million deliveries at 10M) is past RETENTION.
  const before = await bench.sql<{ n: number }[]>`select count(*)::int as n from deliveries`;
  t = performance.now();
  const events = await pruneOnce(bench.sql, RETENTION_MS);
  const seconds = (performance.now() - t) / 1000;
  const after = await bench.sql<{ n: number }[]>`select count(*)::int as n from deliveries`;
  const pruned = (before[0]?.n ?? 0) - (after[0]?.n ?? 0);
  // Ingest: deliveries created per second by single publishEvent calls (10 each), on the empty database.
  const ingest = Math.round(empty.publish * FAN_OUT);
  process.stdout.write(
    `    retention: ${events} events, ${pruned} deliveries in ${seconds.toFixed(1)} s; ingest ${ingest} deliveries/s (${Math.round(full.publish * FAN_OUT)} at ${millions(EVENTS * FAN_OUT)})\n`,
  );

  const rows = millions(EVENTS * FAN_OUT);
  const throughput = (measured: string, figure: number, baseline: number) =>
    record(
      {
        scenario: 'scale',
        measured,
        figure: Math.round(figure),
        baseline: Math.round(baseline),
        target: '≥ 0.8× empty',
      },
      (ratio) => ratio >= 0.8,
    );
  const latency = (measured: string, figure: number, baseline: number) =>
    record({ scenario: 'scale', measured, figure, baseline, target: '≤ 1.5× empty' }, (ratio) => ratio <= 1.5);
  throughput(`publishEvent req/s, 32 connections, ${rows} deliveries (empty baseline)`, full.publish, empty.publish);
  throughput(`claim rate: deliveries drained/s, ${rows} deliveries (empty baseline)`, full.drain, empty.drain);
  for (const name of Object.keys(pages)) {
    const search = searchPages.includes(name);
    latency(
      `${name} first page p50 ms, ${rows} deliveries (${search ? `${millions(SMALL_EVENTS * FAN_OUT)} deliveries` : 'empty'} baseline)`,
      full.pageP50[name] as number,
      search ? median(small[name] as number[]) : (empty.pageP50[name] as number),
    );
  }
  record(
    {
      scenario: 'retention',
      measured: `deliveries pruned/s, ${millions(pruned)} expired among ${rows} (baseline: ingest, deliveries created/s by single publishEvent calls)`,
      figure: Math.round(pruned / seconds),
      baseline: ingest,
      target: '≥ 2× ingest',
    },
    (ratio) => ratio >= 2,
  );
  // The fastest ingest: the publish scenario's publishEvents of 100, when it ran in this run.
  const batches = recorded.find((r) => r.scenario === 'publish');
  if (batches)
    record(
      {
        scenario: 'retention',
        measured: `the same, against ingest by publishEvents of 100 (the publish row's events/s × ${FAN_OUT} webhooks)`,
        figure: Math.round(pruned / seconds),
        baseline: batches.figure * FAN_OUT,
        target: '≥ 2× ingest',
      },
      (ratio) => ratio >= 2,
    );
}
