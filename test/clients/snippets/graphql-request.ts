import { GraphQLClient } from 'graphql-request';

/** graphql-request 7: a backend integration's client; errors throw a ClientError. */
export function createRequestClient(url: string, apiKey: string) {
  return new GraphQLClient(url, { headers: { 'X-API-Key': apiKey } });
}
