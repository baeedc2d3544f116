import type { IncomingMessage } from 'node:http';
import type { Plugin } from 'graphql-yoga';

/** What varies between GraphiQL pages: the headers editor's first text (the development key, or not). */
export type GraphiQLPage = { title: string; initialQuery: string; headers: string };

/**
 * GraphiQL for a browser's GET of `endpoint`, bundled (no CDN: it works offline and behind
 * firewalls). The page is about 9 MB. Each variant is rendered once, when first asked for,
 * and every answer shares its one Buffer: rendered per request (as Yoga does), each answer
 * cost tens of milliseconds of CPU and a copy of its own, held for as long as the client
 * did not read it. Anonymous clients opening one a second each, within the address limit,
 * took the process past its heap in 20 s.
 */
export function useGraphiQLPage(endpoint: string, pageFor: (req: IncomingMessage | undefined) => GraphiQLPage): Plugin {
  const pages = new Map<string, Promise<Uint8Array<ArrayBuffer>>>();
  return {
    onRequest({ request, url, serverContext, fetchAPI, endResponse }) {
      if (request.method !== 'GET' || url.pathname !== endpoint) return;
      if (!request.headers.get('accept')?.includes('text/html')) return;
      const page = pageFor((serverContext as { req?: IncomingMessage } | undefined)?.req);
      const key = JSON.stringify(page);
      let body = pages.get(key);
      if (!body) {
        // Loaded when first opened: the bundle takes ~33 MB of heap that a server nobody browses never needs.
        body = import('@graphql-yoga/render-graphiql').then(({ renderGraphiQL }) =>
          // The bundled GraphiQL reads `initialQuery`; Yoga's typings still know only `defaultQuery`.
          Buffer.from(
            renderGraphiQL({ ...page, defaultQuery: page.initialQuery, ...{ initialQuery: page.initialQuery } }),
          ),
        );
        body.catch(() => pages.delete(key));
        pages.set(key, body);
      }
      return body.then((html) =>
        endResponse(new fetchAPI.Response(html, { headers: { 'content-type': 'text/html; charset=utf-8' } })),
      );
    },
  };
}
