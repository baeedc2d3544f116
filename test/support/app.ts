import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createApp } from '../../src/app.js';
import { createApiKey } from '../../src/auth/api-keys.js';
import { loadConfig } from '../../src/config.js';
import type { Pool } from '../../src/db/sql.js';
import { createLogger, type Logger } from '../../src/lib/logger.js';
import { startDeliveryWorker, type WorkerOptions } from '../../src/worker/worker.js';
import { createWorkspace } from '../../src/workspaces/store.js';
import { cleanup } from './cleanup.js';
import { createTestDatabase } from './database.js';
import { signalGroup, startProcess } from './processes.js';

export type GraphQLResponse<T = Record<string, any>> = {
  status: number;
  data?: T | null;
  errors?: { message: string; path?: string[]; extensions?: Record<string, any> }[];
};

/**
 * The app as a client sees it, on its own database: requests go through `yoga.fetch`,
 * the same handler `npm start` serves, without opening a port.
 */
export async function createTestApp(
  env: Record<string, string> = {},
  options: {
    log?: Logger;
    devApiKey?: (sql: Pool) => Promise<string>;
    /** The built dashboard to serve at /dashboard (test/support/dashboard-build.ts); by default dist/dashboard. */
    dashboardDirectory?: string;
  } = {},
) {
  const db = await createTestDatabase();
  const secretKey = randomBytes(32);
  const config = loadConfig({
    DATABASE_URL: db.url,
    SECRET_ENCRYPTION_KEY: secretKey.toString('hex'),
    ALLOW_PRIVATE_TARGETS: 'true',
    LOG_LEVEL: 'silent',
    RATE_LIMIT_PER_SECOND: '0',
    // Tests send as fast as they can from one address (the fuzzers thousands of invalid
    // requests): the door's limits are tested where a test sets them (safety/request-rate).
    REQUEST_RATE_LIMIT_PER_SECOND: '0',
    ADDRESS_RATE_LIMIT_PER_SECOND: '0',
    // Paging and fan-out tests register hundreds of webhooks on one agent; tests of the limit set it.
    MAX_WEBHOOKS_PER_AGENT: '0',
    MAX_WEBHOOKS_PER_WORKSPACE: '0',
    ...env,
  });
  const log = options.log ?? createLogger(config.logLevel);
  const devApiKey = options.devApiKey ? await options.devApiKey(db.sql) : undefined;
  const yoga = createApp({
    sql: db.sql,
    config,
    secretKey,
    log,
    devApiKey,
    dashboardDirectory: options.dashboardDirectory,
  });

  async function graphql<T = Record<string, any>>(
    query: string,
    options: { variables?: Record<string, unknown>; apiKey?: string | null; headers?: Record<string, string> } = {},
  ): Promise<GraphQLResponse<T>> {
    const headers: Record<string, string> = { 'content-type': 'application/json', ...options.headers };
    if (options.apiKey) headers['x-api-key'] = options.apiKey;
    const body = JSON.stringify({ query, variables: options.variables });
    headers['content-length'] = String(Buffer.byteLength(body));
    const response = await yoga.fetch('http://localhost/graphql', { method: 'POST', headers, body });
    return { status: response.status, ...((await response.json()) as object) };
  }

  /** A workspace with one API key: a fresh tenant for each test. */
  async function newWorkspace(name = 'Test workspace') {
    const workspace = await createWorkspace(db.sql, name);
    const { id: keyId, apiKey } = await createApiKey(db.sql, workspace.id);
    return { workspaceId: workspace.id, apiKey, keyId };
  }

  /** A delivery worker in this process, stopped when the file ends. */
  function startWorker(options: Partial<WorkerOptions> = {}) {
    const worker = startDeliveryWorker({ sql: db.sql, secretKey, config, log, pollMs: 50, ...options });
    cleanup(() => worker.stop(1000));
    return worker;
  }

  /** Serves the app on a real port of 127.0.0.1, as `npm start` does; closed when the file ends. */
  async function listen(): Promise<string> {
    const server = createServer(yoga.listener);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanup(() => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    });
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
  }

  /**
   * `src/main.ts` as a child process on this app's database (ROLE and the rest from `env`),
   * started once its output matches `ready`.
   */
  function spawnServer(env: Record<string, string>, ready: RegExp) {
    const proc = startProcess(
      process.execPath,
      ['--import', 'tsx', 'src/main.ts'],
      {
        PORT: '0',
        DATABASE_URL: db.url,
        SECRET_ENCRYPTION_KEY: secretKey.toString('hex'),
        ALLOW_PRIVATE_TARGETS: 'true',
        LOG_LEVEL: 'info',
        ...env,
      },
      ready,
    );
    // A test that fails before it stops its server must not leave it running.
    let exited = false;
    void proc.exited.then(() => {
      exited = true;
    });
    cleanup(() => {
      if (!exited) signalGroup(proc.child, 'SIGKILL');
    });
    return proc;
  }

  return { db, sql: db.sql, yoga, config, secretKey, log, graphql, newWorkspace, startWorker, listen, spawnServer };
}

export type TestApp = Awaited<ReturnType<typeof createTestApp>>;
