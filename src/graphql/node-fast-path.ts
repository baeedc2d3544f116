import type { IncomingMessage, ServerResponse } from 'node:http';
import { handleErrorFromRequestHandler, normalizeNodeRequest, sendNodeResponse } from '@whatwg-node/server';
import type { Plugin } from 'graphql-yoga';

export type NodeListener = (req: IncomingMessage, res: ServerResponse) => void;

type Hook = (payload: never) => unknown;
type ResultProcessor = (result: unknown, fetchAPI: unknown, mediaType: string) => Response | Promise<Response>;

/** The parts of Yoga's server object used here (the adapter hides it; `onYogaInit` hands it over). */
type YogaServer = {
  handle(request: Request, serverContext: object): Response | Promise<Response>;
  getResultForParams(payload: { params: GraphQLParams; request: Request }, context: object): unknown;
  onRequestParseHooks: Hook[];
  onResultProcessHooks: Hook[];
  instrumentation?: unknown;
  fetchAPI: { Response: typeof Response };
  plugins: ({ onRequest?: Hook; onResponse?: Hook } | undefined)[];
};

type GraphQLParams = { query: string; variables?: Record<string, unknown>; operationName?: string };

/**
 * The API's node:http listener. The common request, a JSON `POST /graphql` carrying one
 * operation, skips the parts of Yoga's request path that cost CPU without deciding
 * anything for it (about a quarter of the framework's time per request): reading the body
 * as a stream of the fetch API and Yoga's request parsers. Everything that decides or
 * shapes an answer still runs, and is Yoga's own: every plugin's onRequest,
 * onRequestParse, onParams, onResultProcess and onResponse hooks, in Yoga's order and
 * with the same request object (`normalizeNodeRequest`, whose signal aborts when the
 * client leaves), the same envelop (auth, limits, caches, masking), Yoga's result
 * processors (status codes, content type by Accept) and its response writer.
 *
 * Anything else, and anything unusual about this one (a body that is not a JSON object
 * of `query`, `variables` and `operationName`; `extensions`, so persisted queries; an
 * event-stream token; chunked bodies; a hook that answers or refuses early), is served by
 * Yoga's adapter as before. With instrumentation (tracing) the fast path is off: Yoga
 * wraps its steps in spans that this path would not open.
 */
