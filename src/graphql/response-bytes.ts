import {
  defaultFieldResolver,
  type GraphQLFieldResolver,
  type GraphQLSchema,
  getNamedType,
  isObjectType,
  isScalarType,
} from 'graphql';
import type { ReadBudget } from './read-budget.js';

/**
 * Marks a field that charges the request's budget itself (Event.data knows its stored
 * size; measuring it again would cost as much as sending it).
 */
export const CHARGES_OWN_BYTES = { chargesOwnBytes: true } as const;

/** Scalars whose values can be long; enums, numbers, booleans and dates are a few bytes each. */
const SIZED_SCALARS = new Set(['String', 'ID', 'JSON']);

/**
 * Charges the bytes of every string and JSON value to the request's read budget as it is
 * resolved, so what a response weighs is counted where it is produced: every alias, every
 * repeated id, every stream message. Objects are charged as rows where they are read; the
 * fields between them are a few bytes each and bounded by the operation's size, so only
 * these leaves can make a small request produce a large answer.
 */
export function chargeResponseBytes(schema: GraphQLSchema): GraphQLSchema {
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isObjectType(type) || type.name.startsWith('__')) continue;
    for (const field of Object.values(type.getFields())) {
      const leaf = getNamedType(field.type);
      if (!isScalarType(leaf) || !SIZED_SCALARS.has(leaf.name) || field.extensions?.chargesOwnBytes) continue;
      field.resolve = charging(field.resolve ?? defaultFieldResolver);
    }
  }
  return schema;
}

type Budgeted = { budget?: ReadBudget };

function charging(resolve: GraphQLFieldResolver<unknown, Budgeted>): GraphQLFieldResolver<unknown, Budgeted> {
  return (source, args, context, info) => {
    const value = resolve(source, args, context, info);
    if (value instanceof Promise) return value.then((resolved) => charged(resolved, context));
    return charged(value, context);
  };
}

function charged(value: unknown, context: Budgeted): unknown {
  context.budget?.spend(0, sizeOf(value));
  return value;
}

/** About what the value adds to a JSON response. */
export function sizeOf(value: unknown): number {
  if (value == null) return 0;
  if (typeof value === 'string') return value.length + 2;
  if (Array.isArray(value)) return value.reduce((n: number, item) => n + sizeOf(item) + 1, 2);
  return JSON.stringify(value)?.length ?? 0;
}
