import type { IncomingMessage } from 'node:http';
import { EnvelopArmorPlugin } from '@escape.tech/graphql-armor';
import { useCSRFPrevention } from '@graphql-yoga/plugin-csrf-prevention';
import { GraphQLError, type ValidationContext } from 'graphql';
import { createYoga, maskError } from 'graphql-yoga';
import { createCrowding } from './auth/crowding.js';
import { type ApiKeyCache, createApiKeyCache } from './auth/key-cache.js';
import { useKeyConcurrency } from './auth/use-key-concurrency.js';
import { createMutationRate, createReadRate, useReadRateLimit } from './auth/use-rate-limit.js';
import type { Config } from './config.js';
import { useDashboard } from './dashboard/serve.js';
import { createListener, type Listener } from './db/listener.js';
import { isFullyMigrated } from './db/migrate.js';
import type { Pool } from './db/sql.js';
import { MAX_EVENTS_PER_BATCH } from './events/schema.js';
import type { RequestContext } from './graphql/builder.js';
import { databaseUnavailable, serviceUnavailable } from './graphql/errors.js';
import { useRawJsonAnswers } from './graphql/raw-json.js';
import { createReadBudget } from './graphql/read-budget.js';
import { readLimits } from './graphql/request-state.js';
import { useDocumentNesting } from './graphql/use-document-nesting.js';
import { useGraphiQLPage } from './graphql/use-graphiql-page.js';
import { useGraphQLSSESingleConnection } from './graphql/use-graphql-sse.js';
import { useBodyLimit, useExactEndpoint, useRequestParseErrors } from './graphql/use-http-guards.js';
import { useInputErrors } from './graphql/use-input-errors.js';
import { useMetrics } from './graphql/use-metrics.js';
import { useMultipartSubscriptions } from './graphql/use-multipart-subscriptions.js';
import { requestTimeout, useOperationLimits } from './graphql/use-operation-limits.js';
import { usePersistedQueries } from './graphql/use-persisted-queries.js';
import { useReadinessCheck } from './graphql/use-readiness-check.js';
import { useRequestLog } from './graphql/use-request-log.js';
import type { Logger } from './lib/logger.js';
import { LookupsBusy } from './lib/lookup-lane.js';
import { watchLoopCongestion } from './lib/loop-delay.js';
import { createMetrics, type Metrics } from './lib/metrics.js';
import { withParsableUrl } from './lib/request-path.js';
import { createDeliveryFeed } from './live/delivery-feed.js';
import { createLiveStreams } from './live/streams.js';
import { schema } from './schema.js';
import { type CallerResolver, createCallerResolver, sessionCredentials } from './sessions/caller.js';
import { createSessionCache } from './sessions/session-cache.js';
import { useCallerAuth } from './sessions/use-caller-auth.js';
import { createRequestDoor } from './sessions/use-request-rate.js';
import { useSessionEndpoints } from './sessions/use-session-endpoints.js';
import type { Tracing } from './telemetry/tracing.js';

export type AppOptions = {
  sql: Pool;
  config: Config;
  secretKey: Buffer;
  log: Logger;
  metrics?: Metrics;
  /** Pre-filled in GraphiQL's headers in development, so the first query just works. */
  devApiKey?: string;
  /** Spans per operation and publish; without it nothing of OpenTelemetry runs. */
  tracing?: Tracing;
  /** Where API keys are resolved; by default a cache of this process (auth/key-cache.ts). */
  apiKeys?: ApiKeyCache;
  /**
   * The process's listening session (db/listener.ts, on DATABASE_DIRECT_URL), shared by
   * the key cache, stream revocation and the live feed; by default one of the app's own.
   */
  listener?: Listener;
  /** The built dashboard (index.html, assets/); by default the package's dist/dashboard. */
  dashboardDirectory?: string;
};

