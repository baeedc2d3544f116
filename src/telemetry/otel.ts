import { readFileSync } from 'node:fs';
import {
  context,
  DiagLogLevel,
  defaultTextMapGetter,
  defaultTextMapSetter,
  diag,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { defaultResource, detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import {
  ATTR_ERROR_TYPE,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_SERVICE_NAME,
  ATTR_SERVICE_VERSION,
} from '@opentelemetry/semantic-conventions';
import type { TracingConfig } from '../config.js';
import type { Logger } from '../lib/logger.js';
import type { Tracing } from './tracing.js';
import { ATTR_WORKSPACE_ID, useOperationSpans } from './use-operation-spans.js';

/** Our own span attributes, under the service's namespace. */
export const ATTR = {
  eventId: 'convo_hooks.event.id',
  eventType: 'convo_hooks.event.type',
  webhooks: 'convo_hooks.event.webhook_count',
  replayed: 'convo_hooks.event.idempotent_replay',
  webhookId: 'convo_hooks.webhook.id',
  deliveryId: 'convo_hooks.delivery.id',
  deliveryStatus: 'convo_hooks.delivery.status',
  attempt: 'convo_hooks.attempt.number',
  outcome: 'convo_hooks.attempt.outcome',
  durationMs: 'convo_hooks.attempt.duration_ms',
  workspaceId: ATTR_WORKSPACE_ID,
} as const;

/** How long a stop waits for the last spans to leave: a dead collector must not hold the process. */
const SHUTDOWN_FLUSH_MS = 5_000;

/**
 * The OpenTelemetry SDK, loaded only when tracing is on (start.ts): a tracer
 * provider with a batch span processor and an OTLP/HTTP exporter. Batching, sampling,
 * span limits, headers, timeout and compression follow the standard OTEL_* variables
 * (OTEL_BSP_*, OTEL_TRACES_SAMPLER, OTEL_EXPORTER_OTLP_HEADERS, …), which the SDK reads.
 */
export async function createTracing(config: TracingConfig, log: Logger): Promise<Tracing> {
  // The SDK's own complaints (an unreachable collector, a dropped batch) go to our log.
  diag.setLogger(
    {
      error: (message) => log.warn({ otel: true }, message),
      warn: (message) => log.warn({ otel: true }, message),
      info: () => {},
      debug: () => {},
      verbose: () => {},
    },
    DiagLogLevel.WARN,
  );
  // Async context, so that spans opened in resolvers find the operation's span.
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());

  const { OTLPTraceExporter } =
    config.protocol === 'http/json'
      ? await import('@opentelemetry/exporter-trace-otlp-http')
      : await import('@opentelemetry/exporter-trace-otlp-proto');
  const exporter: SpanExporter = new OTLPTraceExporter({ url: config.tracesUrl });
  const version = packageVersion();
  // Ours by default; OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME (envDetector) override it.
  const resource = defaultResource()
    .merge(resourceFromAttributes({ [ATTR_SERVICE_NAME]: 'convo-hooks', [ATTR_SERVICE_VERSION]: version }))
    .merge(detectResources({ detectors: [envDetector] }));
  const provider = new BasicTracerProvider({ resource, spanProcessors: [new BatchSpanProcessor(exporter)] });
  const tracer = provider.getTracer('convo-hooks', version);
  const propagator = new W3CTraceContextPropagator();

  const traceparentOf = (span: Span): string | undefined => {
    const carrier: Record<string, string> = {};
    propagator.inject(trace.setSpan(ROOT_CONTEXT, span), carrier, defaultTextMapSetter);
    return carrier.traceparent;
  };

  log.info(
    { protocol: config.protocol, endpoint: new URL(config.tracesUrl).origin },
    'tracing: exporting spans over OTLP/HTTP',
  );

  return {
    plugin: useOperationSpans(tracer, propagator),

    startPublish({ type, workspaceId }) {
      // A child of the operation's span: the resolver runs inside it.
      const span = tracer.startSpan(`publish ${type}`, {
        kind: SpanKind.PRODUCER,
        attributes: { [ATTR.eventType]: type, [ATTR.workspaceId]: workspaceId },
      });
      return {
        traceparent: traceparentOf(span),
        end({ eventId, webhooks, replayed }) {
          span.setAttributes({ [ATTR.eventId]: eventId, [ATTR.webhooks]: webhooks, [ATTR.replayed]: replayed });
          span.end();
        },
        fail(error) {
          // The kind of error, never its message: messages can quote what was sent.
          span.setAttribute(ATTR_ERROR_TYPE, errorType(error));
          span.setStatus({ code: SpanStatusCode.ERROR });
          span.end();
        },
      };
    },

    startAttempt(facts) {
      const published = facts.publishTraceparent
        ? trace.getSpanContext(
            propagator.extract(ROOT_CONTEXT, { traceparent: facts.publishTraceparent }, defaultTextMapGetter),
          )
        : undefined;
      // A trace of its own: retries spread over a day, and the receiver joins this one.
      const span = tracer.startSpan(
        'deliver',
        {
          kind: SpanKind.CLIENT,
          root: true,
          links: published ? [{ context: published }] : [],
          attributes: {
            [ATTR.deliveryId]: facts.deliveryId,
            [ATTR.webhookId]: facts.webhookId,
            [ATTR.eventId]: facts.eventId,
            [ATTR.workspaceId]: facts.workspaceId,
            [ATTR.attempt]: facts.attempt,
            [ATTR_HTTP_REQUEST_METHOD]: 'POST',
          },
        },
        ROOT_CONTEXT,
      );
      return {
        traceparent: traceparentOf(span),
        end(result, outcome, status) {
          span.setAttributes({
            [ATTR.outcome]: outcome,
            [ATTR.durationMs]: result.durationMs,
            [ATTR.deliveryStatus]: status,
          });
          if (result.statusCode !== null) span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, result.statusCode);
          if (!result.ok) {
            span.setAttribute(ATTR_ERROR_TYPE, outcome);
            // What the attempt log says (no URL, no body): "HTTP 503", "connection refused", …
            span.setStatus({ code: SpanStatusCode.ERROR, message: result.error ?? outcome });
          }
          span.end();
        },
      };
    },

    async shutdown() {
      let timer: NodeJS.Timeout | undefined;
      const flushed = provider.shutdown().then(
        () => true,
        (error: unknown) => {
          log.warn({ err: error }, 'tracing: could not export the last spans');
          return true;
        },
      );
      const late = new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), SHUTDOWN_FLUSH_MS);
      });
      if (!(await Promise.race([flushed, late]))) {
        log.warn({ ms: SHUTDOWN_FLUSH_MS }, 'tracing: gave up exporting the last spans');
      }
      clearTimeout(timer);
    },
  };
}

function errorType(error: unknown): string {
  const code = (error as { extensions?: { code?: unknown } } | undefined)?.extensions?.code;
  if (typeof code === 'string') return code;
  return error instanceof Error ? error.constructor.name : 'Error';
}

function packageVersion(): string {
  try {
    // The same two levels up from src/telemetry and dist/telemetry.
    const text = readFileSync(new URL('../../package.json', import.meta.url), 'utf8');
    return (JSON.parse(text) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}
