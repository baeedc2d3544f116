import cluster from 'node:cluster';
import type { RequestListener } from 'node:http';
import { runApiProcess } from './cluster/api-process.js';
import { ApiProcessesFailed, startApiProcesses } from './cluster/api-processes.js';
import { type Config, ConfigError, loadConfig } from './config.js';
import { guardPostgresCloseRace } from './db/close-race-guard.js';
import { type Database, onDirectSession, openDatabase } from './db/connect.js';
import { DataDirBusy, lockDataDir } from './db/data-dir-lock.js';
import { registerListenerMetrics } from './db/listener.js';
import { MigrationError, migrate, verifyMigrations } from './db/migrate.js';
import { checkDatabaseSessions, DatabaseSetupError } from './db/session-check.js';
import { listenDrainable, StartError } from './http-server.js';
import { createLogger, type Logger } from './lib/logger.js';
import { createMetrics, type Metrics } from './lib/metrics.js';
import { opsHandler } from './ops-server.js';
import { startTracing } from './telemetry/start.js';
import type { Tracing } from './telemetry/tracing.js';
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
  // A development convenience only: a production server never mints a key by itself.
  const devKey =
    config.role !== 'worker' && db.embedded && !config.production
      ? await ensureDevWorkspace(db.sql, config.dataDir)
      : undefined;
  const api = await serveApi(config, db, { metrics, log, tracing, devApiKey: devKey?.apiKey }).catch(
    async (error: unknown) => {
      await clusterGauges?.stop();
      await db.close();
      await lock?.release();
      throw error;
    },
  );
  const port = api.port;
  await lock?.recordPort(port);
  if (config.role === 'worker') {
    log.info({ port, role: config.role }, `health, readiness and metrics at http://localhost:${port}/`);
  } else {
    log.info(
      { port, role: config.role, apiProcesses: config.apiProcesses },
      `GraphQL API and GraphiQL at http://localhost:${port}/graphql`,
    );
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
    // (With API_PROCESSES > 1 the API runs in processes of its own, and the pool is the worker's.)
    const workerSql = config.role === 'all' && config.apiProcesses === 1 ? db.openPool('convo-hooks worker') : db.sql;
    worker = startDeliveryWorker({
      sql: workerSql,
      listener: db.listener,
      secretKey: db.secretKey,
      config,
      log,
      metrics,
      tracing,
      // In one process with the API, requests come first while the event loop is congested.
      sharesLoopWithApi: config.role === 'all' && config.apiProcesses === 1,
    });
    stopRetention = startRetention(workerSql, { retentionMs: config.retentionMs, intervalMs: 10 * 60_000, log });
    log.info({ role: config.role }, 'delivery worker started');
  }

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal, graceMs: config.shutdownGraceMs }, 'stopping');
    // The HTTP drain and the worker's in-flight deliveries share the grace period.
    const [, released] = await Promise.all([
      api.stop(signal).then(() => log.info('HTTP server closed')),
      worker?.stop(),
    ]);
    await stopRetention?.();
    await clusterGauges?.stop();
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

type ServeOptions = { metrics: Metrics; log: Logger; tracing: Tracing | undefined; devApiKey: string | undefined };

/**
 * The port: in this process (the API, or a worker-only process's /health, /ready and
 * /metrics), or from API_PROCESSES processes of their own that share it (node:cluster).
 * `stop` drains it as CONTRACT §9 says and resolves once nothing is served.
 */
async function serveApi(config: Config, db: Database, { metrics, log, tracing, devApiKey }: ServeOptions) {
  if (config.apiProcesses > 1) {
    const processes = await startApiProcesses({
      count: config.apiProcesses,
      start: {
        databaseUrl: db.embedded ? db.directUrl : undefined,
        secretKey: db.embedded ? db.secretKey.toString('hex') : undefined,
        devApiKey,
      },
      registry: metrics.registry,
      log,
      graceMs: config.shutdownGraceMs,
    });
    return { port: processes.port, stop: (signal: string) => processes.stop(signal as NodeJS.Signals) };
  }
  let handler: RequestListener;
  let yoga: { dispose(): Promise<void> | void } | undefined;
  if (config.role === 'worker') {
    handler = opsHandler(db.sql, metrics);
  } else {
    // Imported here so a worker-only process does not load the GraphQL stack at all.
    const { createApp } = await import('./app.js');
    const app = createApp({
      sql: db.sql,
      config,
      secretKey: db.secretKey,
      log,
      metrics,
      devApiKey,
      tracing,
      listener: db.listener,
    });
    yoga = app;
    handler = app.listener;
  }
  const http = await listenDrainable(handler, config, log);
  return {
    port: http.port,
    async stop(signal: string) {
      // A process that serves the API keeps accepting for a moment while /ready says 503, so
      // the load balancer stops sending here before connections are refused. A worker-only
      // process has no traffic to move, and Ctrl-C (SIGINT) is a person, not a deploy.
      const delayMs = config.role === 'worker' || signal === 'SIGINT' ? 0 : config.shutdownDelayMs;
      await http.drain({ delayMs, graceMs: config.shutdownGraceMs });
      // Writes the API keys' pending lastUsedAt and stops listening.
      await Promise.resolve(yoga?.dispose()).catch((error: unknown) =>
        log.warn({ err: error }, 'closing the API failed'),
      );
    },
  };
}

// With API_PROCESSES > 1 this file is also each API process's entry (a node:cluster worker).
(cluster.isWorker ? runApiProcess() : main()).catch((error: unknown) => {
  if (
    error instanceof ConfigError ||
    error instanceof StartError ||
    error instanceof ApiProcessesFailed ||
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
