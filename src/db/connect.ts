import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config.js';
import type { Logger } from '../lib/logger.js';
import { startEmbeddedPostgres } from './embedded.js';
import { createListener, type Listener } from './listener.js';
import { createPool, type Pool } from './sql.js';

export type Database = {
  /** The pool every query goes through (DATABASE_URL, possibly a transaction pooler). */
  sql: Pool;
  /** The direct (session) URL: LISTEN and migrations (DATABASE_DIRECT_URL, default DATABASE_URL). */
  directUrl: string;
  /** True when `sql` goes through a transaction pooler (DATABASE_DIRECT_URL differs from DATABASE_URL). */
  pooler: boolean;
  /** This process's one listening session, on `directUrl`; it connects at the first subscription. */
  listener: Listener;
  /**
   * A second pool with the same settings, closed with the database: the worker's, when the
   * API runs in the same process, so no query of the API can take delivery's connections.
   */
  openPool: (applicationName: string) => Pool;
  /** The key that seals webhook secrets at rest. */
  secretKey: Buffer;
  /** True when this checkout's embedded cluster serves the data (no DATABASE_URL). */
  embedded: boolean;
  close: () => Promise<void>;
};

/**
 * `DATABASE_URL` when set; otherwise this checkout's embedded cluster under DATA_DIR,
 * started if no other process of this checkout has started it already. The embedded
 * default also generates and keeps its own SECRET_ENCRYPTION_KEY there.
 */
export async function openDatabase(
  config: Config,
  options: { poolSize?: number; applicationName?: string; log?: (line: string) => void; logger?: Logger } = {},
): Promise<Database> {
  const poolOptions = {
    pooler: config.databasePooler,
    max: options.poolSize ?? config.databasePoolSize,
    applicationName: options.applicationName,
    // Bounds every request's statements; work that may take longer lifts it for itself.
    statementTimeoutMs: config.requestTimeoutMs,
  };
  const others: Pool[] = [];
  const poolsOn = (url: string) => (applicationName: string) => {
    const pool = createPool(url, { ...poolOptions, applicationName });
    others.push(pool);
    return pool;
  };
  const endOthers = () => Promise.all(others.map((pool) => pool.end({ timeout: 5 })));
  if (config.databaseUrl) {
    const sql = createPool(config.databaseUrl, poolOptions);
    const directUrl = config.databaseDirectUrl ?? config.databaseUrl;
    const listener = createListener(directUrl, { log: options.logger });
    return {
      sql,
      directUrl,
      pooler: config.databasePooler,
      listener,
      openPool: poolsOn(config.databaseUrl),
      secretKey: config.secretEncryptionKey as Buffer,
      embedded: false,
      close: async () => {
        await listener.close();
        await endOthers();
        await sql.end({ timeout: 5 });
      },
    };
  }
  const cluster = await startEmbeddedPostgres({ dataDir: config.dataDir, log: options.log });
  const secretKey = config.secretEncryptionKey ?? (await embeddedSecretKey(config.dataDir));
  const sql = createPool(cluster.url, poolOptions);
  const listener = createListener(cluster.url, { log: options.logger });
  return {
    sql,
    directUrl: cluster.url,
    pooler: false,
    listener,
    openPool: poolsOn(cluster.url),
    secretKey,
    embedded: true,
    close: async () => {
      await listener.close();
      await endOthers();
      await sql.end({ timeout: 5 });
      await cluster.stop();
    },
  };
}

async function embeddedSecretKey(dataDir: string): Promise<Buffer> {
  const file = path.join(dataDir, 'secret-encryption-key');
  const existing = await fs.readFile(file, 'utf8').catch(() => undefined);
  if (existing) return Buffer.from(existing.trim(), 'hex');
  await fs.writeFile(file, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600, flag: 'wx' }).catch(() => {});
  return Buffer.from((await fs.readFile(file, 'utf8')).trim(), 'hex');
}

/** Runs `work` on a short-lived pool of one direct session (migrations: never through a pooler). */
export async function onDirectSession<T>(db: Database, work: (sql: Pool) => Promise<T>): Promise<T> {
  if (!db.pooler) return work(db.sql);
  const direct = createPool(db.directUrl, { max: 1, applicationName: 'convo-hooks migrate' });
  try {
    return await work(direct);
  } finally {
    await direct.end({ timeout: 5 });
  }
}
