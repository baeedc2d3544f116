import { randomUUID } from 'node:crypto';
import { type ExecutionArgs, type ExecutionResult, GraphQLError, getOperationAST } from 'graphql';
import type { Response as SSEResponse } from 'graphql-sse';
import { createHandler } from 'graphql-sse/lib/use/fetch';
import type { Plugin } from 'graphql-yoga';
import { createStandIns } from './raw-json.js';
import { clientResult } from './use-multipart-subscriptions.js';

const TOKEN_HEADER = 'x-graphql-event-stream-token';

/**
 * Who reserves and uses a stream: `keyId` owns it (an API key, or a dashboard session), and
 * `budgetKeyId` (the key that made the session; the key itself if absent) is whose share of
 * reservations and streams it takes.
 */
export type StreamCaller = { keyId: string; budgetKeyId?: string };

export type GraphQLSSEOptions = {
  endpoint: string;
  /**
   * Who holds this API key (the app's key cache): null for no live key, 'busy' when too
   * many unknown keys are being looked up at once to look up one more.
   */
  authenticate: (apiKey: string) => Promise<StreamCaller | null | 'busy'>;
  /**
   * For a request without X-API-Key: its dashboard session's bucket (sessions/caller.ts),
   * null when its session credentials do not hold, undefined when it carries none.
   */
  authenticateSession?: (request: Request) => Promise<StreamCaller | null | 'busy' | undefined>;
  /** Reservations a key may hold that no event stream has connected to yet. */
  pendingPerKey: number;
  /** A reservation nobody connects to within this time is dropped. */
  reservationTtlMs: number;
  /**
   * A connected stream of `ownerId` counts as one of the API key `keyId`'s live streams (the
   * app's LiveStreams): null when the key has no room for another; the stream's signal
   * aborts when its owner is revoked or signed out, and then the stream ends.
   */
  openStream: (ownerId: string, keyId: string) => Promise<{ signal: AbortSignal; close: () => void } | null>;
  /** Bytes of results a stream may hold that its reader has not taken; past that the stream is closed. */
  maxUnreadBytes: number;
  /** How an unexpected error reaches the client (the app's masking). */
  maskError: (error: unknown, message: string) => Error;
};

/**
 * graphql-sse's single-connection mode, on the GraphQL endpoint itself: `PUT` reserves an
 * event stream and answers its token, the stream is opened with the token
 * (`X-GraphQL-Event-Stream-Token` header or `?token=`), operations are `POST`ed with the
 * token and stream their results into it, and `DELETE ?operationId=` stops one.
 * Requests without a token are left to Yoga, which already speaks the default
 * distinct-connections mode (`Accept: text/event-stream`).
 *
 * Every operation goes through Yoga's plugins (API key, rate and subscription limits), as
 * over any other transport. A reservation costs memory before any operation runs, so it
 * needs a live API key (resolved by the app's key cache, like every other request), a key holds at most `pendingPerKey` unconnected reservations, and
 * one left unconnected is dropped after `reservationTtlMs`.
 *
 * This is @graphql-yoga/plugin-graphql-sse with one fix: that plugin hands graphql-sse a
 * refused operation's `{ errors }` (bad key, invalid document, TOO_MANY_SUBSCRIPTIONS),
 * which graphql-sse takes for execution arguments: it answers 400 "Unable to detect
 * operation AST", and the client drops its whole stream and reconnects.
 */
