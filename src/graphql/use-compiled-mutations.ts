import {
  type DocumentNode,
  type ExecutionResult,
  GraphQLError,
  getOperationAST,
  type Source,
  type SourceLocation,
} from 'graphql';
import { type CompiledQuery, compileQuery, isCompiledQuery } from 'graphql-jit';
import type { Plugin } from 'graphql-yoga';

/**
 * Mutations run as functions compiled by graphql-jit from their document, instead of
 * being interpreted by graphql-js's executor field by field: the hot path of every
 * write (registerWebhook, publishEvent) spends less per request.
 *
 * Only mutations. Queries keep Yoga's executor, which stops at the query deadline's
 * abort signal (use-operation-limits.ts); graphql-jit knows no signal. A mutation is
 * never stopped (a write must not be reported as stopped after it committed), so it
 * loses nothing.
 *
 * Variables graphql-jit refuses are handed to Yoga's executor instead, which refuses
 * them too, before any resolver runs, with graphql-js's messages: those say where the
 * bad value is (`at "input.events[0]"`), which use-input-errors.ts turns into the field
 * path of BAD_USER_INPUT. A document graphql-jit cannot compile runs on Yoga's executor.
 *
 * graphql-jit's errors carry their locations as plain values, which Yoga drops when it
 * rebuilds errors to answer them (it reads nodes or source positions): they are made
 * graphql-js errors again, at the same places in the document.
 *
 * Compiled functions are kept per parsed document: Yoga's parse cache hands out the same
 * document for the same text and bounds how many it keeps, so this cache is bounded with it.
 */
export function useCompiledMutations(): Plugin {
  const compiled = new WeakMap<DocumentNode, Map<string, CompiledQuery | null>>();
  const compiledFor = (args: { schema: Parameters<typeof compileQuery>[0]; document: DocumentNode }, name: string) => {
    let byOperation = compiled.get(args.document);
    if (!byOperation) {
      byOperation = new Map();
      compiled.set(args.document, byOperation);
    }
    let query = byOperation.get(name);
    if (query === undefined) {
      const result = compileQuery(args.schema, args.document, name || undefined);
      query = isCompiledQuery(result) ? result : null;
      byOperation.set(name, query);
    }
    return query;
  };
  return {
    onExecute({ args, executeFn, setExecuteFn }) {
      if (getOperationAST(args.document, args.operationName)?.operation !== 'mutation') return;
      const query = compiledFor(args, args.operationName ?? '');
      if (!query) return;
      setExecuteFn(async (executeArgs) => {
        const result = await query.query(executeArgs.rootValue, executeArgs.contextValue, executeArgs.variableValues);
        // No `data` at all: refused before execution (its variables), nothing has run.
        if (!('data' in result)) return executeFn(executeArgs);
        return result.errors ? located(result, args.document.loc?.source) : result;
      });
    },
  };
}

function located(result: ExecutionResult, source: Source | undefined): ExecutionResult {
  return {
    ...result,
    errors: result.errors?.map(
      (error) =>
        new GraphQLError(error.message, {
          source,
          positions: source && error.locations?.map((location) => positionOf(source.body, location)),
          path: error.path,
          originalError: error.originalError,
          extensions: error.extensions,
        }),
    ),
  };
}

/** The offset in `body` of a line and column (both from 1), as graphql-js counts lines. */
function positionOf(body: string, { line, column }: SourceLocation): number {
  const lineBreaks = /\r\n|[\n\r]/g;
  let start = 0;
  for (let l = 1; l < line; l++) {
    const found = lineBreaks.exec(body);
    if (!found) break;
    start = found.index + found[0].length;
  }
  return start + column - 1;
}
