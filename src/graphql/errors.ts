import { GraphQLError } from 'graphql';
import type { ZodError } from 'zod';
import { type IdKind, isId } from '../lib/ids.js';

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

const NOUN: Record<IdKind, string> = {
  workspace: 'workspace',
  webhook: 'webhook',
  event: 'event',
  delivery: 'delivery',
  apiKey: 'API key',
};

export function notFound(kind: IdKind, id: string): GraphQLError {
  // Ids are about 30 characters; a made-up one is echoed in part, not whole.
  const shown = id.length > 64 ? `${id.slice(0, 64)}…` : id;
  return new GraphQLError(`No ${NOUN[kind]} with id "${shown}" in this workspace`, {
    extensions: { code: 'NOT_FOUND' },
  });
}

/**
 * What a field points to was deleted between two statements of this request (a webhook
 * deleted, an event erased, after the delivery that names it was read): its parent went
 * with it. Asked again, the request no longer finds either.
 */
export function goneMeanwhile(kind: IdKind, id: string): GraphQLError {
  return new GraphQLError(`The ${NOUN[kind]} "${id}" was deleted while this request ran; ask again`, {
    extensions: { code: 'NOT_FOUND' },
  });
}

/** Rows found by id, in the order of `ids`; an id without a row is `goneMeanwhile`. */
export function inIdOrder<T extends { id: string }>(
  kind: IdKind,
  ids: readonly string[],
  rows: T[],
): (T | GraphQLError)[] {
  const byId = new Map(rows.map((row) => [row.id, row]));
  return ids.map((id) => byId.get(id) ?? goneMeanwhile(kind, id));
}

export function unauthenticated(message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: 'UNAUTHENTICATED', http: { status: 401 } } });
}

export function tooManySubscriptions(perKey: number): GraphQLError {
  return new GraphQLError(`At most ${perKey} subscriptions may be open at once per API key; close one first`, {
    extensions: { code: 'TOO_MANY_SUBSCRIPTIONS', http: { status: 429 } },
  });
}

/** A live feed whose subscriber could not keep up: it re-reads what it needs and subscribes again. */
export function fellBehind(message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: 'SUBSCRIPTION_FELL_BEHIND' } });
}

// Errors from postgres.js when the database cannot be reached, and PostgreSQL's own
// "shutting down" / "starting up" / "too many connections" codes: the request may succeed
// if retried shortly.
const DATABASE_UNAVAILABLE = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'CONNECT_TIMEOUT',
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  '57P01',
  '57P02',
  '57P03',
  // too_many_connections: the server's max_connections, or a role's or database's CONNECTION LIMIT.
  '53300',
]);

/** Whether `error` says the database cannot be reached now: the request may succeed if retried shortly. */
export function databaseUnavailable(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code;
  if (typeof code !== 'string') return false;
  // Class 08, connection exceptions: also what PgBouncer answers when it has no connection to give
  // (08P01 "no more connections allowed", "query_wait_timeout").
  return DATABASE_UNAVAILABLE.has(code) || code.startsWith('08');
}

export function serviceUnavailable(): GraphQLError {
  return new GraphQLError('The service is temporarily unavailable; try again shortly', {
    extensions: { code: 'SERVICE_UNAVAILABLE', http: { status: 503, headers: { 'Retry-After': '5' } } },
  });
}

/**
 * A row of the caller's workspace by id, or null. An id of the wrong shape is answered
 * without a query; another workspace's id reads exactly like one that does not exist
 * (`find` is always scoped to the caller's workspace).
 */
export async function findOwn<T>(kind: IdKind, id: string, find: (id: string) => Promise<T | null>): Promise<T | null> {
  return isId(kind, id) ? find(id) : null;
}

/** As findOwn, for mutations: NOT_FOUND instead of null. */
export async function mustFindOwn<T>(kind: IdKind, id: string, find: (id: string) => Promise<T | null>): Promise<T> {
  const found = await findOwn(kind, id, find);
  if (found === null) throw notFound(kind, id);
  return found;
}

/** The caller's access (a portal session's capabilities or agents) does not allow this; nothing was done. */
export function forbidden(message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: 'FORBIDDEN', http: { status: 403 } } });
}
