import { type DocumentNode, GraphQLError, Kind, type OperationDefinitionNode } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { ApiKeyCache } from '../auth/key-cache.js';
import type { Context } from '../graphql/builder.js';
import { LookupsBusy } from '../lib/lookup-lane.js';
import { type Caller, type CallerResolver, createCallerResolver } from './caller.js';

/**
 * Resolves the caller before any resolver runs: `X-API-Key` (from the in-process cache:
 * auth/key-cache.ts), or a dashboard session (caller.ts), and refuses the operation
 * with HTTP 401 when that fails. Introspection alone passes without a key: the schema is
 * public, so GraphiQL and codegen work before a key is at hand.
 */
export function useCallerAuth(
  keys: ApiKeyCache,
  resolveCaller: CallerResolver = createCallerResolver(keys, undefined, Buffer.alloc(0)),
  onDispose: () => Promise<void> = () => keys.close(),
): Plugin<Context> {
  /** The caller: at once when memory knows it (nearly always), else once looked up. */
  const authenticate = (args: {
    document: DocumentNode;
    operationName?: string | null | undefined;
    contextValue: { request: Request };
  }): Caller | undefined | Promise<Caller> => {
    if (isIntrospectionOnly(args.document, args.operationName)) return undefined;
    const caller = resolveCaller(args.contextValue.request);
    return caller instanceof Promise
      ? caller.catch((error: unknown) => {
          if (error instanceof LookupsBusy) throw busy();
          throw error;
        })
      : caller;
  };
  // No promise unless a lookup is needed: the operation goes on in the same turn.
  const withCaller = (
    caller: ReturnType<typeof authenticate>,
    extendContext: (extension: Pick<Context, 'workspaceId' | 'apiKeyId' | 'access'>) => void,
  ): Promise<void> | undefined => {
    if (caller instanceof Promise) return caller.then((found) => withCaller(found, extendContext));
    if (caller) extendContext(caller);
    return undefined;
  };
  return {
    onDispose,
    onExecute: ({ args, extendContext }) => withCaller(authenticate(args), extendContext),
    onSubscribe: ({ args, extendContext }) => withCaller(authenticate(args), extendContext),
  };
}

/** A flood of keys nobody has seen: a real one gets through on a retry moments later. */
export function busy(): GraphQLError {
  return new GraphQLError('Too many requests with unrecognised API keys at once; try again shortly', {
    extensions: { code: 'SERVICE_UNAVAILABLE', http: { status: 503, headers: { 'Retry-After': '1' } } },
  });
}

function isIntrospectionOnly(document: DocumentNode, operationName?: string | null): boolean {
  const operations = document.definitions.filter(
    (d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION,
  );
  const operation = operationName ? operations.find((o) => o.name?.value === operationName) : operations[0];
  if (operation?.operation !== 'query') return false;
  return operation.selectionSet.selections.every(
    (s) =>
      s.kind === Kind.FIELD &&
      (s.name.value === '__schema' || s.name.value === '__type' || s.name.value === '__typename'),
  );
}
