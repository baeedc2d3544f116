import { getOperationAST } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Metrics } from '../lib/metrics.js';

/** Serves `/metrics` (Prometheus text format) and times every GraphQL operation. */
export function useMetrics(metrics: Metrics): Plugin {
  return {
    async onRequest({ request, endResponse }) {
      if (new URL(request.url).pathname !== '/metrics') return;
      endResponse(
        new Response(await metrics.registry.metrics(), { headers: { 'content-type': metrics.registry.contentType } }),
      );
    },
    onExecute({ args }) {
      const started = performance.now();
      const operation = getOperationAST(args.document, args.operationName);
      const labels = {
        type: operation?.operation ?? 'unknown',
        name: (operation?.name?.value ?? 'anonymous').slice(0, 64),
      };
      return {
        onExecuteDone({ result }) {
          const failed = 'errors' in result && (result.errors?.length ?? 0) > 0;
          metrics.operations.observe(
            { ...labels, outcome: failed ? 'error' : 'ok' },
            (performance.now() - started) / 1000,
          );
        },
      };
    },
  };
}
