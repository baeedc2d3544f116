import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/lib/logger.js';
import { startTracing } from '../../src/telemetry/start.js';
import { createTestApp, type TestApp } from '../support/app.js';
import { cleanup } from '../support/cleanup.js';
import { conversationEnded, PUBLISH, REGISTER, validWebhook } from '../support/operations.js';
import { createReceiver } from '../support/receiver.js';

/**
 * Traces as an operator's collector receives them: a real server process (`src/main.ts`)
 * exporting over OTLP/HTTP to an endpoint on 127.0.0.1 that this test runs, and a real
 * receiver reading the `traceparent` header of each delivery.
 */

type Export = { path: string; contentType: string; body: string; raw: Buffer };

/** An OTLP/HTTP endpoint: keeps every export POST and answers as a collector does. */
async function createCollector() {
  const exports: Export[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      exports.push({ path: req.url ?? '/', contentType: req.headers['content-type'] ?? '', body: raw.toString(), raw });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanup(() => new Promise((resolve) => server.close(resolve)));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, exports };
}

type Attributes = Record<string, unknown>;
type OtlpValue = {
  stringValue?: string;
  intValue?: number | string;
  boolValue?: boolean;
  arrayValue?: { values: OtlpValue[] };
};
type OtlpSpan = {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: { key: string; value: OtlpValue }[];
  links?: { traceId: string; spanId: string }[];
  status?: { code?: number; message?: string };
};
type Span = Omit<OtlpSpan, 'attributes'> & { attributes: Attributes; service: unknown };

const plain = (value: OtlpValue): unknown =>
  value.arrayValue
    ? value.arrayValue.values.map(plain)
    : (value.stringValue ?? (value.intValue !== undefined ? Number(value.intValue) : value.boolValue));
const attributesOf = (list: { key: string; value: OtlpValue }[] = []): Attributes =>
  Object.fromEntries(list.map(({ key, value }) => [key, plain(value)]));

/** Every span of every export, with its attributes as a plain object (OTLP's JSON encoding). */
function spansOf(exports: Export[]): Span[] {
  return exports.flatMap((e) =>
    (
      JSON.parse(e.body) as {
        resourceSpans: { resource: { attributes: [] }; scopeSpans: { spans: OtlpSpan[] }[] }[];
      }
    ).resourceSpans.flatMap((r) =>
      r.scopeSpans.flatMap((s) =>
        s.spans.map((span) => ({
          ...span,
          attributes: attributesOf(span.attributes),
          service: attributesOf(r.resource.attributes)['service.name'],
        })),
      ),
    ),
  );
}

