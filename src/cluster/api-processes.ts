import cluster, { type Worker } from 'node:cluster';
import type { Registry } from 'prom-client';
import type { Logger } from '../lib/logger.js';
import { answerScrapes } from './metrics.js';

/** What an API process is told by the primary before it opens the database (cluster/api-process.ts). */
export type ApiProcessStart = {
  /** The embedded cluster's URL, when the primary started it (no DATABASE_URL). */
  databaseUrl?: string;
  /** The encryption key, hex, when the primary generated it for the embedded cluster. */
  secretKey?: string;
  /** GraphiQL's pre-filled development key. */
  devApiKey?: string;
};

export const HELLO = 'convo-hooks:api-process-hello';
export const START = 'convo-hooks:api-process-start';

/** A crashed API process is replaced after this long, so a crash at start-up does not spin. */
const RESTART_DELAY_MS = 1_000;

export class ApiProcessesFailed extends Error {}

/**
 * The primary's side of API_PROCESSES > 1: forks `count` API processes (node:cluster) that
 * share the port, resolves once each is listening, restarts one that dies, and answers
 * their /metrics scrapes with every process's figures. The start message travels over IPC
 * rather than the environment, so the encryption key is in no process's environment.
 */
export async function startApiProcesses(options: {
  count: number;
  start: ApiProcessStart;
  registry: Registry;
  log: Logger;
  /** SHUTDOWN_GRACE_MS: an API process still running this long (plus a margin) after a stop is killed. */
  graceMs: number;
}) {
  const { count, start, log } = options;
  answerScrapes(options.registry);
  let stopping = false;
  let starting = true;
  let port = 0;
  // The API processes alive now, each with the promise of its exit.
  const running = new Map<Worker, Promise<void>>();

  cluster.on('message', (worker, message: { type?: unknown }) => {
    if (message?.type === HELLO) worker.send({ type: START, ...start });
  });

  const fork = () => {
    const worker = cluster.fork();
    running.set(
      worker,
      new Promise((resolve) =>
        worker.once('exit', (code, signal) => {
          running.delete(worker);
          resolve();
          if (stopping || starting) return;
          log.error({ apiProcess: worker.process.pid, code, signal }, 'an API process exited; starting another');
          setTimeout(() => stopping || fork(), RESTART_DELAY_MS).unref();
        }),
      ),
    );
    worker.once('listening', () => log.debug({ apiProcess: worker.process.pid }, 'API process listening'));
    return worker;
  };

  const first = Array.from({ length: count }, fork);
  try {
    await Promise.all(
      first.map(
        (worker) =>
          new Promise<void>((resolve, reject) => {
            worker.once('listening', (address) => {
              port = address.port;
              resolve();
            });
            // The process printed its own one-line reason (main.ts) before exiting.
            worker.once('exit', () => reject(new ApiProcessesFailed('An API process failed to start (see above)')));
          }),
      ),
    );
  } catch (error) {
    stopping = true;
    for (const worker of first) worker.process.kill('SIGKILL');
    await Promise.all(running.values());
    throw error;
  }
  starting = false;
  log.info({ apiProcesses: count }, 'API processes listening');

  return {
    port,
    /**
     * Passes the signal on to every API process (each drains as a single process does: /ready
     * 503, requests in flight finished within the grace) and resolves once all have exited.
     */
    async stop(signal: NodeJS.Signals) {
      stopping = true;
      for (const worker of running.keys()) worker.process.kill(signal);
      const backstop = setTimeout(() => {
        for (const worker of running.keys()) {
          log.warn({ apiProcess: worker.process.pid }, 'an API process outlived the grace period: killing it');
          worker.process.kill('SIGKILL');
        }
      }, options.graceMs + 5_000);
      await Promise.all(running.values());
      clearTimeout(backstop);
    },
  };
}
