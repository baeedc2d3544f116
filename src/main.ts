import { createServer, type Server } from 'node:http';
import { ConfigError, loadConfig } from './config.js';
import { guardPostgresCloseRace } from './db/close-race-guard.js';
import { openDatabase } from './db/connect.js';
import { migrate } from './db/migrate.js';
import { startRetention } from './delivery/retention.js';
import { type DeliveryWorker, startDeliveryWorker } from './delivery/worker.js';
import { createLogger } from './lib/logger.js';
import { createMetrics } from './lib/metrics.js';
import { createOpsServer } from './ops-server.js';
import { ensureDevWorkspace } from './workspaces/dev-workspace.js';

async function main() {
  const config = loadConfig();
  const log = createLogger(config.logLevel, undefined, { pretty: Boolean(process.stdout.isTTY) && !config.production });
  guardPostgresCloseRace(log);
  if (config.allowPrivateTargets) {
    log.warn(
      'ALLOW_PRIVATE_TARGETS is on: webhooks may target loopback and private addresses. Development and tests only.',
    );
  }
  const db = await openDatabase(config, { log: (line) => log.info(line) });
  const applied = await migrate(db.sql);
  if (applied.length > 0) log.info({ applied }, 'applied migrations');

  const metrics = createMetrics(db.sql);
  let server: Server;
  let devKey: Awaited<ReturnType<typeof ensureDevWorkspace>> | undefined;
  if (config.role === 'worker') {
    server = createOpsServer(db.sql, metrics);
  } else {
    devKey = db.embedded ? await ensureDevWorkspace(db.sql, config.dataDir) : undefined;
    // Imported here so a worker-only process does not load the GraphQL stack at all.
    const { createApp } = await import('./app.js');
    const yoga = createApp({ sql: db.sql, config, secretKey: db.secretKey, log, metrics, devApiKey: devKey?.apiKey });
    server = createServer(yoga);
  }
  // Keep-alive sockets outlive requests; a graceful stop closes the idle ones itself.
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve) => server.listen(config.port, config.host, resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  if (config.role === 'worker') {
    log.info({ port, role: config.role }, `health, readiness and metrics at http://localhost:${port}/`);
  } else {
    log.info({ port, role: config.role }, `GraphQL API and GraphiQL at http://localhost:${port}/graphql`);
  }
  if (devKey) {
    const where = `${config.dataDir}/dev-api-key`;
    const banner = devKey.created
      ? `Created a development workspace (${devKey.workspaceId}). Its API key, also in ${where}:\n\n  ${devKey.apiKey}\n`
      : `Development API key (from ${where}):\n\n  ${devKey.apiKey}\n`;
    process.stdout.write(`\n${banner}\n`);
  }

  let worker: DeliveryWorker | undefined;
  let stopRetention: (() => Promise<void>) | undefined;
  if (config.role !== 'api') {
    worker = startDeliveryWorker({ sql: db.sql, secretKey: db.secretKey, config, log, metrics });
    stopRetention = startRetention(db.sql, { retentionMs: config.retentionMs, intervalMs: 10 * 60_000, log });
    log.info({ role: config.role }, 'delivery worker started');
  }

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping');
    server.close();
    server.closeIdleConnections();
    const released = await worker?.stop();
    await stopRetention?.();
    await db.close();
    log.info({ released: released?.released ?? 0 }, 'stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError) {
    process.stderr.write(`${error.message}\n`);
  } else {
    process.stderr.write(`Failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  }
  process.exit(1);
});
