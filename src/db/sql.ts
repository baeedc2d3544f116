import postgres from 'postgres';

/** The pool, or a transaction inside it: stores accept either. */
export type Sql = postgres.Sql | postgres.TransactionSql;
export type Pool = postgres.Sql;

export type PoolOptions = {
  max?: number;
  applicationName?: string;
  /** Cancels any statement that runs longer (PostgreSQL's statement_timeout); 0 is no limit. */
  statementTimeoutMs?: number;
  /**
   * The URL is a transaction-mode pooler (PgBouncer): each transaction may run on another
   * server connection, so nothing may live in the session. No server-side prepared
   * statements, no startup parameters; the statement timeout is set per transaction and,
   * for statements outside one, enforced by cancelling them (see `boundStatements`).
   */
  pooler?: boolean;
};

export function createPool(url: string, options: PoolOptions = {}): Pool {
  const pooler = options.pooler ?? false;
  const statementTimeoutMs = options.statementTimeoutMs ?? 0;
  const pool = postgres(url, {
    max: options.max ?? 10,
    // Fail fast while the database is away: callers answer with an error rather than hang,
    // and the pool reconnects by itself on the next query once it is back.
    connect_timeout: 5,
    // Reconnect soon after losing the server: queries wait for a reconnect, and the
    // default backoff (growing to 20 s) would turn an outage into hanging requests.
    backoff: (retries: number) => Math.min(0.05 * 2 ** retries, 1),
    idle_timeout: 60,
    onnotice: () => {},
    // A statement prepared on one server connection is unknown on the next the pooler picks.
    prepare: !pooler,
    connection: {
      // PgBouncer passes application_name on; statement_timeout it refuses at start-up.
      application_name: options.applicationName ?? 'convo-hooks',
      ...(pooler ? {} : { statement_timeout: statementTimeoutMs }),
    },
    transform: postgres.camel,
  });
  // postgres.js asks each new connection for the database's array types, though the answer
  // is the pool's (the parsers it builds from it are shared): a round trip and about 4 ms of
  // the server's time before the connection's first query, paid again by every connection a
  // burst opens. Once one has asked, later connections skip it (should that first query fail,
  // every connection goes on asking, as before).
  pool`select 1`.then(
    () => {
      pool.options.fetch_types = false;
    },
    () => {},
  );
  return pooler && statementTimeoutMs > 0 ? boundStatements(pool, statementTimeoutMs) : pool;
}

/**
 * The statement timeout without a session setting, for a pool behind a transaction pooler:
 * every transaction starts with `SET LOCAL statement_timeout` (work that may take longer
 * still lifts it for itself with its own `set local`), and a statement outside a
 * transaction is cancelled (a CancelRequest, which PgBouncer forwards to the server) once
 * it has run, or waited for a connection, for `timeoutMs`. Either way the caller gets
 * PostgreSQL's query_canceled (57014), as from statement_timeout.
 */
function boundStatements(pool: Pool, timeoutMs: number): Pool {
  const setting = String(timeoutMs);
  const bound = <T>(query: T): T => {
    const pending = query as unknown as postgres.PendingQuery<postgres.Row[]>;
    const then = pending.then;
    let armed = false;
    // Armed when awaited, not when built: a fragment nested in another query is never run by itself.
    // biome-ignore lint/suspicious/noThenProperty: a query is a thenable; hooking its then is how it is armed when awaited
    pending.then = function (this: typeof pending, ...args: Parameters<typeof then>) {
      if (!armed) {
        armed = true;
        const cancel = () => (pending.cancel() as unknown as Promise<void> | null)?.catch(() => {});
        const timer = setTimeout(cancel, timeoutMs);
        timer.unref();
        const disarm = () => clearTimeout(timer);
        then.call(pending, disarm, disarm);
      }
      return then.apply(pending, args);
    } as typeof then;
    return query;
  };
  const isTemplate = (first: unknown) => Array.isArray(first) && 'raw' in first;
  return new Proxy(pool, {
    apply(target, thisArg, args: unknown[]) {
      const result = Reflect.apply(target, thisArg, args);
      return isTemplate(args[0]) ? bound(result) : result;
    },
    get(target, key, receiver) {
      if (key === 'unsafe') {
        return (...args: Parameters<Pool['unsafe']>) => bound(target.unsafe(...args));
      }
      if (key === 'begin') {
        return (...args: unknown[]) => {
          const work = args.pop() as (tx: postgres.TransactionSql) => unknown;
          const options = (args[0] as string | undefined) ?? '';
          return target.begin(options, async (tx) => {
            await tx`/* pooler.statement-timeout */ select set_config('statement_timeout', ${setting}, true)`;
            return work(tx);
          });
        };
      }
      return Reflect.get(target, key, receiver);
    },
  });
}
