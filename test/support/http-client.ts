import type { GraphQLResponse, TestApp } from './app.js';

/**
 * A client of the app served on a real port of 127.0.0.1 (app.listen), as a frontend
 * talks to it: JSON POSTs over HTTP with the key in `X-API-Key`.
 */
export async function httpClient(app: TestApp) {
  const url = await app.listen();
  return async function graphql<T = Record<string, any>>(
    apiKey: string,
    query: string,
    variables: Record<string, unknown> = {},
  ): Promise<GraphQLResponse<T>> {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': apiKey },
      body: JSON.stringify({ query, variables }),
    });
    return { status: response.status, ...((await response.json()) as object) };
  };
}
