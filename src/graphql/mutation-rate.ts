import { defaultFieldResolver, type GraphQLFieldResolver, type GraphQLSchema } from 'graphql';
import type { KeyMutationRate } from './builder.js';

/** Marks a mutation that charges the publish limit itself, with the events it was given. */
export const CHARGES_PUBLISH_LIMIT = { chargesPublishLimit: true } as const;

type Limited = { mutationRate?: KeyMutationRate; apiKeyId?: string };

/**
 * Charges every Mutation root field to its key's mutation rate as it starts to execute:
 * however a document spells it (aliases, fragments, `... on Mutation`), each field that
 * runs is one mutation, and one that is refused has done nothing.
 */
export function chargeMutations(schema: GraphQLSchema): GraphQLSchema {
  for (const field of Object.values(schema.getMutationType()?.getFields() ?? {})) {
    if (field.extensions?.chargesPublishLimit) continue;
    const resolve: GraphQLFieldResolver<unknown, Limited> = field.resolve ?? defaultFieldResolver;
    field.resolve = (source, args, context: Limited, info) => {
      if (context.apiKeyId) context.mutationRate?.mutation(context.apiKeyId);
      return resolve(source, args, context, info);
    };
  }
  return schema;
}
