import { ID_PREFIX } from '../lib/ids.js';
import { builder } from './builder.js';

/**
 * Relay's object identification: every id says what it names by its prefix ("wh_",
 * "evt_", "dlv_"), so our ids are already global and the interface finds the type from
 * the id alone. The domains implement it; Query.node and Query.nodes live in nodes/.
 */
export type NodeShape = { id: string };

/** The types that implement Node, by the prefix of their ids. */
export const NODE_TYPES = {
  [ID_PREFIX.webhook]: 'Webhook',
  [ID_PREFIX.event]: 'Event',
  [ID_PREFIX.delivery]: 'Delivery',
} as const;

export const NodeRef = builder.interfaceRef<NodeShape>('Node').implement({
  description:
    'Anything with a global id (Webhook, Event, Delivery), so a client can fetch it again by id alone with Query.node or Query.nodes.',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'The global id; its prefix says the type ("wh_", "evt_", "dlv_").' }),
  }),
  resolveType: (node) => {
    const prefix = node.id.slice(0, node.id.indexOf('_') + 1) as keyof typeof NODE_TYPES;
    return NODE_TYPES[prefix];
  },
});
