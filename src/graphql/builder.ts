import SchemaBuilder from '@pothos/core';
import ComplexityPlugin from '@pothos/plugin-complexity';
import DataloaderPlugin from '@pothos/plugin-dataloader';
import ZodPlugin from '@pothos/plugin-zod';
import { GraphQLError, GraphQLScalarType, getNamedType, getNullableType, isLeafType, isListType } from 'graphql';
import { DateTimeResolver, JSONResolver } from 'graphql-scalars';
import type { Config } from '../config.js';
import type { Pool } from '../db/sql.js';
import type { Logger } from '../lib/logger.js';
import type { DeliveryFeed } from '../live/delivery-feed.js';
import type { LiveStreams } from '../live/streams.js';
import type { Tracing } from '../telemetry/tracing.js';
import type { Access } from './access.js';
import { badUserInput, zodIssues } from './errors.js';
import { MAX_PAGE_SIZE } from './paging.js';
import type { ReadBudget } from './read-budget.js';

/** What every request starts with: app.ts builds it for each request. */
export type RequestContext = {
  /** The HTTP request (Yoga's); its signal aborts when the client goes away. */
  request: Request;
  sql: Pool;
  config: Config;
  secretKey: Buffer;
  /** The process's logger, for the few resolvers that log (an erasure's audit line). */
  log: Logger;
  deliveryFeed: DeliveryFeed;
  liveStreams: LiveStreams;
  /** What each key may still be sent this second (auth/use-rate-limit.ts keeps it). */
  readRate: KeyReadRate;
  /** Mutations and events each key may still make this second (charged per executed root field). */
  mutationRate: KeyMutationRate;
  /** API keys as this process knows them (auth/key-cache.ts keeps them). */
  apiKeys: KnownApiKeys;
  /** What this request may still read; the loaders spend from it. */
  budget: ReadBudget;
  /** OpenTelemetry, when OTEL_EXPORTER_OTLP_ENDPOINT is set; undefined costs nothing. */
  tracing?: Tracing;
};

/** A key's read rate, as a live feed paces itself by it. */
export type KeyReadRate = {
  /** Resolves once the key may be sent more (at once when it may now), or when `signal` aborts. */
  paid(keyId: string, signal: AbortSignal): Promise<void>;
};

/** A key's mutation rates; each throws RATE_LIMITED when the key has none left. */
export type KeyMutationRate = {
  mutation(keyId: string): void;
  publish(keyId: string, events: number): void;
  /** Charges the deliveries a publish created, once it committed. */
  fannedOut(keyId: string, deliveries: number): void;
};

/** What resolvers ask of the process's API keys; the key cache (auth/key-cache.ts) is one. */
export type KnownApiKeys = {
  /** When the key was last used, if that is not yet written to the database. */
  pendingUse(keyId: string): Date | null;
  /** Forgets a key at once, here (other processes hear of a revocation by NOTIFY). */
  forget(keyId: string): void;
};

/**
 * What every resolver receives: the API-key plugin has added the caller's workspace and
 * key before any resolver runs (introspection, which needs no key, runs none of ours).
 */
export type Context = RequestContext & {
  workspaceId: string;
  /**
   * Who calls: the API key's id, or the session's (what a revocation or a sign-out ends).
   * Budgets, rates and streams are the key's: `access.keyId`, which a session shares with
   * the key that made it.
   */
  apiKeyId: string;
  /** What the caller may do and see: everything for a key (sessions/access.ts). */
  access: Access;
};

export type Types = {
  Context: Context;
  DefaultFieldNullability: false;
  Scalars: {
    // Our ids are strings; GraphQL would also accept a number for an ID argument.
    ID: { Input: string; Output: string };
    DateTime: { Input: Date; Output: Date | string };
    JSON: { Input: unknown; Output: unknown };
  };
};

export const builder = new SchemaBuilder<Types>({
  plugins: [ComplexityPlugin, DataloaderPlugin, ZodPlugin],
  defaultFieldNullability: false,
  zod: {
    // Yoga masks unknown errors, so a raw ZodError would reach clients as "Unexpected error".
    validationError: (error) => badUserInput(zodIssues(error)),
  },
  complexity: {
    // A cost is about the rows a request makes the server read: an object costs 1, a leaf
    // nothing, and a list multiplies what it holds by how long it can be: a connection by
    // its page size (connection.ts), any other list by the largest page unless it says
    // less. Fields that read more than a row say so themselves.
    fieldComplexity: (_args, _ctx, field) => {
      if (isLeafType(getNamedType(field.type))) return 0;
      return isListType(getNullableType(field.type)) ? { field: 1, multiplier: MAX_PAGE_SIZE } : 1;
    },
    limit: (ctx) => ({ complexity: ctx.config.maxQueryCost }),
    complexityError: (_kind, { complexity, maxComplexity }) =>
      new GraphQLError(
        `This operation could read about ${complexity} rows, more than the ${maxComplexity} one request may: ask for smaller pages (first) or fewer nested lists`,
        { extensions: { code: 'OPERATION_TOO_COMPLEX', cost: complexity, maxCost: maxComplexity } },
      ),
  },
});

/**
 * DateTime, within the years PostgreSQL and ISO-8601 share (0001–9999): year 0000 parses
 * in JavaScript but is no date the database takes.
 */
const DateTimeInRange = new GraphQLScalarType({
  ...DateTimeResolver.toConfig(),
  parseValue: (value) => inRange(DateTimeResolver.parseValue(value)),
  parseLiteral: (ast, variables) => inRange(DateTimeResolver.parseLiteral(ast, variables)),
});

function inRange(date: Date): Date {
  const year = date.getUTCFullYear();
  if (year < 1 || year > 9999) throw new TypeError('DateTime must be between 0001-01-01 and 9999-12-31');
  return date;
}

builder.addScalarType('DateTime', DateTimeInRange, {
  description: 'A date and time in UTC, as an ISO-8601 string such as 2026-01-31T12:00:00.000Z.',
});
builder.addScalarType('JSON', JSONResolver, {
  description: 'Any JSON value.',
});

builder.queryType({ description: 'Reads, always limited to the workspace of the API key.' });
builder.mutationType({ description: 'Changes, always limited to the workspace of the API key.' });
builder.subscriptionType({
  description:
    'Live feeds over server-sent events (`Accept: text/event-stream`), limited to the workspace of the API key.',
});
