import { randomUUID } from 'node:crypto';
import { type ExecutionArgs, type ExecutionResult, GraphQLError, getOperationAST } from 'graphql';
import type { Response as SSEResponse } from 'graphql-sse';
import { createHandler } from 'graphql-sse/lib/use/fetch';
import type { Plugin } from 'graphql-yoga';
import { clientResult } from './use-multipart-subscriptions.js';

const TOKEN_HEADER = 'x-graphql-event-stream-token';

export type GraphQLSSEOptions = {
  endpoint: string;
  /**
   * Who holds this API key (the app's key cache): null for no live key, 'busy' when too
   * many unknown keys are being looked up at once to look up one more.
   */
  authenticate: (apiKey: string) => Promise<{ keyId: string } | null | 'busy'>;
  /** Reservations a key may hold that no event stream has connected to yet. */
  pendingPerKey: number;
  /** A reservation nobody connects to within this time is dropped. */
  reservationTtlMs: number;
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
  const pending = new Map<string, { keyId: string; timer: NodeJS.Timeout }>();
  const pendingOf = (keyId: string) => [...pending.values()].filter((p) => p.keyId === keyId).length;
  let handler: ((request: Request) => Promise<Response>) | undefined;

  const refused = (error: unknown): ExecutionResult => ({
    data: null,
    errors: [error instanceof GraphQLError ? error : (options.maskError(error, 'Unexpected error.') as GraphQLError)],
  });

  /** graphql-sse frees a reservation only when its stream ends: connect to it and leave at once. */
  async function drop(token: string) {
    if (!pending.delete(token) || !handler) return;
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
            const apiKey = request.headers.get('x-api-key')?.trim();
            const key = apiKey ? await options.authenticate(apiKey) : null;
            if (key === 'busy') {
              return refuse(
                503,
                'SERVICE_UNAVAILABLE',
                'Too many requests with unrecognised API keys at once; try again shortly',
                { 'Retry-After': '1' },
              );
            }
            if (!key)
              return refuse(401, 'UNAUTHENTICATED', apiKey ? 'Invalid or revoked API key' : 'Missing X-API-Key header');
            if (pendingOf(key.keyId) >= options.pendingPerKey) {
              return refuse(
                429,
                'TOO_MANY_SUBSCRIPTIONS',
                'Too many event streams reserved and not connected; connect one first',
              );
            }
            const token = randomUUID();
            const timer = setTimeout(() => void drop(token), options.reservationTtlMs);
            timer.unref();
            pending.set(token, { keyId: key.keyId, timer });
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
          onNext: (_ctx, _req, result) => clientResult(result as ExecutionResult) as ExecutionResult,
        },
        yoga.fetchAPI,
      );
    },
    onRequest({ request, url, endResponse }) {
      if (url.pathname !== options.endpoint || !handler) return;
      const token = streamToken(request, url);
      if (request.method !== 'PUT' && request.method !== 'DELETE' && !token) return;
      // As useCSRFPrevention asks of the rest: a custom header, which a browser sends
      // cross-site only after a CORS preflight (as it does for any PUT or DELETE).
      // graphql-sse's client always sends one.
      if (request.method === 'POST' && !request.headers.has('x-api-key') && !request.headers.has(TOKEN_HEADER)) {
        return endResponse(json(403, { errors: [{ message: 'Required CSRF header(s) not present' }] }));
      }
      // The client connects to its reservation: it is no longer pending.
      if (token && request.headers.get('accept') === 'text/event-stream') {
        const reservation = pending.get(token);
        if (reservation) {
          clearTimeout(reservation.timer);
          pending.delete(token);
        }
      }
      return handler(request).then(endResponse, (error: unknown) =>
        endResponse(json(500, { errors: [refused(error).errors?.[0]] })),
      );
    },
  };
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
