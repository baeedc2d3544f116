import { type DestinationStream, type LevelWithSilent, type Logger, pino } from 'pino';

export type { Logger };

/**
 * JSON logs. Keys and secrets are redacted wherever they appear under these paths, and
 * errors are reduced to type, code, message and stack: a database error's query
 * parameters (which can hold a key digest or a sealed secret) never reach the log.
 */
export function createLogger(
  level: LevelWithSilent = 'info',
  destination?: DestinationStream,
  options: { pretty?: boolean } = {},
): Logger {
  return pino(
    {
      level,
      // Readable lines for a person at a terminal in development; JSON everywhere else.
      ...(options.pretty && !destination
        ? { transport: { target: 'pino-pretty', options: { colorize: true, ignore: 'pid,hostname' } } }
        : {}),
      base: undefined,
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
