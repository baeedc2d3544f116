import { getOperationAST, Kind, type OperationDefinitionNode } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Metrics } from '../lib/metrics.js';

/**
 * Serves `/metrics` (Prometheus text format) and times every GraphQL operation, labelled
 * by its type and first root field: values the schema fixes, never text a client chose
 * (an operation name would be one label set per name, forever, and tell every reader of
 * /metrics what other workspaces call their operations).
 */
export function useMetrics(metrics: Metrics): Plugin {
  return {
    onRequest({ url, endResponse }) {
      // Not async: every other request passes straight through, without a promise.
      if (url.pathname !== '/metrics') return;
      return metrics
        .scrape()
        .then((text) => endResponse(new Response(text, { headers: { 'content-type': metrics.registry.contentType } })));
    },
    onExecute({ args }) {
      const started = performance.now();
      const operation = getOperationAST(args.document, args.operationName);
      const labels = { type: operation?.operation ?? 'unknown', field: rootField(operation) };
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

/** The first root field's name (validation has checked it is one of the schema's), or "other". */
function rootField(operation: OperationDefinitionNode | null | undefined): string {
  const first = operation?.selectionSet.selections[0];
  if (first?.kind !== Kind.FIELD) return 'other';
  return first.name.value.startsWith('__') ? 'introspection' : first.name.value;
}
