import { builder } from '../graphql/builder.js';
import { notFound } from '../graphql/errors.js';
import { findWorkspace, type Workspace } from './store.js';

const WorkspaceRef = builder.objectRef<Workspace>('Workspace').implement({
  description: 'A tenant: it owns webhooks, events, deliveries and API keys.',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'Unique id: "org_" followed by 16 base62 characters.' }),
    name: t.exposeString('name', { description: 'The name the operator gave it.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When the workspace was created.' }),
  }),
});

builder.queryField('workspace', (t) =>
  t.field({
    type: WorkspaceRef,
    description: 'The workspace of the API key in use: "who am I".',
    resolve: async (_root, _args, ctx) =>
      // A key whose workspace is gone cannot authenticate; this only guards the type.
      (await findWorkspace(ctx.sql, ctx.workspaceId)) ?? Promise.reject(notFound('workspace', ctx.workspaceId)),
  }),
);
