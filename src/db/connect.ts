import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config.js';
import { startEmbeddedPostgres } from './embedded.js';
import { createPool, type Pool } from './sql.js';

export type Database = {
  sql: Pool;
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
  options: { poolSize?: number; applicationName?: string; log?: (line: string) => void } = {},
): Promise<Database> {
  const poolOptions = {
    max: options.poolSize ?? config.databasePoolSize,
    applicationName: options.applicationName,
    // Bounds every request's statements; work that may take longer lifts it for itself.
    statementTimeoutMs: config.requestTimeoutMs,
  };
  if (config.databaseUrl) {
    const sql = createPool(config.databaseUrl, poolOptions);
    return {
      sql,
      secretKey: config.secretEncryptionKey as Buffer,
      embedded: false,
      close: () => sql.end({ timeout: 5 }),
    };
  }
  const cluster = await startEmbeddedPostgres({ dataDir: config.dataDir, log: options.log });
  const secretKey = config.secretEncryptionKey ?? (await embeddedSecretKey(config.dataDir));
  const sql = createPool(cluster.url, poolOptions);
  return {
    sql,
    secretKey,
    embedded: true,
    close: async () => {
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
