import { ApolloClient, HttpLink, InMemoryCache } from '@apollo/client';
import { PersistedQueryLink } from '@apollo/client/link/persisted-queries';

/** SHA-256 as hex with Web Crypto: the same in browsers and Node. */
async function sha256(text: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * Apollo Client 4: automatic persisted queries (the hash first, the full query only when
 * the server asks for it), and subscriptions over the same HttpLink (multipart/mixed).
 */
export function createApolloClient(url: string, apiKey: string) {
  return new ApolloClient({
    link: new PersistedQueryLink({ sha256 }).concat(new HttpLink({ uri: url, headers: { 'X-API-Key': apiKey } })),
    cache: new InMemoryCache(),
  });
}
