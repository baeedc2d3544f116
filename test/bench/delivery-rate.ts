/**
 * Delivery throughput on this machine: 20,000 deliveries (2,000 events × 10 webhooks)
 * from a backlog to a keep-alive receiver on 127.0.0.1, through the real worker, on an
 * embedded PostgreSQL with default durability. Prints deliveries per second.
 *
 *   npx tsx test/bench/delivery-rate.ts [events] [webhooks]
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config.js';
import { startEmbeddedPostgres } from '../../src/db/embedded.js';
import { migrate } from '../../src/db/migrate.js';
import { createPool } from '../../src/db/sql.js';
import { startDeliveryWorker } from '../../src/delivery/worker.js';
import { publishEvent } from '../../src/events/store.js';
import { createLogger } from '../../src/lib/logger.js';
import { insertWebhook } from '../../src/webhooks/store.js';
import { createWorkspace } from '../../src/workspaces/store.js';

const events = Number(process.argv[2] ?? 2000);
const webhooks = Number(process.argv[3] ?? 10);

const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'convo-hooks-bench-'));
await fs.chmod(dataDir, 0o755);
const cluster = await startEmbeddedPostgres({ dataDir, settings: { max_connections: '100' } });
const sql = createPool(cluster.url, { max: 10 });
try {
  await migrate(sql);
  let received = 0;
  let resolveDone: () => void = () => {};
  const done = new Promise<void>((resolve) => {
    resolveDone = resolve;
  });
  const receiver = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200).end();
      if (++received === events * webhooks) resolveDone();
    });
  });
  receiver.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`;

  const secretKey = randomBytes(32);
  const config = loadConfig({
    DATABASE_URL: cluster.url,
    SECRET_ENCRYPTION_KEY: secretKey.toString('hex'),
    ALLOW_PRIVATE_TARGETS: 'true',
  });
  const workspace = await createWorkspace(sql, 'bench');
  for (let i = 0; i < webhooks; i++) {
    await insertWebhook(sql, secretKey, {
      workspaceId: workspace.id,
      name: `bench ${i}`,
      agentId: 'agent',
      url,
      events: ['conversation_ended'],
      active: true,
    });
  }
  for (let i = 0; i < events; i += 100) {
    await Promise.all(
      Array.from({ length: Math.min(100, events - i) }, (_, j) =>
        publishEvent(sql, {
          workspaceId: workspace.id,
          agentId: 'agent',
          type: 'conversation_ended',
          data: { n: i + j, transcript: 'x'.repeat(500) },
        }),
      ),
    );
  }

  const started = performance.now();
  const worker = startDeliveryWorker({ sql, secretKey, config, log: createLogger('warn') });
  await done;
  const seconds = (performance.now() - started) / 1000;
  await worker.stop();
  const [pending] = await sql`select count(*)::int as n from deliveries where status <> 'succeeded'`;
  console.log(
    JSON.stringify({
      deliveries: events * webhooks,
      seconds: Number(seconds.toFixed(2)),
      deliveriesPerSecond: Math.round((events * webhooks) / seconds),
      notYetRecorded: pending?.n,
      cpus: os.cpus().length,
      cpu: os.cpus()[0]?.model,
    }),
  );
  receiver.close();
} finally {
  await sql.end();
  await cluster.stop();
  await fs.rm(dataDir, { recursive: true, force: true });
}
