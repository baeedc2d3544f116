import { GraphQLError } from 'graphql';
import { builder } from '../graphql/builder.js';
import { badUserInput, notFound } from '../graphql/errors.js';
import { isId } from '../lib/ids.js';
import {
  API_KEYS_LISTED,
  type ApiKeySummary,
  createApiKeyWithinLimit,
  listRecentApiKeys,
  MAX_ACTIVE_API_KEYS,
  revokeOwnApiKey,
} from './api-keys.js';

const ApiKeyRef = builder.objectRef<ApiKeySummary>('ApiKey').implement({
  description: 'An API key of the workspace. The key itself is shown only once, by createApiKey; this is its record.',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'Unique id: "key_" followed by 16 base62 characters. Not the key.' }),
    prefix: t.exposeString('prefix', {
      description: 'The first 10 characters of the key ("chk_" and 6 more), to tell keys apart.',
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When the key was created.' }),
    revokedAt: t.expose('revokedAt', {
      type: 'DateTime',
      nullable: true,
      description: 'When the key was revoked; null while it is active.',
    }),
    lastUsedAt: t.field({
      type: 'DateTime',
      nullable: true,
      description:
        'When the key last authenticated a request; null if never. Recorded in batches: it may trail the last use by about a minute.',
      resolve: (key, _args, ctx) => {
        const pending = ctx.apiKeys.pendingUse(key.id);
        return pending && (!key.lastUsedAt || pending > key.lastUsedAt) ? pending : key.lastUsedAt;
      },
    }),
  }),
});

const CreatedApiKeyRef = builder.objectRef<{ apiKey: string; key: ApiKeySummary }>('CreatedApiKey').implement({
  description: 'A new API key: the key itself, shown this once and never again, and its record.',
  fields: (t) => ({
    apiKey: t.exposeString('apiKey', {
      description: 'The key to send as X-API-Key ("chk_" + 40 base62 characters). Store it now: it is not kept.',
    }),
    key: t.field({
      type: ApiKeyRef,
      description: 'The new key as apiKeys lists it.',
      resolve: (created) => created.key,
    }),
  }),
});

builder.queryField('apiKeys', (t) =>
  t.field({
    type: [ApiKeyRef],
    description: `The workspace's API keys, newest first: every active one, then the most recently created revoked ones, ${API_KEYS_LISTED} at most. Never the keys themselves.`,
    complexity: { field: 1, multiplier: API_KEYS_LISTED },
    resolve: (_root, _args, ctx) => listRecentApiKeys(ctx.sql, ctx.workspaceId),
  }),
);

builder.mutationFields((t) => ({
  createApiKey: t.field({
    type: CreatedApiKeyRef,
    description: `Creates another API key for the workspace and returns it, the only time it is shown. At most ${MAX_ACTIVE_API_KEYS} keys may be active at once: past that, TOO_MANY_API_KEYS.`,
    resolve: async (_root, _args, ctx) => {
      const created = await createApiKeyWithinLimit(ctx.sql, ctx.workspaceId);
      if (!created) {
        throw new GraphQLError(
          `This workspace already has ${MAX_ACTIVE_API_KEYS} active API keys, the most it may hold: revoke one first`,
          { extensions: { code: 'TOO_MANY_API_KEYS', maxActiveKeys: MAX_ACTIVE_API_KEYS } },
        );
      }
      return created;
    },
  }),
  revokeApiKey: t.field({
    type: ApiKeyRef,
    description:
      "Revokes an API key of the workspace: within a second it authenticates nothing on any instance, and its open subscriptions end. Revoking a revoked key returns it unchanged. The key of this very request may be revoked, but not the workspace's last active key (BAD_USER_INPUT on id): create another first.",
    args: { id: t.arg.id({ required: true, description: 'The id of the key ("key_…"), not the key itself.' }) },
    resolve: async (_root, { id }, ctx) => {
      if (!isId('apiKey', id)) throw notFound('apiKey', id);
      const revoked = await revokeOwnApiKey(ctx.sql, ctx.workspaceId, id);
      if (revoked === 'not_found') throw notFound('apiKey', id);
      if (revoked === 'last_active_key') {
        throw badUserInput([
          { path: ['id'], message: "is the workspace's last active API key: create another before revoking it" },
        ]);
      }
      // This instance need not wait for its own notice.
      ctx.apiKeys.forget(id);
      return revoked;
    },
  }),
}));
