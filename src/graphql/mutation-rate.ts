import { defaultFieldResolver, type GraphQLFieldResolver, type GraphQLSchema } from 'graphql';
import type { Access } from './access.js';
import type { KeyMutationRate } from './builder.js';

/** Marks a mutation that charges the publish limit itself, with the events it was given. */
export const CHARGES_PUBLISH_LIMIT = { chargesPublishLimit: true } as const;

type Limited = { mutationRate?: KeyMutationRate; access?: Access };

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
      // A session's mutations are its key's (access.keyId).
      if (context.access) context.mutationRate?.mutation(context.access.keyId);
      return resolve(source, args, context, info);
    };
  }
  return schema;
}
