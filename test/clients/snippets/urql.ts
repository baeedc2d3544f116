import { Client, cacheExchange, fetchExchange, subscriptionExchange } from '@urql/core';
import { createClient as createSSEClient } from 'graphql-sse';

/** urql 6: queries and mutations over fetch, subscriptions over graphql-sse. */
export function createUrqlClient(url: string, apiKey: string) {
  const sse = createSSEClient({ url, headers: { 'X-API-Key': apiKey } });
  return new Client({
    url,
    fetchOptions: { headers: { 'X-API-Key': apiKey } },
    exchanges: [
      cacheExchange,
      fetchExchange,
      subscriptionExchange({
        forwardSubscription: (request) => ({
          subscribe: (sink) => ({ unsubscribe: sse.subscribe({ ...request, query: request.query ?? '' }, sink) }),
        }),
      }),
    ],
  });
}
