/**
 * Baseline for the delivery and latency scenarios: graphile-worker running one job per
 * delivery, each doing what our worker does per attempt: sign with the same code, POST
 * with the same HTTP client, write one attempt row.
 */
import { randomBytes } from 'node:crypto';
import { Logger, run } from 'graphile-worker';
import { createPool } from '../../src/db/sql.js';
import { createSender } from '../../src/worker/sender.js';
import { webhookHeaders } from '../../src/worker/signing.js';

const connectionString = String(process.env.DATABASE_URL);
const sql = createPool(connectionString, { max: 10 });
const sender = createSender({ timeoutMs: 10_000, allowPrivateTargets: true });
const secret = `whsec_${randomBytes(32).toString('base64')}`;
const body = JSON.stringify({ type: 'conversation_ended', data: { transcript: 'x'.repeat(500) } });

const runner = await run({
  connectionString,
  concurrency: 24,
  noHandleSignals: true,
  pollInterval: 1000,
  logger: new Logger(() => () => {}),
  taskList: {
    deliver: async (payload) => {
      const { id, url } = payload as { id: string; url: string };
      const attemptedAt = new Date();
      const result = await sender.send(url, webhookHeaders([secret], id, body), body);
      await sql`insert into bench_attempts (delivery_id, attempted_at, status_code, duration_ms, error, response_body)
        values (${id}, ${attemptedAt}, ${result.statusCode}, ${result.durationMs}, ${result.error}, ${result.responseBody})`;
      if (!result.ok) throw new Error(result.error ?? 'failed');
    },
  },
});
process.stdout.write('ready\n');
process.on('SIGTERM', () => {
  void runner
    .stop()
    .then(() => Promise.all([sql.end(), sender.close()]))
    .then(() => process.exit(0));
});
