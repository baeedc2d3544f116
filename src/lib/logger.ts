import { type LevelWithSilent, type Logger, pino } from 'pino';

export type { Logger };

/** JSON logs. Keys and secrets are redacted wherever they appear under these paths. */
export function createLogger(level: LevelWithSilent = 'info'): Logger {
  return pino({
    level,
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
      ],
      censor: '[redacted]',
    },
  });
}
