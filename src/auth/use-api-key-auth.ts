import { type DocumentNode, GraphQLError, Kind, type OperationDefinitionNode } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Context } from '../graphql/builder.js';
import { unauthenticated } from '../graphql/errors.js';
import type { AuthenticatedKey } from './api-keys.js';
import { type ApiKeyCache, LookupsBusy } from './key-cache.js';

/**
 * Resolves `X-API-Key` to a workspace before any resolver runs (from the in-process cache:
 * key-cache.ts), and refuses the operation with HTTP 401 when that fails. Introspection
 * alone passes without a key: the schema is public, so GraphiQL and codegen work before a
 * key is at hand.
 */
export function useApiKeyAuth(keys: ApiKeyCache): Plugin<Context> {
  const accept = (key: AuthenticatedKey | null): AuthenticatedKey => {
    if (!key) throw unauthenticated('Invalid or revoked API key');
    return key;
  };
  /** The caller's key: at once when the cache knows it (nearly always), else once looked up. */
  const authenticate = (args: {
    document: DocumentNode;
    operationName?: string | null | undefined;
    contextValue: { request: Request };
  }): AuthenticatedKey | undefined | Promise<AuthenticatedKey> => {
    if (isIntrospectionOnly(args.document, args.operationName)) return undefined;
    const apiKey = args.contextValue.request.headers.get('x-api-key');
    if (!apiKey) throw unauthenticated('Missing X-API-Key header');
    const key = apiKey.trim();
    const known = keys.cached(key);
    if (known !== undefined) return accept(known);
    return keys.authenticate(key).then(accept, (error: unknown) => {
      if (error instanceof LookupsBusy) throw busy();
      throw error;
    });
  };
  // No promise unless a lookup is needed: the operation goes on in the same turn.
  const withKey = (
    key: ReturnType<typeof authenticate>,
    extendContext: (extension: Pick<Context, 'workspaceId' | 'apiKeyId'>) => void,
  ): Promise<void> | undefined => {
    if (key instanceof Promise) return key.then((found) => withKey(found, extendContext));
    if (key) extendContext({ workspaceId: key.workspaceId, apiKeyId: key.keyId });
    return undefined;
  };
  return {
    onDispose: () => keys.close(),
    onExecute: ({ args, extendContext }) => withKey(authenticate(args), extendContext),
    onSubscribe: ({ args, extendContext }) => withKey(authenticate(args), extendContext),
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
