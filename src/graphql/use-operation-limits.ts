import { type DocumentNode, GraphQLError, getOperationAST } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Context } from './builder.js';

/** Codes of the limits below: the whole operation is refused, never answered in part. */
const REFUSALS = new Set(['OPERATION_TOO_COMPLEX', 'RESPONSE_TOO_LARGE']);

export function requestTimeout(timeoutMs: number): GraphQLError {
  return new GraphQLError(
    `The operation took longer than ${timeoutMs} ms and was stopped: ask for less, or narrow it with filters`,
    { extensions: { code: 'REQUEST_TIMEOUT', http: { status: 503 } } },
  );
}

/**
 * The limits that show during execution. An operation selecting more counts than one may
 * (aliases and fragments counted) is refused before it starts. A query runs under a deadline: when it passes,
 * execution stops resolving and the client gets REQUEST_TIMEOUT (its statements are cut
 * off by the same statement_timeout in the database). Mutations are left to finish, so a
 * write is never reported as stopped after it committed. An operation refused for its
 * cost (checked as its root fields start) or for what it read answers with that one
 * error and HTTP 400, not with a partial result.
 */
export function useOperationLimits(options: { timeoutMs: number }): Plugin {
  // Counts selected past the limit refuse the operation before anything runs.
  const checkCounts = (args: { document: DocumentNode; operationName?: string | null; contextValue: unknown }) => {
    const operation = getOperationAST(args.document, args.operationName);
    if (operation) (args.contextValue as Partial<Context>).budget?.checkSelectedCounts(args.document, operation);
    return operation;
  };
  return {
    onSubscribe({ args }) {
      checkCounts(args);
    },
    onExecute({ args, executeFn, setExecuteFn }) {
      if (checkCounts(args)?.operation === 'query') {
        setExecuteFn(async (executeArgs) => {
          const deadline = new AbortController();
          const timer = setTimeout(() => deadline.abort(requestTimeout(options.timeoutMs)), options.timeoutMs);
          // A query that has read all it may stops there, not after resolving every field left.
          (executeArgs.contextValue as Partial<Context>).budget?.stopWith((refusal) => deadline.abort(refusal));
          try {
            // @graphql-tools/executor (Yoga's) stops at an aborted signal.
            return await executeFn({ ...executeArgs, signal: deadline.signal } as typeof executeArgs);
          } finally {
            clearTimeout(timer);
          }
        });
      }
      return {
        onExecuteDone({ result, setResult }) {
          if (!('errors' in result) || !result.errors) return;
          const refusal = result.errors.find((error) => REFUSALS.has(String(error.extensions?.code)));
          if (!refusal) return;
          setResult({
            errors: [
              new GraphQLError(refusal.message, {
                extensions: { ...refusal.extensions, http: { status: 400 } },
              }),
            ],
          });
        },
      };
    },
  };
}
