import SchemaBuilder from '@pothos/core';
import ZodPlugin from '@pothos/plugin-zod';
import { DateTimeResolver, JSONResolver } from 'graphql-scalars';
import type { Config } from '../config.js';
import type { Pool } from '../db/sql.js';
import type { DeliveryFeed } from '../delivery/updates.js';
import { badUserInput, zodIssues } from './errors.js';

/**
 * What every resolver receives. `workspaceId` and `apiKeyId` are set by the API-key
 * plugin before any resolver runs (introspection, which needs no key, reads neither).
 */
export type Context = {
  sql: Pool;
  config: Config;
  secretKey: Buffer;
  workspaceId: string;
  apiKeyId: string;
  deliveryFeed: DeliveryFeed;
};

export type Types = {
  Context: Context;
  DefaultFieldNullability: false;
  Scalars: {
    DateTime: { Input: Date; Output: Date | string };
    JSON: { Input: unknown; Output: unknown };
  };
};

export const builder = new SchemaBuilder<Types>({
  plugins: [ZodPlugin],
  defaultFieldNullability: false,
  zod: {
    // Yoga masks unknown errors, so a raw ZodError would reach clients as "Unexpected error".
    validationError: (error) => badUserInput(zodIssues(error)),
  },
});

builder.addScalarType('DateTime', DateTimeResolver, {
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