export function useGraphQLSSESingleConnection(options: GraphQLSSEOptions): Plugin {
  const pending = new Map<string, { budgetKeyId: string; timer: NodeJS.Timeout }>();
  // Reservations per API key, its sessions' counted with its own.
  const pendingOf = (budgetKeyId: string) => [...pending.values()].filter((p) => p.budgetKeyId === budgetKeyId).length;
  // Every token belongs to the key that reserved it, for as long as it lives: only that
  // key may connect to it, post into it or stop its operations.
  const owners = new Map<string, string>();
  // Results produced into each connected stream, and what its reader has taken.
  const streams = new Map<
    string,
    { produced: number; taken: number; end: () => void; standIns: ReturnType<typeof createStandIns> }
  >();
  let handler: ((request: Request) => Promise<Response>) | undefined;

  /** The request's key (or session), 'busy', or why it has none. */
  const callerOf = async (request: Request): Promise<StreamCaller | 'busy' | { refused: string }> => {
    const apiKey = request.headers.get('x-api-key')?.trim();
    if (apiKey) return (await options.authenticate(apiKey)) ?? { refused: 'Invalid or revoked API key' };
    const session = await options.authenticateSession?.(request);
    if (session === undefined) return { refused: 'Missing X-API-Key header' };
    return session ?? { refused: 'Invalid, ended or expired dashboard session' };
  };

  const refused = (error: unknown): ExecutionResult => ({
    data: null,
    errors: [error instanceof GraphQLError ? error : (options.maskError(error, 'Unexpected error.') as GraphQLError)],
  });

  /** An unconnected reservation, dropped: forgotten here, and released in graphql-sse. */
  async function drop(token: string) {
    if (!pending.delete(token)) return;
    owners.delete(token);
    await release(token);
  }

  /** graphql-sse frees a reservation only when its stream ends: connect to it and leave at once. */
  async function release(token: string) {
    if (!handler) return;
    const url = `http://localhost${options.endpoint}`;
    const response = await handler(
      new Request(url, { headers: { accept: 'text/event-stream', [TOKEN_HEADER]: token } }),
    );
    await response.body?.cancel();
  }

  return {
    onYogaInit({ yoga }) {
      handler = createHandler(
        {
          async authenticate({ raw: request }) {
            if (request.method !== 'PUT') return streamToken(request) ?? '';
            const key = await callerOf(request);
            if (key === 'busy') {
              return refuse(
                503,
                'SERVICE_UNAVAILABLE',
                'Too many requests with unrecognised API keys at once; try again shortly',
                { 'Retry-After': '1' },
              );
            }
            if ('refused' in key) return refuse(401, 'UNAUTHENTICATED', key.refused);
            const budgetKeyId = key.budgetKeyId ?? key.keyId;
            if (pendingOf(budgetKeyId) >= options.pendingPerKey) {
              return refuse(
                429,
                'TOO_MANY_SUBSCRIPTIONS',
                'Too many event streams reserved and not connected; connect one first',
              );
            }
            const token = randomUUID();
            const timer = setTimeout(() => void drop(token), options.reservationTtlMs);
            timer.unref();
            pending.set(token, { budgetKeyId, timer });
            owners.set(token, key.keyId);
            return token;
          },
          async onSubscribe({ raw: request }, params) {
            // The same envelop as a plain POST: every plugin of the app sees the operation.
            const enveloped = yoga.getEnveloped({ request, params });
            try {
              const document = enveloped.parse(params.query);
              const errors = enveloped.validate(enveloped.schema, document);
              if (errors.length > 0) return { data: null, errors };
              const args: ExecutionArgs = {
                schema: enveloped.schema,
                document,
                contextValue: await enveloped.contextFactory(),
                variableValues: params.variables,
                operationName: params.operationName,
              };
              const subscription = getOperationAST(document, params.operationName)?.operation === 'subscription';
              const result = await (subscription ? enveloped.subscribe(args) : enveloped.execute(args));
              if (Symbol.asyncIterator in result) return endingWith(result, refused);
              return 'data' in result ? result : { data: null, ...result };
            } catch (error) {
              return refused(error);
            }
          },
          // What Yoga strips before answering (extensions.http and the like) stays here too.
          // Each result is weighed as it enters its stream: a reader that leaves more than
          // maxUnreadBytes untaken is dropped, rather than the stream buffering for it.
          onNext: (_ctx, request, result) => {
            const answer = clientResult(result as ExecutionResult) as ExecutionResult;
            const stream = streams.get(streamToken(request.raw) ?? '');
            if (!stream) return answer;
            // Written once, here, event data as stored (never parsed), and weighed in bytes as
            // the reader's side counts what it took.
            const { bytes, standIn } = stream.standIns.hold(answer);
            stream.produced += bytes.byteLength;
            if (stream.produced - stream.taken > options.maxUnreadBytes) stream.end();
            return standIn as ExecutionResult;
          },
        },
        yoga.fetchAPI,
      );
    },
    async onRequest({ request, url, endResponse }) {
      if (url.pathname !== options.endpoint || !handler) return;
      const token = streamToken(request, url);
      if (request.method !== 'PUT' && request.method !== 'DELETE' && !token) return;
      if (request.method === 'PUT') return endResponse(await handle(handler, request));
      // Everything else names a stream: only the key that reserved it may use it. A token
      // of another key reads as one that does not exist.
      const key = await callerOf(request);
      if (key === 'busy') return endResponse(json(503, { errors: [{ message: 'Try again shortly' }] }));
      if ('refused' in key) {
        return endResponse(json(401, { errors: [{ message: key.refused, extensions: { code: 'UNAUTHENTICATED' } }] }));
      }
      if (!token || owners.get(token) !== key.keyId) {
        return endResponse(
          json(404, { errors: [{ message: 'No such event stream', extensions: { code: 'NOT_FOUND' } }] }),
        );
      }
      const wantsStream = request.headers.get('accept')?.includes('text/event-stream') ?? false;
      if (request.method === 'GET' && wantsStream) {
        return endResponse(await connect(handler, request, token, key));
      }
      // graphql-sse would open the stream for any method asking for an event stream: only the
      // GET above opens one, counted among the key's streams and bounded in what it holds unread.
      if (wantsStream) {
        return endResponse(
          json(405, {
            errors: [{ message: 'Open an event stream with GET', extensions: { code: 'METHOD_NOT_ALLOWED' } }],
          }),
        );
      }
      // Operations go into a connected stream: one posted before would run with nobody reading
      // (and keep running should the connection be refused), outside the stream's bounds.
      if (pending.has(token)) {
        return endResponse(
          json(409, {
            errors: [
              {
                message:
                  'Connect to the event stream (GET, Accept: text/event-stream) before sending operations into it',
                extensions: { code: 'STREAM_NOT_CONNECTED' },
              },
            ],
          }),
        );
      }
      return endResponse(await handle(handler, request));
    },
  };

  async function handle(handler: (request: Request) => Promise<Response>, request: Request): Promise<Response> {
    return handler(request).catch((error: unknown) => {
      const answer = refused(error).errors?.[0];
      // The status the error carries (the database away: 503 with Retry-After), as Yoga
      // answers it on every other path; anything else is ours: 500.
      const { http: given, ...extensions } = answer?.extensions ?? {};
      const http = given as { status?: number; headers?: Record<string, string> } | undefined;
      const response = json(http?.status ?? 500, { errors: [{ message: answer?.message, extensions }] });
      for (const [name, value] of Object.entries(http?.headers ?? {})) response.headers.set(name, value);
      return response;
    });
  }

  /**
   * The client connects to its reservation: no longer pending, now one of its key's live
   * streams, ended when the key is revoked, when the client leaves, or when its reader
   * falls more than maxUnreadBytes behind.
   */
  async function connect(
    handler: (request: Request) => Promise<Response>,
    request: Request,
    token: string,
    caller: StreamCaller,
  ): Promise<Response> {
    const reservation = pending.get(token);
    // Connected already: a second GET would have replaced the open stream's bookkeeping,
    // leaving it running with no bound on what it holds unread.
    if (!reservation) {
      return json(409, {
        errors: [{ message: 'This event stream is already open', extensions: { code: 'STREAM_ALREADY_OPEN' } }],
      });
    }
    clearTimeout(reservation.timer);
    pending.delete(token);
    const live = await options.openStream(caller.keyId, caller.budgetKeyId ?? caller.keyId);
    if (!live) {
      owners.delete(token);
      await release(token);
      return json(429, {
        errors: [
          {
            message: 'Too many subscriptions open for this API key; close one first',
            extensions: { code: 'TOO_MANY_SUBSCRIPTIONS' },
          },
        ],
      });
    }
    // graphql-sse takes only `Accept: text/event-stream` as it is; `text/event-stream;
    // charset=utf-8` or a list asks for the same stream.
    const asked =
      request.headers.get('accept') === 'text/event-stream'
        ? request
        : new Request(request.url, {
            headers: { ...Object.fromEntries(request.headers), accept: 'text/event-stream' },
          });
    const response = await handle(handler, asked);
    if (!response.ok || !response.body) {
      // Not connected (graphql-sse refused it: e.g. an Accept it does not take as is): the
      // reservation is spent, here and there.
      live.close();
      owners.delete(token);
      await release(token);
      return response;
    }
    const reader = response.body.getReader();
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      streams.delete(token);
      owners.delete(token);
      live.close();
      live.signal.removeEventListener('abort', revoked);
      void reader.cancel().catch(() => {});
    };
    const stream = { produced: 0, taken: 0, end, standIns: createStandIns() };
    streams.set(token, stream);
    // A revoked key: its operations end themselves with a last UNAUTHENTICATED result, which
    // has a moment to reach the client before the connection goes too.
    const revoked = () => setTimeout(end, 1_000).unref();
    live.signal.addEventListener('abort', revoked, { once: true });
    request.signal.addEventListener('abort', end, { once: true });
    // Pulled only as fast as the socket takes it: what the reader has not taken stays counted.
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        const chunk = ended
          ? { done: true as const, value: undefined }
          : await reader.read().catch(() => ({ done: true as const, value: undefined }));
        if (chunk.done || ended) {
          end();
          controller.close();
          return;
        }
        const message = stream.standIns.restore(chunk.value);
        stream.taken += message.byteLength;
        controller.enqueue(message);
      },
      cancel: end,
    });
    return new Response(body, { status: response.status, headers: response.headers });
  }
}

