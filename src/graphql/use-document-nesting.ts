import { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';

/**
 * Documents whose brackets nest deeper than `max` are refused before they are parsed.
 * graphql-js parses nested lists and objects recursively: `[[[…]]]` a couple of thousand
 * deep (one token a level, inside the 2,000-token limit) ran out of stack in the parser,
 * an INTERNAL_SERVER_ERROR. Selections are held to 12 levels and event data to 64 anyway.
 */
export function useDocumentNesting(max: number): Plugin {
  return {
    onParse({ params }) {
      const source = typeof params.source === 'string' ? params.source : params.source.body;
      if (nestingDepth(source, max) > max) {
        throw new GraphQLError(`The document nests brackets deeper than ${max} levels`, {
          extensions: { code: 'OPERATION_TOO_COMPLEX', http: { status: 400 } },
        });
      }
    },
  };
}

/** The deepest nesting of (), [] and {} outside strings and comments, counted up to `stopAbove` + 1. */
export function nestingDepth(source: string, stopAbove: number): number {
  let depth = 0;
  let deepest = 0;
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (c === '#') {
      while (i < source.length && source[i] !== '\n' && source[i] !== '\r') i++;
    } else if (c === '"') {
      if (source.startsWith('"""', i)) {
        // A block string ends at the next unescaped """.
        i += 3;
        while (i < source.length && !source.startsWith('"""', i)) i += source.startsWith('\\"""', i) ? 4 : 1;
        i += 2;
      } else {
        i++;
        while (i < source.length && source[i] !== '"' && source[i] !== '\n') i += source[i] === '\\' ? 2 : 1;
      }
    } else if (c === '(' || c === '[' || c === '{') {
      depth++;
      if (depth > deepest) deepest = depth;
      if (deepest > stopAbove) return deepest;
    } else if (c === ')' || c === ']' || c === '}') {
      depth--;
    }
  }
  return deepest;
}
