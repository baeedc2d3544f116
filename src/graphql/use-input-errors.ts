import { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { InputIssue } from './errors.js';

const VARIABLE_ERROR = /^Variable "\$([^"]+)"(?: got invalid value .*? at "([^"]+)")?/s;

/**
 * GraphQL rejects variables of the wrong type before any resolver runs, with errors that
 * carry no code. Give them the same shape as our own input errors, BAD_USER_INPUT with
 * `issues: [{ path, message }]`, so clients handle every bad input one way.
 */
export function useInputErrors(): Plugin {
  return {
    onExecute() {
      return {
        onExecuteDone({ result, setResult }) {
          if (!('errors' in result) || !result.errors || 'data' in result) return;
          if (!result.errors.every((e) => VARIABLE_ERROR.test(e.message))) return;
          setResult({
            errors: result.errors.map((error) => {
              const match = VARIABLE_ERROR.exec(error.message);
              const missing = /Field "([^"]+)" of required type/.exec(error.message)?.[1];
              const path = [...toPath(match?.[2] ?? match?.[1] ?? ''), ...(missing ? [missing] : [])];
              // The part after "got invalid value …;" says what is wrong; the whole text says where.
              const reason = error.message.includes('; ')
                ? error.message.slice(error.message.lastIndexOf('; ') + 2)
                : error.message;
              const issue: InputIssue = { path, message: reason };
              return new GraphQLError(error.message, {
                nodes: error.nodes,
                extensions: { code: 'BAD_USER_INPUT', issues: [issue], http: { status: 400 } },
              });
            }),
          });
        },
      };
    },
  };
}

/** "input.events[0]" → ["input", "events", 0] */
function toPath(text: string): (string | number)[] {
  return text
    .split(/\.|\[(\d+)\]/)
    .filter((part) => part !== undefined && part !== '')
    .map((part) => (/^\d+$/.test(part) ? Number(part) : part));
}
