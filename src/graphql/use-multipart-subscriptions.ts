import type { ExecutionResult } from 'graphql';
import { type Plugin, processRegularResult } from 'graphql-yoga';
import { stringifyWithRawJson } from './raw-json.js';

/** Apollo's multipart subscription protocol asks for a heartbeat part this often. */
const HEARTBEAT_MS = 5_000;
const BOUNDARY = 'graphql';
const CONTENT_TYPE = `multipart/mixed; boundary="${BOUNDARY}"; subscriptionSpec="1.0"`;

/**
 * Subscriptions over `multipart/mixed` as Apollo Client's HttpLink speaks them
 * (`Accept: multipart/mixed;boundary=graphql;subscriptionSpec=1.0`): every result is a
 * part `{"payload": result}`, a `{}` part at once and every 5 s keeps proxies from closing the
 * connection, and a failure of the stream itself is a last `{"payload": null, "errors": […]}`.
 * Yoga serves multipart only for incremental delivery and answers a subscription that
 * asks for it with 406; this processor fills that gap. A client that also accepts
 * `text/event-stream` keeps getting server-sent events.
 */
export function useMultipartSubscriptions(): Plugin {
  return {
    onResultProcess({ request, result, resultProcessor, setResultProcessor }) {
      if (resultProcessor || !acceptsMultipart(request.headers.get('accept'))) return;
      if (isAsyncIterable(result)) {
        setResultProcessor((stream) => multipartResponse(stream as AsyncIterable<ExecutionResult>), 'multipart/mixed');
        return;
      }
      // Refused before it opened (429 past SUBSCRIPTIONS_PER_KEY, a bad argument): the refusal
      // as JSON with its status, which tells the client more than the 406 Yoga would answer.
      setResultProcessor(processRegularResult, 'application/json');
    },
  };
}

function acceptsMultipart(accept: string | null): boolean {
  return (accept ?? '').split(',').some((type) => type.split(';')[0]?.trim().toLowerCase() === 'multipart/mixed');
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof value === 'object' && value !== null && Symbol.asyncIterator in value;
}

function multipartResponse(results: AsyncIterable<ExecutionResult>): Response {
  const encoder = new TextEncoder();
  const part = (body: unknown) =>
    encoder.encode(
      `\r\n--${BOUNDARY}\r\ncontent-type: application/json; charset=utf-8\r\n\r\n${stringifyWithRawJson(body)}`,
    );
  const iterator = results[Symbol.asyncIterator]();
  let heartbeat: NodeJS.Timeout | undefined;
  const stop = () => clearInterval(heartbeat);
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      // A first heartbeat at once: the answer's headers go out with it, so the client (and the
      // request log) know the subscription is open before its first event or 5 s.
      controller.enqueue(part({}));
      heartbeat = setInterval(() => {
        // A timer must never throw: the stream may have closed between two beats.
        try {
          controller.enqueue(part({}));
        } catch {
          stop();
        }
      }, HEARTBEAT_MS);
    },
    async pull(controller) {
      try {
        const next = await iterator.next();
        if (!next.done) {
          controller.enqueue(part({ payload: clientResult(next.value) }));
          return;
        }
      } catch {
        // Errors a resolver means for the client arrive as results; this is the unexpected kind.
        controller.enqueue(
          part({
            payload: null,
            errors: [{ message: 'Unexpected error.', extensions: { code: 'INTERNAL_SERVER_ERROR' } }],
          }),
        );
      }
      stop();
      controller.enqueue(encoder.encode(`\r\n--${BOUNDARY}--\r\n`));
      controller.close();
    },
    async cancel() {
      stop();
      await iterator.return?.();
    },
  });
  return new Response(body, { status: 200, headers: { 'content-type': CONTENT_TYPE, 'cache-control': 'no-cache' } });
}

/** The result as a client sees it: without the `http` and `unexpected` hints Yoga keeps for itself. */
export function clientResult({ data, errors, extensions }: ExecutionResult) {
  const { http: _http, ...visible } = extensions ?? {};
  return {
    data,
    errors: errors?.map((error) => {
      const { http: _status, unexpected: _unexpected, ...rest } = error.toJSON().extensions ?? {};
      return { ...error.toJSON(), extensions: Object.keys(rest).length > 0 ? rest : undefined };
    }),
    extensions: Object.keys(visible).length > 0 ? visible : undefined,
  };
}
