import type { CodegenConfig } from '@graphql-codegen/cli';

const clientConfig = { useTypeImports: true, enumsAsTypes: true, scalars: { DateTime: 'string', JSON: 'unknown' } };

/**
 * What a frontend team does with our schema: GraphQL Code Generator's client preset,
 * typed documents for the operations in test/clients, and for the dashboard's (web/src).
 * `npm run codegen` regenerates; a test fails when the committed output is stale or the
 * operations no longer fit.
 */
const config: CodegenConfig = {
  schema: 'schema.graphql',
  generates: {
    'test/clients/generated/': {
      documents: ['test/clients/operations.ts'],
      preset: 'client',
      config: clientConfig,
      presetConfig: { fragmentMasking: false },
    },
    'web/src/gql/': {
      documents: ['web/src/**/*.{ts,tsx}', '!web/src/gql/**'],
      preset: 'client',
      // Only the types the page's operations use: schema additions elsewhere leave this output alone.
      config: { ...clientConfig, onlyOperationTypes: true },
      presetConfig: { fragmentMasking: false },
    },
  },
  // This project compiles as NodeNext ESM, where relative imports carry their extension.
  emitLegacyCommonJSImports: false,
  silent: true,
};

export default config;
