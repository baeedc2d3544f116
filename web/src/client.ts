import {
  Client,
  type CombinedError,
  cacheExchange,
  fetchExchange,
  mapExchange,
  subscriptionExchange,
} from '@urql/core';
import { createClient as createSSEClient } from 'graphql-sse';
import { authHeaders, expire, sendsCookie } from './session.js';

/**
 * The page's GraphQL client: urql over fetch for queries and mutations, and graphql-sse
 * (distinct connections: one POST stream per subscription) for live updates. Every
 * request carries the session's headers (session.ts).
 */
const sse = createSSEClient({
  url: '/graphql',
  headers: () => authHeaders(),
  credentials: 'same-origin',
  // A dropped stream comes back; the subscriber re-reads what it missed.
  retryAttempts: 5,
});

export function createClient(): Client {
  return new Client({
    url: '/graphql',
    // Each request's headers are read when it is sent: a new session needs no new client.
    fetchOptions: () => ({
      headers: authHeaders(),
      credentials: sendsCookie() ? 'same-origin' : 'omit',
    }),
    requestPolicy: 'cache-and-network',
    exchanges: [
      mapExchange({
        onError(error) {
          if (isUnauthenticated(error)) expire();
        },
      }),
      cacheExchange,
      fetchExchange,
      subscriptionExchange({
        forwardSubscription(request) {
          const input = { ...request, query: request.query ?? '' };
          return {
            subscribe(sink) {
              const unsubscribe = sse.subscribe(input, sink);
              return { unsubscribe };
            },
          };
        },
      }),
    ],
  });
}

export function isUnauthenticated(error: CombinedError): boolean {
  return error.response?.status === 401 || error.graphQLErrors.some((e) => e.extensions?.code === 'UNAUTHENTICATED');
}

/** What to tell a person about a failed request: the API's own message, which names the field. */
export function describeError(error: CombinedError): string {
  if (error.networkError) return 'The server could not be reached. Check your connection, then try again.';
  const first = error.graphQLErrors[0];
  if (first?.extensions?.code === 'FORBIDDEN') return 'This session is not allowed to do that.';
  return first?.message ?? error.message;
}
