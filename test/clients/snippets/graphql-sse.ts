import { createClient } from 'graphql-sse';

/**
 * graphql-sse 2 on the same endpoint as everything else: by default a connection per
 * operation; with `singleConnection: true` one event stream carries them all. A refused
 * request (401, 429…) is retried `retryAttempts` times (default 5) before it is reported.
 */
export function createSSEClient(
  url: string,
  apiKey: string,
  options: { singleConnection?: boolean; retryAttempts?: number } = {},
) {
  return createClient({ url, headers: { 'X-API-Key': apiKey }, ...options });
}
