import type { Logger } from '../lib/logger.js';

/**
 * postgres.js 3.4.9 can schedule a small write with setImmediate and run it after the
 * connection has closed, throwing `Cannot read properties of null (reading 'write')`
 * from a timer, where no caller can catch it: the process dies whenever the database
 * goes away mid-write (porsager/postgres#1154, #1208; the proposed fix only skips the
 * write, as the query has already been rejected with CONNECTION_CLOSED).
 *
 * Until a release carries the fix, treat exactly that exception as the harmless race it
 * is; anything else uncaught still ends the process, as it should.
 */
export function guardPostgresCloseRace(log: Logger) {
  process.on('uncaughtException', (error) => {
    if (
      error instanceof TypeError &&
      /reading 'write'/.test(error.message) &&
      /postgres\/src\/connection\.js/.test(error.stack ?? '')
    ) {
      log.warn('ignored a write on a closed database connection (postgres.js close race)');
      return;
    }
    log.fatal({ err: error }, 'uncaught exception');
    process.exit(1);
  });
}
