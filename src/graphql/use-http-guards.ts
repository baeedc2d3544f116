import { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';

/** A GraphQL error answered before any GraphQL runs: one error with its code, as JSON. */
export function refuse(status: number, code: string, message: string, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify({ errors: [{ message, extensions: { code } }] }), {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
  });
}

/**
 * Request bodies must declare their size, and stay under `maxBytes`: the body is read
 * into memory to parse it, so an unbounded or chunked body could exhaust the process.
 * A POST always has a body; the other methods that may carry one (graphql-sse's `PUT`
 * reservation and `DELETE`, which need none) are held to the same rules when they do.
 */
export function useBodyLimit(maxBytes: number): Plugin {
  return {
    onRequest({ request, endResponse }) {
      if (request.method === 'GET' || request.method === 'HEAD' || request.method === 'OPTIONS') return;
      const length = request.headers.get('content-length');
      const chunked = request.headers.has('transfer-encoding');
      if (request.method !== 'POST' && length === null && !chunked) return;
      if (length === null) {
        endResponse(refuse(411, 'LENGTH_REQUIRED', 'Send the request body with a Content-Length header'));
      } else if (!/^\d{1,10}$/.test(length) || Number(length) > maxBytes) {
        endResponse(refuse(413, 'PAYLOAD_TOO_LARGE', `Request bodies may be at most ${maxBytes} bytes`));
      }
    },
  };
}

/**
 * GraphQL is served at exactly `endpoint`. Yoga would also serve it at any URL ending in
 * it (`/graphql/`, `/x/graphql`, even `/x?y=/graphql`), which the door in front (it counts
 * requests to the endpoint, sessions/use-request-rate.ts) would let by uncounted. Last among
 * the plugins: whatever the others serve (/health, /ready, /metrics, /dashboard) is answered
 * before this.
 */
export function useExactEndpoint(endpoint: string): Plugin {
  return {
    onRequest({ url, endResponse }) {
      if (url.pathname !== endpoint) {
        endResponse(refuse(404, 'NOT_FOUND', `Nothing is served here: the GraphQL endpoint is ${endpoint}`));
      }
    },
  };
}

const JSON_PARAMS = ['variables', 'extensions'] as const;

/**
 * A request Yoga's parsers cannot read answers 400, never INTERNAL. `variables` and
 * `extensions` in a query string or a form body that are not JSON are named (that parser
 * calls JSON.parse unguarded); a multipart body without a boundary, cut short, or whose
 * `map` or `operations` are of the wrong shape is refused as a whole (that parser throws
 * plain errors, stacks and all). A JSON body's own syntax errors Yoga answers 400 itself.
 */
export const useRequestParseErrors: Plugin = {
  onRequestParse({ url, requestParser, setRequestParser }) {
    if (!requestParser) return;
    setRequestParser(async (request) => {
      try {
        return await requestParser(request);
      } catch (error) {
        if (error instanceof GraphQLError) throw error;
        if (!(error instanceof SyntaxError)) {
          throw new GraphQLError('The request body could not be read as a GraphQL request', {
            extensions: { code: 'BAD_REQUEST', http: { status: 400 } },
          });
        }
        // In the query string each can be named; a form body was read by the parser already.
        const named = JSON_PARAMS.filter((name) => !isJson(url.searchParams.get(name)));
        const fields = named.length > 0 ? named : JSON_PARAMS;
        throw new GraphQLError(`${fields.map((name) => `\`${name}\``).join(' and ')} must be JSON`, {
          extensions: { code: 'BAD_REQUEST', fields, http: { status: 400 } },
        });
      }
    });
  },
};

function isJson(text: string | null): boolean {
  if (!text) return true;
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}
