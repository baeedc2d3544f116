import { type Config, loadConfig, perApiProcess } from '../config.js';
import { guardPostgresCloseRace } from '../db/close-race-guard.js';
import { openDatabase } from '../db/connect.js';
import { registerListenerMetrics } from '../db/listener.js';
import { listenDrainable } from '../http-server.js';
import { createLogger } from '../lib/logger.js';
import { createMetrics } from '../lib/metrics.js';
import { startTracing } from '../telemetry/start.js';
import { type ApiProcessStart, HELLO, START } from './api-processes.js';
import { scrapeThroughPrimary } from './metrics.js';

/**
 * One of the API processes of API_PROCESSES > 1 (a node:cluster worker): the GraphQL API
 * on the shared port, with its own pool and LISTEN session, and nothing else. The primary
 * has started the database, applied the migrations and runs the delivery worker.
 */
export async function runApiProcess() {
  const settings = loadConfig();
  const start = await askPrimary();
  const config: Config = perApiProcess(
    {
      ...settings,
      role: 'api',
      databaseUrl: start.databaseUrl ?? settings.databaseUrl,
      databaseDirectUrl: start.databaseUrl ?? settings.databaseDirectUrl,
      secretEncryptionKey: start.secretKey ? Buffer.from(start.secretKey, 'hex') : settings.secretEncryptionKey,
    },
    settings.apiProcesses,
  );
  const log = createLogger(config.logLevel, undefined, {
    pretty: Boolean(process.stdout.isTTY) && !config.production,
    role: 'api',
  });
  guardPostgresCloseRace(log);
  const tracing = await startTracing(config.tracing, log);
  const db = await openDatabase(config, { logger: log });
  const metrics = createMetrics({ scrape: scrapeThroughPrimary(() => metrics.registry) });
  registerListenerMetrics(metrics.registry, db.listener);
  const { createApp } = await import('../app.js');
  const app = createApp({
    sql: db.sql,
    config,
    secretKey: db.secretKey,
    log,
    metrics,
    devApiKey: start.devApiKey,
    tracing,
    listener: db.listener,
  });
  const http = await listenDrainable(app.listener, config, log).catch(async (error: unknown) => {
    await db.close();
    throw error;
  });

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    // As a single API process stops (main.ts); without a primary there is nobody to wait for.
    const delayMs = signal === 'SIGTERM' ? config.shutdownDelayMs : 0;
    await http.drain({ delayMs, graceMs: config.shutdownGraceMs });
    await Promise.resolve(app.dispose()).catch((error: unknown) => log.warn({ err: error }, 'closing the API failed'));
    await tracing?.shutdown();
    await db.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  // The primary is gone (killed): an API process alone would serve with no worker and no restarts.
  process.on('disconnect', () => void stop('disconnect'));
}

function askPrimary(): Promise<ApiProcessStart> {
  return new Promise((resolve) => {
    const onMessage = (message: { type?: unknown } & ApiProcessStart) => {
      if (message?.type !== START) return;
      process.off('message', onMessage);
      resolve({ databaseUrl: message.databaseUrl, secretKey: message.secretKey, devApiKey: message.devApiKey });
    };
    process.on('message', onMessage);
    process.send?.({ type: HELLO });
  });
}
