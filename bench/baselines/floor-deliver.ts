/**
 * Baseline for the drain scenario, the floor: what a delivery costs with no queue at all.
 * COUNT deliveries in an in-memory list, worked by LOOPS loops, each doing the per-delivery
 * work our worker does: sign with the same code, POST with the same HTTP client and
 * dispatcher settings, and an attempt row, written in batches of 100 (one INSERT each).
 * It starts as soon as it is ready; the scenario times it at the receiver, as it times ours.
 */
import { randomBytes } from 'node:crypto';
import { createPool } from '../../src/db/sql.js';
import { eventPayload } from '../../src/events/payload.js';
import { createSender } from '../../src/worker/sender.js';
import { webhookHeaders } from '../../src/worker/signing.js';

const sql = createPool(String(process.env.DATABASE_URL), { max: 10 });
const url = String(process.env.RECEIVER_URL);
const COUNT = Number(process.env.COUNT ?? 20_000);
const LOOPS = Number(process.env.LOOPS ?? 64);
const WEBHOOKS = 10;
const ROWS_PER_INSERT = 100;
// As the worker's: DELIVERY_TIMEOUT_MS's default, and one socket per slot (DELIVERY_CONCURRENCY).
const sender = createSender({ timeoutMs: 10_000, allowPrivateTargets: true, connectionsPerOrigin: 256 });
const secrets = Array.from({ length: WEBHOOKS }, () => `whsec_${randomBytes(32).toString('base64')}`);

// The same bodies the drain's events carry (built as the publisher builds them).
const deliveries = Array.from({ length: COUNT }, (_, n) => {
  const eventId = `evt_floor${n}`;
  const body = eventPayload(
    { id: eventId, type: 'conversation_ended', createdAt: new Date(), workspaceId: 'ws_floor', agentId: 'agent' },
    { n, transcript: 'x'.repeat(500) },
  );
  return { id: `dlv_floor${n}`, eventId, body, secret: secrets[n % WEBHOOKS] as string };
});

type Row = { id: string; at: Date; status: number | null; ms: number; error: string | null; body: string | null };
let rows: Row[] = [];
const writes: Promise<unknown>[] = [];
function flush() {
  const batch = rows;
  rows = [];
  writes.push(sql`insert into bench_attempts (delivery_id, attempted_at, status_code, duration_ms, error, response_body)
    select * from unnest(${batch.map((r) => r.id)}::text[], ${batch.map((r) => r.at.toISOString())}::timestamptz[],
      ${batch.map((r) => r.status)}::int[], ${batch.map((r) => r.ms)}::int[], ${batch.map((r) => r.error)}::text[],
      ${batch.map((r) => r.body)}::text[])`);
}

async function loop(next: () => (typeof deliveries)[number] | undefined) {
  for (let d = next(); d; d = next()) {
    const result = await sender.send(url, webhookHeaders([d.secret], d.eventId, d.body), d.body);
    rows.push({
      id: d.id,
      at: new Date(Date.now() - result.durationMs),
      status: result.statusCode,
      ms: result.durationMs,
      error: result.error,
      body: result.responseBody,
    });
    if (rows.length >= ROWS_PER_INSERT) flush();
  }
}

async function drain() {
  let i = 0;
  const next = () => deliveries[i++];
  await Promise.all(Array.from({ length: LOOPS }, () => loop(next)));
  if (rows.length > 0) flush();
  await Promise.all(writes);
}

process.stdout.write('ready\n');
const drained = drain();
process.on('SIGTERM', () => {
  void drained.then(() => Promise.all([sql.end(), sender.close()])).then(() => process.exit(0));
});
