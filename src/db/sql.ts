import postgres from 'postgres';

/** The pool, or a transaction inside it: stores accept either. */
export type Sql = postgres.Sql | postgres.TransactionSql;
export type Pool = postgres.Sql;

export type PoolOptions = {
  max?: number;
  applicationName?: string;
  /** Cancels any statement that runs longer (PostgreSQL's statement_timeout); 0 is no limit. */
  statementTimeoutMs?: number;
};

export function createPool(url: string, options: PoolOptions = {}): Pool {
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
    connection: {
      application_name: options.applicationName ?? 'convo-hooks',
      statement_timeout: options.statementTimeoutMs ?? 0,
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
  return pool;
}
