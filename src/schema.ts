import { lexicographicSortSchema, printSchema } from 'graphql';
import { builder } from './graphql/builder.js';
import { chargeMutations } from './graphql/mutation-rate.js';
import { chargeResponseBytes } from './graphql/response-bytes.js';
import { enforceAccess } from './sessions/capabilities.js';
import './webhooks/schema.js';
import './events/schema.js';
import './events/erasure-schema.js';
import './deliveries/schema.js';
import './stats/schema.js';
import './nodes/schema.js';
import './workspaces/schema.js';
import './auth/schema.js';
import './sessions/schema.js';

/** The whole API. Each domain module registers its own types and root fields on import. */
// Access is checked outermost: a refused field is neither charged nor run.
export const schema = enforceAccess(chargeMutations(chargeResponseBytes(builder.toSchema({ sortSchema: true }))));

/** The SDL committed as `schema.graphql`, sorted so diffs show only real changes. */
export function printedSchema(): string {
  return `${printSchema(lexicographicSortSchema(schema))}\n`;
}