/** Builds the HTTP handler; listening is the caller's business (main.ts, or `yoga.fetch` in tests). */
export function createApp({
  sql,
  config,
  secretKey,
  log,
  devApiKey,
  tracing,
  metrics = createMetrics(),
  listener,
  apiKeys,
  dashboardDirectory,
}: AppOptions) {
  const ownListener = listener ? undefined : createListener(sql, { log });
  const listening = listener ?? (ownListener as Listener);
  apiKeys ??= createApiKeyCache(sql, { log, listener: listening });
  const sessions = createSessionCache(sql, { listener: listening, log });
  const resolveCaller = createCallerResolver(apiKeys, sessions, secretKey);
  const deliveryFeed = createDeliveryFeed(sql, { listener: listening, log });
  const liveStreams = createLiveStreams(sql, { perKey: config.subscriptionsPerKey, listener: listening });
  // Crowded: the event loop congested while other keys are served too. Then each key's
  // turns at the door are shared (auth/key-turns.ts) and its heavy rates (bytes read,
  // events published, deliveries fanned out) shrink to a share (auth/use-rate-limit.ts).
  const loop = watchLoopCongestion();
  const crowding = createCrowding(loop.congested);
  const mutationRate = createMutationRate(config.rateLimit, config.publishRateLimit, config.fanOutRateLimit, {
    when: crowding.crowded,
    atLeast: MAX_EVENTS_PER_BATCH,
  });
  const readRate = createReadRate(
    { bytesPerSecond: config.readRateLimitBytesPerSecond, burstBytes: config.maxResponseBytes },
    { when: crowding.crowded },
  );
  // Counted at the door, before a Request is even built: a client resending refusals in a
  // loop, or a flood of made-up keys, gets a cheap 429 rather than a trip through GraphQL.
  const door = createRequestDoor(
    {
      perKey: config.requestRateLimit,
      perAddress: config.addressRateLimit,
      turns: config.requestTurns,
      crowding,
      endpoint: '/graphql',
    },
    apiKeys,
    metrics.requestsWaitingTurn,
  );
  const yoga = createYoga<{ req?: IncomingMessage }, RequestContext>({
    schema,
    graphqlEndpoint: '/graphql',
    landingPage: false,
    // Any origin may call the API with a key, but never with the browser's credentials: a
    // dashboard session's cookie works only from our own pages (sessions/caller.ts).
    cors: { credentials: false },
    logging: {
      // Yoga logs at debug several times per request: build nothing unless it is on.
      debug: (...args) => log.isLevelEnabled('debug') && log.debug(args.map(String).join(' ')),
      info: (...args) => log.info(args.map(String).join(' ')),
      warn: (...args) => log.warn(args.map(String).join(' ')),
      // Yoga reports unexpected resolver errors here; they are masked for the client.
      error: (error: unknown, ...rest) => log.error({ err: error, detail: rest.map(String) }, 'request failed'),
    },
    context: ({ request }): RequestContext => ({
      request,
      sql,
      config,
      secretKey,
      log,
      deliveryFeed,
      liveStreams,
      readRate,
      mutationRate,
      apiKeys,
      budget: createReadBudget(readLimits(config)),
      tracing,
    }),
    // Ours (graphql/use-graphiql-page.ts): the page rendered once and shared by every answer.
    graphiql: false,
    // isDev would attach stacks to masked errors; none may leave the server.
    maskedErrors: { maskError: maskUnexpected(config), isDev: false },
    // Mutations are never served over GET, and operations are single: no batching.
    batching: false,
    plugins: [
      // First, so that the operation's span holds everything the others do.
      ...(tracing ? [tracing.plugin] : []),
      useRequestLog(log),
      useMetrics(metrics),
      // The dashboard page at /dashboard: static files, answered before anything GraphQL.
      useDashboard({ directory: dashboardDirectory, frameAncestors: config.dashboardFrameAncestors }),
      useGraphiQLPage('/graphql', (req) => ({
        title: 'Conversation webhooks',
        initialQuery: SAMPLE_OPERATION,
        // The development key goes only to a browser on this machine, never to whoever reaches the port.
        headers: JSON.stringify(
          { 'X-API-Key': devApiKey && !config.production && isLoopback(req) ? devApiKey : '<your API key>' },
          null,
          2,
        ),
      })),
      // The door (in front, in `listener`) charges a key's refusals once they are known.
      door.plugin,
      useBodyLimit(MAX_BODY_BYTES),
      // The dashboard's sign-in and sign-out (POST, GET, DELETE /dashboard/session).
      useSessionEndpoints({ sql, config, secretKey, keys: apiKeys, sessions, log }),
      // graphql-sse's single-connection mode (PUT, then a stream and POSTs carrying its token);
      // the default mode and plain SSE are Yoga's own. Each operation still meets every plugin below.
      useGraphQLSSESingleConnection({
        endpoint: '/graphql',
        authenticate: (apiKey) =>
          apiKeys.authenticate(apiKey).catch((error: unknown) => {
            if (error instanceof LookupsBusy) return 'busy' as const;
            throw error;
          }),
        authenticateSession: (request) => sessionBucket(resolveCaller, request),
        pendingPerKey: config.subscriptionsPerKey,
        reservationTtlMs: 30_000,
        openStream: async (ownerId, keyId) => (liveStreams.hasRoom(keyId) ? liveStreams.open(ownerId, keyId) : null),
        maxUnreadBytes: config.maxResponseBytes,
        maskError: maskUnexpected(config),
      }),
      usePersistedQueries({ maxEntries: 1000, maxChars: 4 * 1024 * 1024 }, async (request) => {
        const apiKey = request.headers.get('x-api-key')?.trim();
        if (!apiKey) {
          const session = await sessionBucket(resolveCaller, request).catch(() => null);
          return session && session !== 'busy' ? session.keyId : null;
        }
        const known = apiKeys.cached(apiKey);
        const key = known !== undefined ? known : await apiKeys.authenticate(apiKey).catch(() => null);
        return key?.keyId ?? null;
      }),
      useMultipartSubscriptions(),
      // Answers splice stored JSON (events' data) in as it is, instead of parsing it to send it.
      useRawJsonAnswers(),
      // A browser can only send a cross-site request without a CORS preflight when it is
      // "simple" (form or text/plain body, no custom headers): refuse those. JSON bodies
      // and X-API-Key both force a preflight, so ordinary clients and GraphiQL pass.
      // A dashboard session's credentials count the same way: Authorization, or the cookie's X-CSRF-Token.
      // A request Yoga's parsers cannot read (GET or form `variables` not JSON, a broken multipart body): 400.
      useRequestParseErrors,
      useCSRFPrevention({
        requestHeaders: ['x-api-key', 'authorization', 'x-csrf-token', 'x-graphql-yoga-csrf', 'graphql-preflight'],
      }),
      // Before the parser: graphql-js recurses into nested lists and objects.
      useDocumentNesting(MAX_DOCUMENT_NESTING),
      EnvelopArmorPlugin({
        maxTokens: { n: 2000 },
        maxDepth: { n: 12, ignoreIntrospection: true, ...asValidationError },
        maxAliases: { n: 20, ...asValidationError },
        maxDirectives: { n: 20, ...asValidationError },
        // The cost of an operation, which must count page sizes, is Pothos's (graphql/builder.ts).
        costLimit: { enabled: false },
        // The schema is public (introspection is open), so "did you mean" hints give nothing away.
        blockFieldSuggestion: { enabled: false },
      }),
      useCallerAuth(apiKeys, resolveCaller, async () => {
        await apiKeys.close();
        await sessions.close();
      }),
      useKeyConcurrency(config.operationsPerKey, {
        running: metrics.operationsRunning,
        waiting: metrics.operationsWaiting,
      }),
      useReadRateLimit(readRate),
      useInputErrors(),
      useOperationLimits({ timeoutMs: config.requestTimeoutMs }),
      useReadinessCheck({ endpoint: '/ready', check: () => isFullyMigrated(sql) }),
      // Last of those that answer requests: GraphQL is served at /graphql and nowhere else.
      useExactEndpoint('/graphql'),
      // After the key cache's own dispose (it unsubscribes first).
      { onDispose: () => ownListener?.close() },
      { onDispose: () => loop.stop() },
    ],
  });
  // `yoga` answers Fetch requests (`yoga.fetch`, in-process); `listener` is what a Node
  // server serves: the same, behind the door.
  return Object.assign(yoga, { listener: withParsableUrl(door.guard(yoga)) });
}

