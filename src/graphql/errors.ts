import { GraphQLError } from 'graphql';
import type { ZodError } from 'zod';

/** One problem with the input, `path` naming the field as the client sent it: ["input", "url"]. */
export type InputIssue = { path: (string | number)[]; message: string };

export function badUserInput(issues: InputIssue[]): GraphQLError {
  const summary = issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ');
  return new GraphQLError(`Invalid input: ${summary}`, { extensions: { code: 'BAD_USER_INPUT', issues } });
}

export function zodIssues(error: ZodError): InputIssue[] {
  return error.issues.map((issue) => ({
    path: issue.path.map((part) => (typeof part === 'symbol' ? String(part) : part)),
    message: issue.message,
  }));
}

export function notFound(kind: string, id: string): GraphQLError {
  return new GraphQLError(`No ${kind} with id "${id}" in this workspace`, { extensions: { code: 'NOT_FOUND' } });
}

export function unauthenticated(message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: 'UNAUTHENTICATED', http: { status: 401 } } });
}

export function serviceUnavailable(): GraphQLError {
  return new GraphQLError('The service is temporarily unavailable; try again shortly', {
    extensions: { code: 'SERVICE_UNAVAILABLE', http: { status: 503, headers: { 'Retry-After': '5' } } },
  });
}
