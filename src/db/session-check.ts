import { randomBytes } from 'node:crypto';
import type { Database } from './connect.js';

/** A database setting that cannot work: the message is one line naming the variable to fix. */
export class DatabaseSetupError extends Error {}

const PROBE_CHANNEL = 'convo_hooks_probe';

/**
 * At start, before anything relies on them, checks what a transaction pooler in the wrong
 * place would silently break, and says which URL is wrong:
 * - the pool connects (PgBouncer in transaction mode refuses the statement_timeout startup
 *   parameter a pool without DATABASE_DIRECT_URL sends);
 * - the pool's statements run under REQUEST_TIMEOUT_MS (a pooler told to ignore that
 *   parameter connects, and then nothing is bounded);
 * - a NOTIFY sent through the pool reaches this process's listener on the direct URL within
 *   `timeoutMs` (LISTEN through a transaction pooler hears nothing, or not reliably).
 */
export async function checkDatabaseSessions(
  db: Database,
  options: { statementTimeoutMs: number; timeoutMs?: number },
): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 3_000;
  const pooled = db.pooler ? 'DATABASE_URL' : 'DATABASE_URL (no DATABASE_DIRECT_URL set)';
  let timeout: number;
  try {
    const [row] = await db.sql.begin(
      (tx) => tx<{ ms: string }[]>`/* setup.statement-timeout */
        select setting as ms from pg_settings where name = 'statement_timeout'`,
    );
    timeout = Number(row?.ms);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (/unsupported startup parameter/i.test(message)) {
      throw new DatabaseSetupError(
        `${pooled} refused a startup parameter (${message}): it leads to a transaction pooler; set DATABASE_DIRECT_URL to a direct connection to the same database`,
      );
    }
    throw error;
  }
  if (options.statementTimeoutMs > 0 && timeout !== options.statementTimeoutMs) {
    throw new DatabaseSetupError(
      `${pooled} runs statements with statement_timeout ${timeout} ms instead of REQUEST_TIMEOUT_MS (${options.statementTimeoutMs}): it leads to a pooler that drops startup parameters; set DATABASE_DIRECT_URL to a direct connection to the same database`,
    );
  }

  const nonce = randomBytes(8).toString('hex');
  let heard = () => {};
  const isHeard = new Promise<boolean>((resolve) => {
    heard = () => resolve(true);
  });
  const probe = await db.listener.subscribe(PROBE_CHANNEL, { onNotify: (payload) => payload === nonce && heard() });
  let timer: NodeJS.Timeout | undefined;
  try {
    await db.sql`/* setup.notify-probe */ select pg_notify(${PROBE_CHANNEL}, ${nonce})`;
    const inTime = await Promise.race([
      isHeard,
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), timeoutMs);
      }),
    ]);
    if (!inTime) {
      throw new DatabaseSetupError(
        `LISTEN on ${db.pooler ? 'DATABASE_DIRECT_URL' : 'DATABASE_URL'} did not hear a NOTIFY sent through DATABASE_URL within ${timeoutMs} ms: DATABASE_DIRECT_URL must be a direct (session) connection to the same database, never a transaction pooler`,
      );
    }
  } finally {
    clearTimeout(timer);
    await probe.unsubscribe();
  }
}