/**
 * A stream that fails (its key revoked, say) ends with one last result carrying the
 * error, as Yoga does for its own transports; graphql-sse would instead error the whole
 * shared connection, every other operation on it included. Not a generator: `return()`
 * must reach the subscription at once (see `stoppable`).
 */
function endingWith(
  results: AsyncGenerator<ExecutionResult>,
  toResult: (error: unknown) => ExecutionResult,
): AsyncGenerator<ExecutionResult> {
  let ended = false;
  const outer: AsyncGenerator<ExecutionResult> = {
    async next() {
      if (ended) return { done: true, value: undefined };
      try {
        return await results.next();
      } catch (error) {
        ended = true;
        return { done: false, value: toResult(error) };
      }
    },
    return: (value) => results.return(value),
    throw: (error) => results.throw(error),
    [Symbol.asyncIterator]: () => outer,
  };
  return outer;
}

function streamToken(request: Request, url = new URL(request.url)): string | null {
  return request.headers.get(TOKEN_HEADER) || url.searchParams.get('token');
}

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json; charset=utf-8' } });
}

/** An answer in graphql-sse's own form: body and init. */
function refuse(status: number, code: string, message: string, headers: Record<string, string> = {}): SSEResponse {
  return [
    JSON.stringify({ errors: [{ message, extensions: { code } }] }),
    { status, statusText: code, headers: { 'content-type': 'application/json; charset=utf-8', ...headers } },
  ];
}
