import { GraphQLError } from 'graphql';
import { z } from 'zod';
import { CAPABILITIES, type Capability } from '../graphql/access.js';
import { builder, type Context } from '../graphql/builder.js';
import { badUserInput, unauthenticated } from '../graphql/errors.js';
import { webhookRules } from '../webhooks/rules.js';
import { forwardedProto } from './caller.js';
import { createSession, SessionLimitReached, type SessionRecord } from './store.js';

export const PORTAL_TTL = { min: 300, max: 604_800, default: 3_600 } as const;
/** Agents one portal session may be limited to. */
export const MAX_PORTAL_AGENTS = 100;

const PortalCapability = builder.enumType('PortalCapability', {
  description: 'What a portal session may do. VIEW (reading) is always included.',
  values: {
    VIEW: { description: 'Read webhooks, events, deliveries and statistics (of its agents only).' },
    MANAGE_WEBHOOKS: {
      description:
        'Register (for its agents), edit, pause, resume, delete webhooks, rotate their secrets, send test events.',
    },
    RETRY: { description: 'Retry deliveries and recover failed ones.' },
    MANAGE_API_KEYS: {
      description:
        "List, create and revoke the workspace's API keys; only for a session of every agent (agentIds null).",
    },
  } as const,
});

const CreatePortalSessionInput = builder.inputType('CreatePortalSessionInput', {
  description: 'Who a portal session is for: which agents it sees, what it may do, and for how long.',
  fields: (t) => ({
    agentIds: t.stringList({
      description: `null: every agent of the workspace; else only these agents' webhooks, events and deliveries (1 to ${MAX_PORTAL_AGENTS}).`,
      validate: {
        schema: z
          .array(webhookRules.agentId)
          .min(1, 'must name at least one agent (null: every agent)')
          .max(MAX_PORTAL_AGENTS, `must name at most ${MAX_PORTAL_AGENTS} agents`),
      },
    }),
    capabilities: t.field({
      type: [PortalCapability],
      required: true,
      description: 'What the session may do besides reading; VIEW is implied.',
    }),
    expiresInSeconds: t.int({
      description: `How long the session lasts, ${PORTAL_TTL.min} to ${PORTAL_TTL.max} seconds (7 days); default ${PORTAL_TTL.default}.`,
      validate: {
        min: [PORTAL_TTL.min, { message: `must be at least ${PORTAL_TTL.min}` }],
        max: [PORTAL_TTL.max, { message: `must be at most ${PORTAL_TTL.max} (7 days)` }],
      },
    }),
  }),
});

type CreatedPortalSession = { url: string; session: SessionRecord };

const PortalSessionRef = builder.objectRef<CreatedPortalSession>('PortalSession').implement({
  description:
    "A dashboard for someone else (a platform's own customer), limited to some agents and capabilities. Its URL works once.",
  fields: (t) => ({
    url: t.string({
      description:
        'Opens the dashboard signed in as this session: <origin>/dashboard/portal#token=…. It works once and until expiresAt; give it to one person (it can be framed by the origins of DASHBOARD_FRAME_ANCESTORS).',
      resolve: (created) => created.url,
    }),
    expiresAt: t.field({
      type: 'DateTime',
      description: 'When the session ends, redeemed or not.',
      resolve: (created) => created.session.expiresAt,
    }),
    agentIds: t.stringList({
      nullable: true,
      description: 'The agents it sees; null: every agent of the workspace.',
      resolve: (created) => created.session.agentIds,
    }),
    capabilities: t.field({
      type: [PortalCapability],
      description: 'What it may do, VIEW included.',
      resolve: (created) => ['VIEW', ...created.session.capabilities] as Capability[],
    }),
  }),
});

/** PUBLIC_URL's origin, else the request's own (behind a proxy, X-Forwarded-Proto says the scheme). */
export function publicOrigin(ctx: Pick<Context, 'config' | 'request'>): string {
  if (ctx.config.publicOrigin) return ctx.config.publicOrigin;
  const url = new URL(ctx.request.url);
  const proto = forwardedProto(ctx.request.headers);
  if (proto === 'https' || proto === 'http') url.protocol = `${proto}:`;
  return url.origin;
}

export function sessionLimitExceeded(max: number): GraphQLError {
  return new GraphQLError(
    `This workspace already has ${max} live dashboard sessions, the most it may (DASHBOARD_SESSIONS_PER_WORKSPACE): sign out of some, or wait for them to expire`,
    { extensions: { code: 'LIMIT_EXCEEDED', limit: 'DASHBOARD_SESSIONS_PER_WORKSPACE', max } },
  );
}

builder.mutationField('createPortalSession', (t) =>
  t.field({
    type: PortalSessionRef,
    description:
      "Makes a portal session: a one-time URL that opens the dashboard limited to some agents and capabilities, until it expires. API keys (and a key's own sign-in) only. It ends when the key that made it is revoked; it counts against DASHBOARD_SESSIONS_PER_WORKSPACE (LIMIT_EXCEEDED).",
    args: { input: t.arg({ type: CreatePortalSessionInput, required: true, description: 'The session to make.' }) },
    resolve: async (_root, { input }, ctx) => {
      const agentIds = input.agentIds ? [...new Set(input.agentIds)] : null;
      const capabilities = CAPABILITIES.filter((c) => c !== 'VIEW' && input.capabilities.includes(c));
      if (agentIds && capabilities.includes('MANAGE_API_KEYS')) {
        throw badUserInput([
          {
            path: ['input', 'capabilities'],
            message: 'MANAGE_API_KEYS needs agentIds null: a workspace API key would reach every agent',
          },
        ]);
      }
      const created = await createSession(
        ctx.sql,
        {
          workspaceId: ctx.workspaceId,
          kind: 'portal',
          agentIds,
          capabilities,
          createdByKeyId: ctx.access.keyId,
          ttlSeconds: input.expiresInSeconds ?? PORTAL_TTL.default,
        },
        ctx.config.dashboardSessionsPerWorkspace,
      ).catch((error: unknown) => {
        if (error instanceof SessionLimitReached) throw sessionLimitExceeded(error.max);
        throw error;
      });
      if (!created) throw unauthenticated('The API key of this request was revoked');
      // In the fragment: browsers send it neither to the server (logs) nor in a Referer.
      return { url: `${publicOrigin(ctx)}/dashboard/portal#token=${created.token}`, session: created.session };
    },
  }),
);
