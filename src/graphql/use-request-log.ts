import { randomUUID } from 'node:crypto';
import type { Plugin } from 'graphql-yoga';
import type { Logger } from '../lib/logger.js';

const CLIENT_REQUEST_ID = /^[\w.:-]{1,64}$/;

/**
 * One log line per request, with the error codes it answered (if any) and a request id: the caller's `X-Request-Id` when it is a
 * sane token, otherwise a new one, echoed back in the response. Headers are not logged,
 * so neither the API key nor anything else a client sends ends up in the logs.
 */
export function useRequestLog(log: Logger): Plugin {
  const started = new WeakMap<
    Request,
    { id: string; at: number; path: string; operation?: string; errors?: string[] }
  >();
  return {
    onRequest({ request, url }) {
      const given = request.headers.get('x-request-id');
      started.set(request, {
        id: given && CLIENT_REQUEST_ID.test(given) ? given : randomUUID(),
        at: performance.now(),
        path: url.pathname,
      });
    },
    onParams({ params, request }) {
      const entry = started.get(request);
      if (entry && typeof params.operationName === 'string') entry.operation = params.operationName.slice(0, 100);
    },
    onResultProcess({ request, result }) {
      // Errors answered with 200 too: their codes, so a log search finds them.
      const entry = started.get(request);
      if (!entry) return;
      let codes: Set<string> | undefined;
      for (const r of Array.isArray(result) ? result : [result]) {
        if (!r || typeof r !== 'object' || !('errors' in r) || !Array.isArray(r.errors)) continue;
        codes ??= new Set();
        for (const e of r.errors as { extensions?: { code?: unknown } }[])
          codes.add(String(e.extensions?.code ?? 'UNKNOWN'));
      }
      if (codes?.size) entry.errors = [...codes];
    },
    onResponse({ request, response }) {
      const entry = started.get(request);
      if (!entry) return;
      response.headers.set('x-request-id', entry.id);
      const path = entry.path;
      // At LOG_LEVEL=warn and above the line would be dropped: not even built.
      if (path === '/health' || path === '/ready' || !log.isLevelEnabled('info')) return;
      log.info(
        {
          reqId: entry.id,
          method: request.method,
          path,
          operation: entry.operation,
          status: response.status,
          errors: entry.errors,
          ms: Math.round(performance.now() - entry.at),
        },
        'request',
      );
    },
  };
}
