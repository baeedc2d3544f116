import type { Plugin } from 'graphql-yoga';

/**
 * OpenTelemetry tracing, as the rest of the code sees it. This file loads nothing of
 * OpenTelemetry: with OTEL_EXPORTER_OTLP_ENDPOINT unset there is no `Tracing` at all, the
 * SDK is never imported, and every traced place costs one `undefined` check.
 */
export type Tracing = {
  /** A span per GraphQL operation (Yoga plugin); resolvers run inside it. */
  plugin: Plugin;
  /** Opens the span of a publish, a child of the operation it runs in. */
  startPublish(event: { type: string; workspaceId: string }): PublishSpan;
  /** Opens the span of one delivery attempt: a trace of its own, linked to its event's publish span. */
  startAttempt(attempt: AttemptFacts): AttemptSpan;
  /** Exports what is still buffered and stops; called once, on the way out. */
  shutdown(): Promise<void>;
};

export type PublishSpan = {
  /** The W3C `traceparent` of the publish span, stored with the event so its attempts can link to it. */
  traceparent: string | undefined;
  end(result: { eventId: string; webhooks: number; replayed: boolean }): void;
  fail(error: unknown): void;
};

export type AttemptFacts = {
  deliveryId: string;
  webhookId: string;
  eventId: string;
  workspaceId: string;
  /** This attempt's number, 1 for the first. */
  attempt: number;
  /** The event's publish span, as stored (null for events published with tracing off). */
  publishTraceparent: string | null;
};

export type AttemptSpan = {
  /** Sent as the `traceparent` header, so the receiver's spans join this attempt's trace. */
  traceparent: string | undefined;
  /**
   * `outcome` is the metrics label (success, http_5xx, timeout, …); `status` the delivery's
   * afterwards: pending (a retry follows), succeeded, failed, or released (cut short by a stop).
   */
  end(result: AttemptRecord, outcome: string, status: 'pending' | 'succeeded' | 'failed' | 'released'): void;
};

/** What an attempt span records of the attempt's result (the sender's AttemptResult has it). */
export type AttemptRecord = { ok: boolean; statusCode: number | null; durationMs: number; error: string | null };

/** What a publish span records of its event once published. */
export type PublishedFacts = Parameters<PublishSpan['end']>[0];

/**
 * Runs a publish inside a span per event (so each delivery attempt links to its own
 * event's span): `run` gets each span's traceparent, in the order of `types`, to store with
 * its event, and `facts` says what each span records of the result. A failure marks
 * every span failed and is thrown on. Without tracing, `run` gets no traceparents.
 */
export async function withPublishSpans<T>(
  tracing: Tracing | undefined,
  workspaceId: string,
  types: readonly string[],
  run: (traceparents: (string | undefined)[]) => Promise<T>,
  facts: (result: T) => PublishedFacts[],
): Promise<T> {
  const spans = types.map((type) => tracing?.startPublish({ type, workspaceId }));
  try {
    const result = await run(spans.map((span) => span?.traceparent));
    for (const [i, published] of facts(result).entries()) spans[i]?.end(published);
    return result;
  } catch (error) {
    for (const span of spans) span?.fail(error);
    throw error;
  }
}
