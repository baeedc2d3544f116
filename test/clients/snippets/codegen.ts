import type { CodegenConfig } from '@graphql-codegen/cli';

/**
 * codegen.ts in your own repository (`npm i -D @graphql-codegen/cli @graphql-codegen/client-preset`,
 * then `npx graphql-codegen`). The schema is read by introspection, which needs no API key.
 */
const config: CodegenConfig = {
  schema: process.env.CONVO_HOOKS_URL ?? 'http://localhost:4000/graphql',
  documents: ['src/**/*.{ts,tsx}'],
  generates: {
    './src/gql/': {
      preset: 'client',
      // DateTime arrives as an ISO-8601 string; JSON (an event's data) is whatever was published.
      config: { scalars: { DateTime: 'string', JSON: 'unknown' } },
    },
  },
};

export default config;
