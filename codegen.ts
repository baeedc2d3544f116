import type { CodegenConfig } from '@graphql-codegen/cli';

/**
 * What a frontend team does with our schema: GraphQL Code Generator's client preset,
 * typed documents for the operations in test/clients. `npm run codegen` regenerates;
 * a test fails when the committed output is stale or the operations no longer fit.
 */
const config: CodegenConfig = {
  schema: 'schema.graphql',
  documents: ['test/clients/operations.ts'],
  generates: {
    'test/clients/generated/': {
      preset: 'client',
      config: { useTypeImports: true, enumsAsTypes: true, scalars: { DateTime: 'string', JSON: 'unknown' } },
      presetConfig: { fragmentMasking: false },
    },
  },
  // This project compiles as NodeNext ESM, where relative imports carry their extension.
  emitLegacyCommonJSImports: false,
  silent: true,
};

export default config;
