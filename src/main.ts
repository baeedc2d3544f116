import type { RequestListener, Server } from 'node:http';
import { ConfigError, loadConfig } from './config.js';
import { guardPostgresCloseRace } from './db/close-race-guard.js';
import { onDirectSession, openDatabase } from './db/connect.js';
import { DataDirBusy, lockDataDir } from './db/data-dir-lock.js';
import { registerListenerMetrics } from './db/listener.js';
import { MigrationError, migrate, verifyMigrations } from './db/migrate.js';
import { checkDatabaseSessions, DatabaseSetupError } from './db/session-check.js';
import { createDrainableServer } from './lib/http-drain.js';
import { createLogger } from './lib/logger.js';
import { createMetrics } from './lib/metrics.js';
import { opsHandler } from './ops-server.js';
import { startTracing } from './telemetry/start.js';
import { checkEncryptionKeys } from './webhooks/encryption-keys.js';
import { openingKeys } from './webhooks/secrets.js';
import { startClusterGauges } from './worker/backlog-gauges.js';
import { startRetention } from './worker/retention.js';
import { type DeliveryWorker, startDeliveryWorker } from './worker/worker.js';
import { ensureDevWorkspace } from './workspaces/dev-workspace.js';

async function main() {
  const config = loadConfig();
  const log = createLogger(config.logLevel, undefined, {
    pretty: Boolean(process.stdout.isTTY) && !config.production,
    role: config.role,
  });
  guardPostgresCloseRace(log);
  if (config.allowPrivateTargets) {
    log.warn(
      'ALLOW_PRIVATE_TARGETS is on: webhooks may target loopback and private addresses. Development and tests only.',
    );
  }
  // Without OTEL_EXPORTER_OTLP_ENDPOINT this loads nothing and returns undefined.
  const tracing = await startTracing(config.tracing, log);
  // The embedded database serves one server; the CLI may still share it.
  const lock = config.databaseUrl ? undefined : await lockDataDir(config.dataDir, config.port);
  const db = await openDatabase(config, { log: (line) => log.info(line), logger: log }).catch(
    async (error: unknown) => {
      await lock?.release();
      throw error;
    },
  );
  // Misplaced pooler URLs fail here, in one line, rather than silently later.
  await checkDatabaseSessions(db, { statementTimeoutMs: config.requestTimeoutMs }).catch(async (error: unknown) => {
    await db.close();
    await lock?.release();
    throw error;
  });
  try {
    if (config.migrations === 'verify') {
      await onDirectSession(db, (sql) => verifyMigrations(sql));
    } else {
      // DDL and the migration lock want a session of their own, never a pooler's.
      const applied = await onDirectSession(db, (sql) => migrate(sql, { log: (line) => log.info(line) }));
      if (applied.length > 0) log.info({ applied }, 'applied migrations');
    }
  } catch (error) {
    await db.close();
    await lock?.release();
    throw error;
  }
  // A key that cannot open the stored secrets would make every delivery fail as ours: stop here.
  await checkEncryptionKeys(db.sql, openingKeys(db.secretKey, config.secretEncryptionOldKeys)).catch(
    async (error: unknown) => {
      await db.close();
      await lock?.release();
      throw error;
    },
  );

  const metrics = createMetrics();
  registerListenerMetrics(metrics.registry, db.listener);
  // Cluster-wide figures from the processes that run the worker only, so an API-only
  // process never queries for them and dashboards have fewer copies to aggregate (with max).
  const clusterGauges =
    config.role === 'api'
      ? undefined
      : startClusterGauges(metrics.registry, db.sql, { intervalMs: config.clusterMetricsIntervalMs, log });
  let handler: RequestListener;
  let yoga: { dispose(): Promise<void> | void } | undefined;
  let devKey: Awaited<ReturnType<typeof ensureDevWorkspace>> | undefined;
  if (config.role === 'worker') {
    handler = opsHandler(db.sql, metrics);
  } else {
    // A development convenience only: a production server never mints a key by itself.
    devKey = db.embedded && !config.production ? await ensureDevWorkspace(db.sql, config.dataDir) : undefined;
    // Imported here so a worker-only process does not load the GraphQL stack at all.
    const { createApp } = await import('./app.js');
    const app = createApp({
      sql: db.sql,
      config,
      secretKey: db.secretKey,
      log,
      metrics,
      devApiKey: devKey?.apiKey,
      tracing,
      listener: db.listener,
    });
    yoga = app;
    handler = app;
  }
  const http = createDrainableServer(HTTP_LIMITS, handler, log);
  const server: Server = http.server;
  // Keep-alive sockets outlive requests; a graceful stop closes the idle ones itself.
  server.keepAliveTimeout = 65_000;
  // Past this many open connections new ones are closed at once; per-client limits belong
  // to the load balancer in front.
  server.maxConnections = config.maxConnections;
  try {
    await listen(server, config.port, config.host);
  } catch (error) {
    await db.close();
    await lock?.release();
    throw error;
  }
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  await lock?.recordPort(port);
  if (config.role === 'worker') {
    log.info({ port, role: config.role }, `health, readiness and metrics at http://localhost:${port}/`);
  } else {
    log.info({ port, role: config.role }, `GraphQL API and GraphiQL at http://localhost:${port}/graphql`);
    log.info({ port }, `Dashboard at http://localhost:${port}/dashboard`);
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
    // Beside the API, delivery has connections of its own: no query can starve it.
    const workerSql = config.role === 'all' ? db.openPool('convo-hooks worker') : db.sql;
    worker = startDeliveryWorker({
      sql: workerSql,
      listener: db.listener,
      secretKey: db.secretKey,
      config,
      log,
      metrics,
      tracing,
    });
    stopRetention = startRetention(workerSql, { retentionMs: config.retentionMs, intervalMs: 10 * 60_000, log });
    log.info({ role: config.role }, 'delivery worker started');
  }

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    // A process that serves the API keeps accepting for a moment while /ready says 503, so
    // the load balancer stops sending here before connections are refused. A worker-only
    // process has no traffic to move, and Ctrl-C (SIGINT) is a person, not a deploy.
    const delayMs = config.role === 'worker' || signal === 'SIGINT' ? 0 : config.shutdownDelayMs;
    log.info({ signal, delayMs, graceMs: config.shutdownGraceMs }, 'stopping');
    // The HTTP drain and the worker's in-flight deliveries share the grace period.
    const [, released] = await Promise.all([
      http.drain({ delayMs, graceMs: config.shutdownGraceMs }).then(() => log.info('HTTP server closed')),
      worker?.stop(),
    ]);
    await stopRetention?.();
    await clusterGauges?.stop();
    // Writes the API keys' pending lastUsedAt and stops listening.
    await Promise.resolve(yoga?.dispose()).catch((error: unknown) =>
      log.warn({ err: error }, 'closing the API failed'),
    );
    // The last attempts' spans have ended: send what the batch processor still holds.
    await tracing?.shutdown();
    await db.close();
    await lock?.release();
    log.info({ released: released?.released ?? 0 }, 'stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

/**
 * How long a client may take to send a request: headers within 5 s, the whole request
 * (bodies are at most 2 MiB) within 15 s, checked every second (Node's default checks
 * every 30 s, so connections trickling a byte at a time stay open that long). Responses,
 * and subscription streams, are not bounded by these.
 */
const HTTP_LIMITS = { headersTimeout: 5_000, requestTimeout: 15_000, connectionsCheckingInterval: 1_000 };

/** Listens, turning a port in use into a one-line error instead of a stack. */
function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        error.code === 'EADDRINUSE'
          ? new StartError(`Port ${port} on ${host} is already in use: stop what holds it, or set PORT`)
          : error,
      ),
    );
    server.listen(port, host, resolve);
  });
}

class StartError extends Error {}

main().catch((error: unknown) => {
  if (
    error instanceof ConfigError ||
    error instanceof StartError ||
    error instanceof DataDirBusy ||
    error instanceof MigrationError ||
    error instanceof DatabaseSetupError
  ) {
    process.stderr.write(`${error.message}\n`);
  } else {
    process.stderr.write(`Failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  }
  process.exit(1);
});
