import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Plugin } from 'graphql-yoga';

/**
 * Where `npm run build` puts the dashboard (vite, web/vite.config.ts): the package's
 * dist/dashboard/, two folders up from this module both as src/dashboard/serve.ts (tsx)
 * and as dist/dashboard/serve.js.
 */
export const DASHBOARD_BUILD = fileURLToPath(new URL('../../dist/dashboard/', import.meta.url));

/** The page's own session endpoints (docs/dashboard.md) are answered by another plugin. */
const NOT_THE_PAGE = new Set(['/dashboard/session']);

const CONTENT_TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
};

/**
 * Serves the dashboard SPA at /dashboard: its hashed files under /dashboard/assets/
 * (cached for a year: a new build has new names), and index.html for every other path
 * below /dashboard, which the page routes itself. Every answer carries a strict CSP: the
 * page loads and connects to this origin only, and only the listed origins may frame it.
 */
export function useDashboard(options: { directory?: string; frameAncestors: string[] }): Plugin {
  const directory = options.directory ?? DASHBOARD_BUILD;
  const headers = securityHeaders(options.frameAncestors);

  return {
    onRequest({ url, request, endResponse, fetchAPI }) {
      const { pathname } = url;
      if (pathname !== '/dashboard' && !pathname.startsWith('/dashboard/')) return;
      if (NOT_THE_PAGE.has(pathname)) return;
      const answer = (body: BodyInit | null, status: number, more: Record<string, string> = {}) =>
        endResponse(new fetchAPI.Response(body, { status, headers: { ...headers, ...more } }));
      if (request.method !== 'GET' && request.method !== 'HEAD') {
        return answer('Method not allowed', 405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' });
      }

      if (pathname.startsWith('/dashboard/assets/')) {
        const name = pathname.slice('/dashboard/assets/'.length);
        const type = CONTENT_TYPES[path.extname(name)];
        // Only plain file names vite wrote: no folders, no dot-files, no traversal.
        if (!type || !/^[\w-]+(\.[\w-]+)*$/.test(name)) return answer('Not found', 404, TEXT);
        return readFile(path.join(directory, 'assets', name)).then(
          (bytes) =>
            answer(request.method === 'HEAD' ? null : bytes, 200, {
              'content-type': type,
              'cache-control': 'public, max-age=31536000, immutable',
            }),
          () => answer('Not found', 404, TEXT),
        );
      }

      // Read each time (half a kilobyte): a rebuild while the server runs names new assets.
      return readFile(path.join(directory, 'index.html'), 'utf8').then(
        (html) =>
          answer(request.method === 'HEAD' ? null : html, 200, { 'content-type': HTML, 'cache-control': 'no-cache' }),
        () => answer('The dashboard is not built: run `npm run build`, then reload.', 503, TEXT),
      );
    },
  };
}

const TEXT = { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' };
const HTML = 'text/html; charset=utf-8';

/** The headers of every dashboard answer. */
export function securityHeaders(frameAncestors: string[]): Record<string, string> {
  const policy = [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    `frame-ancestors ${frameAncestors.length > 0 ? frameAncestors.join(' ') : "'none'"}`,
  ].join('; ');
  return {
    'content-security-policy': policy,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
  };
}
