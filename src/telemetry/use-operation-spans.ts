import {
  context,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type TextMapGetter,
  type TextMapPropagator,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import { ATTR_HTTP_RESPONSE_STATUS_CODE } from '@opentelemetry/semantic-conventions';
import { getOperationAST } from 'graphql';
import type { Plugin } from 'graphql-yoga';

// The GraphQL semantic conventions are still "incubating": the names are copied, as
// OpenTelemetry advises, rather than imported from the unstable entry point.
const ATTR_GRAPHQL_OPERATION_NAME = 'graphql.operation.name';
const ATTR_GRAPHQL_OPERATION_TYPE = 'graphql.operation.type';
export const ATTR_GRAPHQL_ERROR_CODES = 'graphql.error.codes';
export const ATTR_WORKSPACE_ID = 'convo_hooks.workspace.id';

type Operation = { span: Span; codes?: string[] };

const headerGetter: TextMapGetter<Headers> = {
  get: (headers, key) => headers.get(key) ?? undefined,
  keys: (headers) => [...headers.keys()],
};

/**
 * A span per GraphQL operation, named `<type> <name>` as the semantic conventions say,
 * with the error codes it answered and the HTTP status. Never the document, variables
 * or results: they carry tenants' data and, in `registerWebhook`'s answer, a secret.
 * Resolvers run inside the span, so a publish becomes its child. A caller's own
 * `traceparent` makes the operation part of the caller's trace.
 */
export function useOperationSpans(tracer: Tracer, propagator: TextMapPropagator): Plugin {
  const operations = new WeakMap<Request, Operation>();
  return {
    instrumentation: {
      operation({ request }, wrapped) {
        const parent = propagator.extract(ROOT_CONTEXT, request.headers, headerGetter);
        const span = tracer.startSpan('GraphQL Operation', { kind: SpanKind.SERVER }, parent);
        operations.set(request, { span });
        return context.with(trace.setSpan(parent, span), wrapped);
      },
    },
    onValidate({ params, context: { request, params: graphqlParams } }) {
      const span = operations.get(request)?.span;
      const operation = span && getOperationAST(params.documentAST, graphqlParams.operationName);
      if (!span || !operation) return;
      const name = operation.name?.value.slice(0, 100);
      span.updateName(name ? `${operation.operation} ${name}` : operation.operation);
      span.setAttribute(ATTR_GRAPHQL_OPERATION_TYPE, operation.operation);
      if (name) span.setAttribute(ATTR_GRAPHQL_OPERATION_NAME, name);
    },
    onExecute({ args }) {
      return {
        onExecuteDone() {
          // Set by the API-key plugin once the key is known.
          const { workspaceId, request } = args.contextValue as { workspaceId?: string; request: Request };
          if (workspaceId) operations.get(request)?.span.setAttribute(ATTR_WORKSPACE_ID, workspaceId);
        },
      };
    },
    onResultProcess({ request, result }) {
      const operation = operations.get(request);
      if (!operation) return;
      const results = Array.isArray(result) ? result : [result];
      const codes = results.flatMap((r) =>
        r && typeof r === 'object' && 'errors' in r && Array.isArray(r.errors)
          ? r.errors.map((e: { extensions?: { code?: unknown } }) => String(e.extensions?.code ?? 'UNKNOWN'))
          : [],
      );
      if (codes.length > 0) operation.codes = [...new Set(codes)];
    },
    onResponse({ request, response }) {
      const operation = operations.get(request);
      if (!operation) return;
      operations.delete(request);
      const { span, codes } = operation;
      span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, response.status);
      if (codes) {
        span.setAttribute(ATTR_GRAPHQL_ERROR_CODES, codes);
        // Only the codes: messages can quote what a client sent.
        span.setStatus({ code: SpanStatusCode.ERROR, message: codes.join(', ') });
      }
      span.end();
    },
  };
}
