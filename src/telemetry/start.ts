import type { TracingConfig } from '../config.js';
import type { Logger } from '../lib/logger.js';
import type { Tracing } from './tracing.js';

/**
 * Starts tracing when configured, loading the OpenTelemetry SDK (otel.ts) only then;
 * undefined otherwise. Apart from tracing.ts, which only says what tracing looks like.
 */
export async function startTracing(config: TracingConfig | undefined, log: Logger): Promise<Tracing | undefined> {
  if (!config) return undefined;
  const { createTracing } = await import('./otel.js');
  return createTracing(config, log);
}
