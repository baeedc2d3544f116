import type { Pool } from '../db/sql.js';
import { emitOutcomeNotices } from '../events/notices.js';
import type { Logger } from '../lib/logger.js';
import { type HealthRules, type Outcome, type Recorded, recordOutcomes } from '../queue/record.js';

const BATCH = 500;
const RETRY_AFTER_MS = 1000;

/**
 * Writes attempt outcomes in batches: while one batch is being written the next one
 * gathers. A failed write is retried; until it succeeds the deliveries stay claimed, and
 * if this process dies first their leases run out and they are sent again (at least
 * once, never lost). Once a batch is committed, circuits it opened or closed are logged and
 * `onRecorded` hears what it ended (for the metrics).
 */
export function createOutcomeWriter(
  sql: Pool,
  rules: HealthRules,
  log: Logger,
  onFailedWrite?: () => void,
  onRecorded?: (recorded: Recorded) => void,
) {
  const waiting: Outcome[] = [];
  let writing: Promise<void> | undefined;
  let giveUpWhenUnreachable = false;

  const databaseReachable = () =>
    sql`select 1`.then(
      () => true,
      () => false,
    );

  async function writeAll() {
    try {
      while (waiting.length > 0) {
        const batch = waiting.splice(0, BATCH);
        try {
          const recorded = await recordOutcomes(sql, batch, rules, emitOutcomeNotices);
          logCircuitChanges(log, recorded);
          onRecorded?.(recorded);
        } catch (error) {
          waiting.unshift(...batch);
          onFailedWrite?.();
          log.warn({ err: error, pending: waiting.length }, 'recording delivery outcomes failed; retrying');
          await new Promise((resolve) => setTimeout(resolve, RETRY_AFTER_MS));
          // Stopping with the database gone: leave them to their leases.
          if (giveUpWhenUnreachable && !(await databaseReachable())) return;
        }
      }
    } finally {
      writing = undefined;
    }
  }

  const flush = () => {
    writing ??= writeAll();
    return writing;
  };

  return {
    write(outcome: Outcome) {
      waiting.push(outcome);
      void flush();
    },
    /** Writes everything gathered; when stopping, gives up if the database is unreachable. */
    drain() {
      giveUpWhenUnreachable = true;
      return flush();
    },
  };
}

/** The reason is built from attempt errors (status codes, network errors): no secrets in it. */
function logCircuitChanges(log: Logger, recorded: Recorded) {
  for (const { webhookId, workspaceId, change, reason } of recorded.circuitChanges) {
    if (change === 'opened') {
      log.warn({ webhookId, workspaceId, reason }, 'circuit opened: the endpoint gets one probe at a time');
    } else {
      log.info({ webhookId, workspaceId }, 'circuit closed: an attempt succeeded, deliveries flow again');
    }
  }
}
