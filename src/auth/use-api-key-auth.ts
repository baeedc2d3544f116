import { type DocumentNode, GraphQLError, Kind, type OperationDefinitionNode } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Context } from '../graphql/builder.js';
import { unauthenticated } from '../graphql/errors.js';
import { type ApiKeyCache, LookupsBusy } from './key-cache.js';

/**
 * Resolves `X-API-Key` to a workspace before any resolver runs (from the in-process cache:
 * key-cache.ts), and refuses the operation with HTTP 401 when that fails. Introspection
 * alone passes without a key: the schema is public, so GraphiQL and codegen work before a
 * key is at hand.
 */
export function useApiKeyAuth(keys: ApiKeyCache): Plugin<Context> {
  const authenticate = async (args: {
    document: DocumentNode;
    operationName?: string | null | undefined;
    contextValue: { request: Request };
  }) => {
    if (isIntrospectionOnly(args.document, args.operationName)) return undefined;
    const apiKey = args.contextValue.request.headers.get('x-api-key');
    if (!apiKey) throw unauthenticated('Missing X-API-Key header');
    const key = await keys.authenticate(apiKey.trim()).catch((error: unknown) => {
      if (error instanceof LookupsBusy) throw busy();
      throw error;
    });
    if (!key) throw unauthenticated('Invalid or revoked API key');
    return key;
  };
  return {
    onDispose: () => keys.close(),
    async onExecute({ args, extendContext }) {
      const key = await authenticate(args);
      if (key) extendContext({ workspaceId: key.workspaceId, apiKeyId: key.keyId });
    },
    async onSubscribe({ args, extendContext }) {
      const key = await authenticate(args);
      if (key) extendContext({ workspaceId: key.workspaceId, apiKeyId: key.keyId });
    },
  };
}

/** A flood of keys nobody has seen: a real one gets through on a retry moments later. */
function busy(): GraphQLError {
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