/**
 * graphql-armor throws its rejections out of validation, which Yoga would answer with
 * HTTP 200; reported as validation errors instead, they answer 400 like any invalid
 * document, with a code clients can match.
 */
const asValidationError = {
  propagateOnRejection: false,
  onReject: [
    (context: ValidationContext | null, error: GraphQLError) =>
      context?.reportError(
        new GraphQLError(error.message.replace(/^Syntax Error: /, ''), {
          extensions: { code: 'OPERATION_TOO_COMPLEX' },
        }),
      ),
  ],
};

/**
 * Brackets nested in a document: event data written into it may be 64 levels deep (its own
 * limit), inside the operation's few levels.
 */
const MAX_DOCUMENT_NESTING = 100;

/** Large enough for a 256 KiB publishEvent payload even when every character is escaped. */
const MAX_BODY_BYTES = 2 * 1024 * 1024;

// PostgreSQL's query_canceled: the statement ran past statement_timeout (REQUEST_TIMEOUT_MS).
const STATEMENT_TIMEOUT = '57014';

function maskUnexpected(config: Config) {
  return (error: unknown, message: string, isDev?: boolean): Error => {
    const cause = error instanceof GraphQLError ? error.originalError : error;
    const code = (cause as { code?: unknown } | undefined)?.code;
    if (databaseUnavailable(cause)) return serviceUnavailable();
    if (code === STATEMENT_TIMEOUT) return requestTimeout(config.requestTimeoutMs);
    // The client left (its request's signal, passed to a subscription's execution): nobody
    // is there to answer and nothing failed. Returned as it is, Yoga does not log it as ours.
    if (error instanceof GraphQLError && cause instanceof DOMException && cause.name === 'AbortError') return error;
    return maskError(error, message, isDev);
  };
}