/** The spawned server, its GraphQL endpoint, and a client for it. */
async function startServer(app: TestApp, env: Record<string, string>) {
  const server = app.spawnServer(
    { DELIVERY_RETRY_SCHEDULE: '100ms,100ms', ...env },
    /GraphQL API and GraphiQL at http:\/\/localhost:(\d+)\/graphql/,
  );
  const [, port] = await server.started;
  const graphql = async (
    query: string,
    variables: Record<string, unknown>,
    apiKey: string,
    headers: Record<string, string> = {},
  ) => {
    const response = await fetch(`http://127.0.0.1:${port}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': apiKey, ...headers },
      body: JSON.stringify({ query, variables }),
    });
    return (await response.json()) as { data?: Record<string, any>; errors?: { extensions: { code: string } }[] };
  };
  const stop = async () => {
    server.signal('SIGTERM');
    expect(await server.exited).toBe(0);
  };
  return { graphql, stop, output: server.output };
}

const BAD_PUBLISH = `mutation BadPublish($input: PublishEventInput!) { publishEvent(input: $input) { id } }`;

describe('OpenTelemetry traces', () => {
  it('with OTEL_EXPORTER_OTLP_ENDPOINT set: spans for operations, publishes and attempts, linked, and a traceparent on every delivery', async () => {
    const app = await createTestApp();
    const { apiKey, workspaceId } = await app.newWorkspace();
    const collector = await createCollector();
    const receiver = await createReceiver((n) => (n === 0 ? { status: 503 } : { status: 204 }));
    const server = await startServer(app, {
      OTEL_EXPORTER_OTLP_ENDPOINT: collector.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_SERVICE_NAME: 'hooks-under-test',
      // Nothing leaves before the stop: what arrives was flushed by the graceful shutdown.
      OTEL_BSP_SCHEDULE_DELAY: '600000',
    });

    // A client that traces its own calls sends a traceparent: the operation joins its trace.
    const clientTrace = randomBytes(16).toString('hex');
    const registered = await server.graphql(
      REGISTER,
      { input: validWebhook({ url: receiver.url, agentId: 'traced' }) },
      apiKey,
      { traceparent: `00-${clientTrace}-${randomBytes(8).toString('hex')}-01` },
    );
    const webhook = registered.data?.registerWebhook as { id: string; secret: string };
    expect(webhook.secret).toMatch(/^whsec_/);
    const marker = `not-for-traces-${randomBytes(6).toString('hex')}`;
    const published = await server.graphql(
      PUBLISH,
      { input: conversationEnded('traced', { conversationId: marker }) },
      apiKey,
    );
    const eventId = published.data?.publishEvent.id as string;
    expect(eventId).toMatch(/^evt_/);
    const refused = await server.graphql(BAD_PUBLISH, { input: conversationEnded('', { marker }) }, apiKey);
    expect(refused.errors?.[0]?.extensions.code).toBe('BAD_USER_INPUT');

    await receiver.waitFor(2, 30_000); // a 503, then the retry's 204
    await server.stop();
    expect(server.output()).toMatch(/tracing: exporting spans over OTLP\/HTTP/);

    expect(collector.exports.length).toBeGreaterThan(0);
    for (const e of collector.exports) {
      expect(e.path).toBe('/v1/traces');
      expect(e.contentType).toMatch(/^application\/json/);
    }
    const spans = spansOf(collector.exports);
    expect(new Set(spans.map((s) => s.service))).toEqual(new Set(['hooks-under-test']));
    const named = (name: string) => spans.filter((s) => s.name === name);

    // A span per GraphQL operation: type and name, the caller's trace, the workspace.
    expect(named('mutation Register')).toHaveLength(1);
    const [register] = named('mutation Register');
    expect(register?.traceId).toBe(clientTrace);
    expect(register?.kind).toBe(2); // SERVER
    expect(register?.attributes).toMatchObject({
      'graphql.operation.type': 'mutation',
      'graphql.operation.name': 'Register',
      'http.response.status_code': 200,
      'convo_hooks.workspace.id': workspaceId,
    });
    expect(register?.attributes['graphql.error.codes']).toBeUndefined();

    // Errors are recorded by their codes.
    const [bad] = named('mutation BadPublish');
    expect(bad?.attributes['graphql.error.codes']).toEqual(['BAD_USER_INPUT']);
    expect(bad?.status?.code).toBe(2); // ERROR

    // The publish: a child of its operation, with the event and how many webhooks get it.
    expect(named('mutation Publish')).toHaveLength(1);
    expect(named('publish conversation_ended')).toHaveLength(1);
    const [operation] = named('mutation Publish');
    const [publish] = named('publish conversation_ended');
    expect(publish?.traceId).toBe(operation?.traceId);
    expect(publish?.parentSpanId).toBe(operation?.spanId);
    expect(publish?.kind).toBe(4); // PRODUCER
    expect(publish?.attributes).toMatchObject({
      'convo_hooks.event.id': eventId,
      'convo_hooks.event.type': 'conversation_ended',
      'convo_hooks.event.webhook_count': 1,
      'convo_hooks.workspace.id': workspaceId,
    });

    // Each attempt: a trace of its own, linked to the publish, with what came of it.
    const attempts = named('deliver').sort(
      (a, b) => Number(a.attributes['convo_hooks.attempt.number']) - Number(b.attributes['convo_hooks.attempt.number']),
    );
    expect(attempts).toHaveLength(2);
    const [failed, succeeded] = attempts as [Span, Span];
    for (const attempt of attempts) {
      expect(attempt.links).toEqual([expect.objectContaining({ traceId: publish?.traceId, spanId: publish?.spanId })]);
      expect(attempt.traceId).not.toBe(publish?.traceId);
      expect(attempt.parentSpanId ?? '').toBe('');
      expect(attempt.attributes).toMatchObject({
        'convo_hooks.webhook.id': webhook.id,
        'convo_hooks.event.id': eventId,
        'convo_hooks.workspace.id': workspaceId,
      });
      expect(attempt.attributes['convo_hooks.delivery.id']).toMatch(/^dlv_/);
      expect(attempt.attributes['convo_hooks.attempt.duration_ms']).toEqual(expect.any(Number));
    }
    expect(failed.attributes).toMatchObject({
      'convo_hooks.attempt.number': 1,
      'http.response.status_code': 503,
      'convo_hooks.attempt.outcome': 'http_5xx',
      'convo_hooks.delivery.status': 'pending',
    });
    expect(failed.status).toMatchObject({ code: 2, message: 'HTTP 503' });
    expect(succeeded.attributes).toMatchObject({
      'convo_hooks.attempt.number': 2,
      'http.response.status_code': 204,
      'convo_hooks.attempt.outcome': 'success',
      'convo_hooks.delivery.status': 'succeeded',
    });
    expect(failed.traceId).not.toBe(succeeded.traceId);

    // The receiver can join each attempt's trace: its traceparent names the attempt's span.
    expect(receiver.received.map((r) => r.headers.traceparent)).toEqual([
      `00-${failed.traceId}-${failed.spanId}-01`,
      `00-${succeeded.traceId}-${succeeded.spanId}-01`,
    ]);

    // Never variables, secrets or where deliveries go.
    const exported = collector.exports.map((e) => e.body).join('\n');
    for (const secret of [marker, webhook.secret, apiKey, receiver.url, '127.0.0.1']) {
      expect(exported).not.toContain(secret);
    }
  }, 120_000);

  it('with it unset: no SDK, no export attempt, no traceparent header', async () => {
    const app = await createTestApp();
    const { apiKey } = await app.newWorkspace();
    const collector = await createCollector();
    const receiver = await createReceiver();
    const server = await startServer(app, {
      OTEL_EXPORTER_OTLP_ENDPOINT: '',
      // Where a loaded SDK would export to (the signal's own endpoint, which alone turns
      // nothing on), with a short batch delay: any span made would arrive.
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${collector.url}/v1/traces`,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_BSP_SCHEDULE_DELAY: '50',
    });
    await server.graphql(REGISTER, { input: validWebhook({ url: receiver.url, agentId: 'untraced' }) }, apiKey, {
      traceparent: `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-01`,
    });
    await server.graphql(PUBLISH, { input: conversationEnded('untraced') }, apiKey);
    await receiver.waitFor(1, 30_000);
    await server.stop();

    expect(receiver.received).toHaveLength(1);
    expect(receiver.received[0]?.headers.traceparent).toBeUndefined();
    expect(receiver.received[0]?.headers['webhook-signature']).toMatch(/^v1,/);
    expect(server.output()).not.toMatch(/tracing/);
    expect(collector.exports).toEqual([]);
  }, 120_000);

  it('speaks http/protobuf unless told otherwise, the protocol every collector accepts', async () => {
    const collector = await createCollector();
    const tracing = await startTracing(
      loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: collector.url }).tracing,
      createLogger('silent'),
    );
    if (!tracing) throw new Error('tracing did not start');
    const span = tracing.startAttempt({
      deliveryId: 'dlv_proto',
      webhookId: 'wh_proto',
      eventId: 'evt_proto',
      workspaceId: 'org_proto',
      attempt: 1,
      publishTraceparent: null,
    });
    span.end({ ok: true, statusCode: 200, durationMs: 3, error: null }, 'success', 'succeeded');
    await tracing.shutdown();

    expect(collector.exports).toHaveLength(1);
    const [sent] = collector.exports as [Export];
    expect(sent.path).toBe('/v1/traces');
    expect(sent.contentType).toBe('application/x-protobuf');
    // Protobuf keeps ids as raw bytes and strings as they are.
    const traceId = span.traceparent?.split('-')[1] as string;
    expect(sent.raw.includes(Buffer.from(traceId, 'hex'))).toBe(true);
    for (const text of ['deliver', 'dlv_proto', 'wh_proto', 'convo-hooks']) expect(sent.raw.includes(text)).toBe(true);
  });
});