export function createNodeFastPath(options: { endpoint: string; maxBodyBytes: number }) {
  let server: YogaServer | undefined;
  const plugin: Plugin = {
    onYogaInit({ yoga }) {
      server = yoga as unknown as YogaServer;
    },
  };

  function listener(yoga: { waitUntil: (promise: Promise<void> | void) => void }): NodeListener {
    const viaYoga = yoga as unknown as NodeListener;
    if (!server || server.instrumentation) return (req, res) => viaYoga(req, res);
    const yogaServer = server;
    const { fetchAPI, getResultForParams, onRequestParseHooks, onResultProcessHooks } = yogaServer;
    const onRequestHooks = yogaServer.plugins.flatMap((p) => (p?.onRequest ? [p.onRequest] : []));
    const onResponseHooks = yogaServer.plugins.flatMap((p) => (p?.onResponse ? [p.onResponse] : []));
    const serverContextOf = (req: IncomingMessage, res: ServerResponse) => ({ req, res, waitUntil: yoga.waitUntil });

    /** As the adapter's handleRequest, with Yoga's handle shortened for a request known to be common. */
    async function respond(req: IncomingMessage, res: ServerResponse, params: GraphQLParams): Promise<Response> {
      let request = normalizeNodeRequest(req, fetchAPI as never, res, true) as Request;
      const serverContext = serverContextOf(req, res);
      let response: Response | undefined;
      let handler: (r: Request) => Response | Promise<Response> = (r) => handleCommon(r, serverContext, params);
      const url = (request as unknown as { parsedUrl: URL }).parsedUrl;
      for (const hook of onRequestHooks) {
        let ended = false;
        const returned = hook({
          request,
          setRequest(newRequest: Request) {
            request = newRequest;
          },
          serverContext,
          fetchAPI,
          url,
          requestHandler: yogaServer.handle,
          setRequestHandler(newHandler: YogaServer['handle']) {
            handler = (r) => newHandler(r, serverContext);
          },
          endResponse(newResponse: Response) {
            response = newResponse;
            ended = Boolean(newResponse);
          },
        } as never);
        if (returned) await returned;
        if (ended) break;
      }
      response ??= await handler(request);
      for (const hook of onResponseHooks) {
        const returned = hook({
          request,
          response,
          serverContext,
          setResponse(newResponse: Response) {
            response = newResponse;
          },
          fetchAPI,
        } as never);
        if (returned) await returned;
      }
      return response;
    }

    /** Yoga's handle, minus reading and parsing the body again; any surprise goes to Yoga's own. */
    async function handleCommon(request: Request, serverContext: object, params: GraphQLParams): Promise<Response> {
      let surprise = false;
      for (const hook of onRequestParseHooks) {
        try {
          const returned = (await hook({
            request,
            url: (request as unknown as { parsedUrl: URL }).parsedUrl,
            requestParser: undefined,
            serverContext,
            setRequestParser() {},
            endResponse() {
              surprise = true;
            },
            fetchAPI,
          } as never)) as { onRequestParseDone?: Hook } | undefined;
          if (returned?.onRequestParseDone) {
            await returned.onRequestParseDone({ requestParserResult: params, setRequestParserResult() {} } as never);
          }
        } catch {
          surprise = true;
        }
        if (surprise) return yogaServer.handle(request, serverContext);
      }
      let result: unknown;
      try {
        result = await getResultForParams({ params, request }, serverContext);
      } catch {
        // Only an onParams hook can throw here (execution's errors are results): before anything ran.
        return yogaServer.handle(request, serverContext);
      }
      let processor: ResultProcessor | undefined;
      let mediaType = '*/*';
      const acceptableMediaTypes: string[] = [];
      for (const hook of onResultProcessHooks) {
        await hook({
          request,
          acceptableMediaTypes,
          result,
          setResult(newResult: unknown) {
            result = newResult;
          },
          resultProcessor: processor,
          setResultProcessor(newProcessor: ResultProcessor, newMediaType: string) {
            processor = newProcessor;
            mediaType = newMediaType;
          },
          serverContext,
        } as never);
      }
      if (!processor) {
        return new fetchAPI.Response(null, {
          status: 406,
          statusText: 'Not Acceptable',
          headers: { accept: acceptableMediaTypes.join('; charset=utf-8, ') },
        });
      }
      return processor(result, fetchAPI, mediaType);
    }

    return (req, res) => {
      if (!isCommon(req, options)) return viaYoga(req, res);
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const body = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
        // Yoga reads a body already taken from the stream from `req.body`.
        (req as { body?: Buffer }).body = body;
        const params = commonParams(body);
        if (!params) return viaYoga(req, res);
        // The adapter's own handling of what escapes, and its writer.
        respond(req, res, params)
          .catch((error: unknown) => handleErrorFromRequestHandler(error, fetchAPI.Response as never) as Response)
          .then((response) => sendNodeResponse(response as never, res, req, true))
          .catch((error: Error) => console.error(`Unexpected error while handling request: ${error.message || error}`));
      });
    };
  }
  return { plugin, listener };
}

/**
 * Decided on the headers alone: a POST to the endpoint itself with a JSON body whose
 * declared size the body limit (use-http-guards.ts) accepts, not part of a graphql-sse
 * stream. What fails here is Yoga's to answer, refusals included.
 */
function isCommon(req: IncomingMessage, options: { endpoint: string; maxBodyBytes: number }): boolean {
  const { headers } = req;
  const length = headers['content-length'];
  const type = headers['content-type'];
  return (
    req.method === 'POST' &&
    req.url === options.endpoint &&
    length !== undefined &&
    /^\d{1,10}$/.test(length) &&
    Number(length) > 0 &&
    Number(length) <= options.maxBodyBytes &&
    headers['transfer-encoding'] === undefined &&
    headers['x-graphql-event-stream-token'] === undefined &&
    (type === 'application/json' || type?.startsWith('application/json;') === true)
  );
}

/** The body as parameters when it is the plain kind; otherwise undefined (Yoga answers it). */
function commonParams(body: Buffer): GraphQLParams | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf-8'));
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
  const { query, variables, operationName, ...rest } = parsed as Record<string, unknown>;
  if (typeof query !== 'string') return undefined;
  if (variables != null && (typeof variables !== 'object' || Array.isArray(variables))) return undefined;
  if (operationName != null && typeof operationName !== 'string') return undefined;
  for (const key in rest) if (rest[key] != null) return undefined;
  return parsed as GraphQLParams;
}