/**
 * The bucket of a request's dashboard session, for transports that check credentials
 * themselves (graphql-sse's reservations, persisted queries): undefined without session
 * credentials, null when they do not hold.
 */
async function sessionBucket(
  resolveCaller: CallerResolver,
  request: Request,
): Promise<{ keyId: string; budgetKeyId: string } | null | 'busy' | undefined> {
  if (!sessionCredentials(request)) return undefined;
  try {
    const caller = await resolveCaller(request);
    return { keyId: caller.apiKeyId, budgetKeyId: caller.access.keyId };
  } catch (error) {
    if (error instanceof LookupsBusy) return 'busy';
    if (error instanceof GraphQLError && error.extensions.code === 'UNAUTHENTICATED') return null;
    throw error;
  }
}

function isLoopback(req: IncomingMessage | undefined): boolean {
  const address = req?.socket.remoteAddress;
  return address === '127.0.0.1' || address === '::1' || address === '::ffff:127.0.0.1';
}

const SAMPLE_OPERATION = `# Register a webhook: press the run button (or Ctrl-Enter).
# The secret in the answer is shown only this once: store it.
mutation Register {
  registerWebhook(input: {
    name: "Call events"
    agentId: "agent_123"
    url: "https://example.com/webhooks/conversations"
    events: [CONVERSATION_STARTED, CONVERSATION_ENDED]
  }) {
    id
    secret
    events
    active
  }
}

# Then, in a new tab:
# query { webhooks(first: 10) { totalCount edges { node { id name url events active } } } }
# mutation { publishEvent(input: { agentId: "agent_123", type: CONVERSATION_ENDED, data: { conversationId: "c_1" } }) { id } }
`;
