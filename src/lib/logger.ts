import os from 'node:os';
import { type DestinationStream, type LevelWithSilent, type Logger, pino } from 'pino';

export type { Logger };

/**
 * JSON logs. Keys and secrets are redacted wherever they appear under these paths, and
 * errors are reduced to type, code, message and stack: a database error's query
 * parameters (which can hold a key digest or a sealed secret) never reach the log.
 * Every line names its process (pid, hostname and, from main.ts, its ROLE), so lines of
 * several instances can be told apart once collected. Warnings and errors with the same
 * error repeated within REPEAT_WINDOW_MS are written once (see `repeatLimiter`).
 */
export function createLogger(
  level: LevelWithSilent = 'info',
  destination?: DestinationStream,
  options: { pretty?: boolean; role?: string } = {},
): Logger {
  const repeated = repeatLimiter(REPEAT_WINDOW_MS);
  return pino(
    {
      level,
      // Readable lines for a person at a terminal in development; JSON everywhere else.
      ...(options.pretty && !destination
        ? { transport: { target: 'pino-pretty', options: { colorize: true, ignore: 'pid,hostname' } } }
        : {}),
      base: { pid: process.pid, hostname: os.hostname(), ...(options.role ? { role: options.role } : {}) },
      hooks: {
        logMethod(args, write, level) {
          // Only lines that carry an error: distinct warnings (a circuit opening) all get written.
          if (level < WARN || !carriesError(args)) return write.apply(this, args);
          const verdict = repeated(args);
          if (verdict === 'drop') return;
          if (verdict > 0) {
            // The first line after a quiet window says how many like it were left out.
            const [first, ...rest] = args;
            const fields = typeof first === 'object' && first !== null ? first : { msg: first };
            return write.apply(this, [{ ...fields, suppressed: verdict }, ...rest] as typeof args);
          }
          return write.apply(this, args);
        },
      },
      redact: {
        paths: [
          'apiKey',
          'secret',
          '*.apiKey',
          '*.secret',
          'headers["x-api-key"]',
          '*.headers["x-api-key"]',
          'headers["webhook-signature"]',
          '*.headers["webhook-signature"]',
        ],
        censor: '[redacted]',
      },
      serializers: { err: serializeError },
    },
    destination,
  );
}

function serializeError(error: unknown): Record<string, unknown> {
  if (!(error instanceof Error)) return { message: String(error) };
  const { code } = error as { code?: unknown };
  return {
    type: error.name,
    code: typeof code === 'string' ? code : undefined,
    message: error.message,
    stack: error.stack,
  };
}

const WARN = 40;
/** A warning or error repeated within this window (same message, same error) is written once. */
export const REPEAT_WINDOW_MS = 10_000;

/**
 * During a database outage every loop that touches the database fails the same way, every
 * poll: thousands of identical lines with stacks. An error line whose message and error message
 * (its source and its cause) were written less than `windowMs` ago is dropped and counted;
 * the next one written carries `suppressed`, the count left out since.
 * Returns 'drop', or the number suppressed before this line.
 */
function repeatLimiter(windowMs: number) {
  const seen = new Map<string, { at: number; suppressed: number }>();
  return (args: unknown[]): 'drop' | number => {
    const key = repeatKey(args);
    const now = Date.now();
    const last = seen.get(key);
    if (last && now - last.at < windowMs) {
      last.suppressed++;
      return 'drop';
    }
    // Bounded: forget what has been quiet for a window.
    if (seen.size > 1000) {
      for (const [k, v] of seen) if (now - v.at >= windowMs) seen.delete(k);
    }
    seen.set(key, { at: now, suppressed: 0 });
    return last?.suppressed ?? 0;
  };
}

function carriesError(args: unknown[]): boolean {
  const [first] = args;
  return typeof first === 'object' && first !== null && 'err' in first;
}

function repeatKey(args: unknown[]): string {
  const [first, second] = args;
  if (typeof first !== 'object' || first === null) return String(first);
  const err = (first as { err?: unknown }).err;
  const cause = err instanceof Error ? `${(err as { code?: unknown }).code ?? ''} ${err.message}` : String(err ?? '');
  return `${String(second ?? '')}\u0000${cause}`;
}
