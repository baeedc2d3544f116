import { GraphQLError } from 'graphql';
import { builder, type Context } from '../graphql/builder.js';
import { connectionCost, connectionOf, pageArgs, resolvePage } from '../graphql/connection.js';
import { badUserInput, findOwn, mustFindOwn } from '../graphql/errors.js';
import { NodeRef } from '../graphql/node.js';
import {
  type CONDITION_OPERATORS,
  conditionRules,
  type DataCondition,
  excludedFieldsRules,
  MAX_CONDITIONS,
  MAX_EXCLUDED_FIELDS,
  normaliseCondition,
} from './conditions.js';
import { eventEnumValues } from './event-types.js';
import { MAX_HEADERS, webhookRules } from './rules.js';
import { openHeaders, openingKeys, sealHeaders, type WebhookHeader } from './secrets.js';
import type { Webhook, WebhookWithSecret } from './store.js';
import * as store from './store.js';
import { targetUrlProblem } from './targets.js';

const openedHeaders = new WeakMap<Webhook, WebhookHeader[]>();

export const WebhookEvent = builder.enumType('WebhookEvent', {
  description: 'A conversation event a webhook can subscribe to.',
  values: eventEnumValues(),
});

const DeliveryOrderingEnum = builder.enumType('DeliveryOrdering', {
  description: 'Whether a webhook receives the events of one conversation in order.',
  values: {
    NONE: {
      value: 'none',
      description: 'Deliveries go as soon as they are due, several at a time: the fastest. The default.',
    },
    CONVERSATION: {
      value: 'conversation',
      description:
        'The deliveries of one conversation (events published with the same conversationId) go strictly in publish order: the next is not attempted until the one before it has SUCCEEDED or FAILED for good. A conversation that keeps failing holds back only itself; events without a conversationId are unordered.',
    },
  } as const,
});

export const WebhookRef = builder.objectRef<Webhook | WebhookWithSecret>('Webhook');

const WebhookHeaderRef = builder.objectRef<WebhookHeader>('WebhookHeader');
WebhookHeaderRef.implement({
  description: 'A request header sent with every delivery to a webhook.',
  fields: (t) => ({
    name: t.exposeString('name', { description: 'The header name, as it was given.' }),
    value: t.exposeString('value', { description: 'The header value, in clear (stored encrypted).' }),
  }),
});

const WebhookHeaderInput = builder.inputType('WebhookHeaderInput', {
  description: 'A request header to send with every delivery.',
  fields: (t) => ({
    name: t.string({
      required: true,
      description:
        'An HTTP header name (RFC 9110 token), 1 to 128 characters, not one the service sets or one that changes how a delivery is read (host, content-*, webhook-*, user-agent, traceparent…; see the README).',
    }),
    value: t.string({
      required: true,
      description: 'At most 1000 printable ASCII characters (no CR, LF or NUL); surrounding whitespace is trimmed.',
    }),
  }),
});

const ConditionOperatorEnum = builder.enumType('ConditionOperator', {
  description:
    'How a condition compares the value at its path with its own. Types are strict: "90" is not 90, and a missing path fails every operator, NE included.',
  values: {
    EQ: { description: 'Equal: the same JSON type and value (null matches a JSON null).' },
    NE: { description: 'Present and not equal: of another type, or another value.' },
    GT: { description: 'Greater than: both numbers, or both strings (compared by Unicode code point).' },
    GTE: { description: 'Greater than or equal; as GT.' },
    LT: { description: 'Less than; as GT.' },
    LTE: { description: 'Less than or equal; as GT.' },
    IN: { description: 'Equal (as EQ) to one of the values of a list of 1 to 50 scalars.' },
    EXISTS: { description: 'The path is present (with any value, null included). Takes no value.' },
  } satisfies Record<(typeof CONDITION_OPERATORS)[number], unknown>,
});

const DataConditionRef = builder.objectRef<DataCondition>('DataCondition');
DataConditionRef.implement({
  description: "A condition on an event's data that must hold for the webhook to receive the event.",
  fields: (t) => ({
    path: t.exposeString('path', { description: 'A dotted path into the event\'s data, e.g. "analysis.sentiment".' }),
    operator: t.field({
      type: ConditionOperatorEnum,
      description: 'How the value at the path is compared.',
      resolve: (condition) => condition.operator,
    }),
    value: t.field({
      type: 'JSON',
      nullable: true,
      description: 'What it is compared with: a scalar, a list of scalars for IN, null for EXISTS.',
      resolve: (condition) => condition.value,
    }),
  }),
});

const DataConditionInput = builder.inputType('DataConditionInput', {
  description:
    "A condition on an event's data. The webhook gets an event only when all its conditions hold; evaluated once, when the event is published.",
  fields: (t) => ({
    path: t.string({
      required: true,
      description:
        'A dotted path into data ("analysis.sentiment"): 1 to 16 object keys of letters, digits, _ and -, at most 256 characters. Arrays are not indexed.',
    }),
    operator: t.field({ type: ConditionOperatorEnum, required: true, description: 'How to compare.' }),
    value: t.field({
      type: 'JSON',
      required: false,
      description:
        'EQ, NE: a string, number, boolean or null. GT, GTE, LT, LTE: a number or a string. IN: a list of 1 to 50 of those scalars. EXISTS: left out. Strings at most 1000 characters.',
    }),
  }),
});

WebhookRef.implement({
  interfaces: [NodeRef],
  description: 'An HTTPS endpoint that receives signed event deliveries for one agent of a workspace.',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'Unique id: "wh_" followed by 16 base62 characters.' }),
    workspaceId: t.exposeID('workspaceId', {
      description: 'The workspace that owns this webhook: "org_" + 16 base62 characters.',
    }),
    name: t.exposeString('name', {
      description: 'Human-readable name, for listings and dashboards; need not be unique.',
    }),
    agentId: t.exposeString('agentId', { description: 'The agent whose conversation events this webhook receives.' }),
    url: t.exposeString('url', { description: 'Where deliveries are POSTed.' }),
    events: t.field({
      type: [WebhookEvent],
      description: 'The event types delivered to this webhook; all others are ignored.',
      resolve: (webhook) => webhook.events,
    }),
    active: t.exposeBoolean('active', {
      description: 'Whether new events are delivered. A paused webhook keeps what was already accepted for it.',
    }),
    secret: t.string({
      nullable: true,
      description:
        'The signing secret ("whsec_" + base64). Returned only by registerWebhook and rotateWebhookSecret; null everywhere else. Store it when you get it.',
      // Read paths never load the secret, so only the objects those two mutations build carry one.
      resolve: (webhook) => ('secret' in webhook ? webhook.secret : null),
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When the webhook was registered.' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime', description: 'When the webhook was last changed.' }),
    disabledReason: t.exposeString('disabledReason', {
      nullable: true,
      description: 'Why the system turned this webhook off (e.g. the endpoint answered 410 Gone); null otherwise.',
    }),
    rateLimitPerSecond: t.exposeInt('rateLimitPerSecond', {
      nullable: true,
      description:
        'The most deliveries per second this webhook receives, across every worker (a burst of a tenth of a second more is allowed); null: no limit. Deliveries waiting for the limit are not failures.',
    }),
    ordering: t.field({
      type: DeliveryOrderingEnum,
      description: "NONE, or CONVERSATION: one conversation's deliveries one at a time, in publish order.",
      resolve: (webhook) => webhook.ordering,
    }),
    headers: t.field({
      type: [WebhookHeaderRef],
      description:
        'Request headers sent with every delivery, in the order given. Values are shown in clear to the workspace that set them; they are stored encrypted and never logged.',
      // Read with the webhook's row, but made like any objects: up to MAX_HEADERS of them, each
      // costing 1 (a webhook's headers asked for 2,000 times would otherwise cost nothing
      // and make 40,000 objects before the response budget noticed).
      complexity: { field: MAX_HEADERS, multiplier: 1 },
      resolve: (webhook, _args, ctx) => {
        // Opened once per row read: a webhook asked for a hundred times (`nodes` with a
        // repeated id) is charged a hundred copies of bytes, but decrypted once.
        let headers = openedHeaders.get(webhook);
        if (!headers) {
          headers = openHeaders(
            openingKeys(ctx.secretKey, ctx.config.secretEncryptionOldKeys),
            webhook.headersEncrypted,
            webhook.id,
          );
          openedHeaders.set(webhook, headers);
        }
        return headers;
      },
    }),
    conditions: t.field({
      type: [DataConditionRef],
      description:
        "Conditions on an event's data that must all hold for this webhook to receive it; [] for none. Notices and test events ignore them.",
      // At most 10, read with the webhook's own row.
      complexity: 0,
      resolve: (webhook) => webhook.conditions,
    }),
    excludedFields: t.stringList({
      description:
        "Dotted paths removed from the event's data in what this webhook receives and is signed; the stored event keeps them.",
      resolve: (webhook) => webhook.excludedFields,
    }),
    health: t.field({
      type: WebhookHealthRef,
      description: 'How the endpoint has been answering, and whether deliveries to it are held back while it fails.',
      resolve: (webhook) => webhook,
    }),
  }),
});

const WebhookHealthState = builder.enumType('WebhookHealthState', {
  description: "The endpoint's state, from its recent delivery attempts.",
  values: {
    HEALTHY: { description: 'The last attempt succeeded, or none has been made yet.' },
    DEGRADED: {
      description: 'Recent attempts failed, fewer than the circuit breaker allows; deliveries go on as usual.',
    },
    FAILING: {
      description:
        'The circuit is open: attempts kept failing, so the endpoint gets one attempt at a time (a probe), and other due deliveries wait, unclaimed and not failed. The first success closes it.',
    },
  },
});

const WebhookHealthRef = builder.objectRef<Webhook>('WebhookHealth');
WebhookHealthRef.implement({
  description: "A webhook endpoint's health, as the delivery workers recorded it.",
  fields: (t) => ({
    state: t.field({
      type: WebhookHealthState,
      description: 'HEALTHY, DEGRADED (failing, circuit still closed) or FAILING (circuit open).',
      resolve: (w) => (w.circuitOpenedAt ? 'FAILING' : w.consecutiveFailures > 0 ? 'DEGRADED' : 'HEALTHY'),
    }),
    reason: t.exposeString('circuitReason', {
      nullable: true,
      description:
        'Why the circuit is open, e.g. "5 consecutive attempts failed, the last with: HTTP 503"; null unless FAILING.',
    }),
    consecutiveFailures: t.exposeInt('consecutiveFailures', {
      description: 'Failed attempts since the last success.',
    }),
    failingSince: t.expose('failingSince', {
      type: 'DateTime',
      nullable: true,
      description: 'When the current run of failures began; null after a success.',
    }),
    circuitOpenedAt: t.expose('circuitOpenedAt', {
      type: 'DateTime',
      nullable: true,
      description: 'When the circuit opened; null unless FAILING.',
    }),
    nextProbeAt: t.expose('nextProbeAt', {
      type: 'DateTime',
      nullable: true,
      description:
        "The earliest next attempt while FAILING (the wait doubles with each failed probe, up to 5 minutes); a delivery's own retry schedule still applies. Null unless FAILING.",
    }),
  }),
});

const WebhookConnection = connectionOf('Webhook', WebhookRef, 'webhook');

const DEFAULT_SECRET_OVERLAP_SECONDS = 24 * 60 * 60;
const MAX_SECRET_OVERLAP_SECONDS = 7 * 24 * 60 * 60;

const RegisterWebhookInput = builder.inputType('RegisterWebhookInput', {
  description: 'A new webhook.',
  fields: (t) => ({
    name: t.string({
      required: true,
      description: 'Human-readable name, 1 to 128 characters.',
      validate: { schema: webhookRules.name },
    }),
    agentId: t.string({
      required: true,
      description: 'The agent to receive events for, 1 to 64 characters.',
      validate: { schema: webhookRules.agentId },
    }),
    url: t.string({
      required: true,
      description: 'Absolute http(s) URL, at most 2048 characters, of a publicly reachable endpoint.',
      validate: { schema: webhookRules.url },
    }),
    events: t.field({
      type: [WebhookEvent],
      required: true,
      description: 'Event types to deliver; at least one. Repeats are ignored.',
      validate: { schema: webhookRules.events },
    }),
    active: t.boolean({ required: false, description: 'Whether to start delivering at once. Default true.' }),
    rateLimitPerSecond: t.int({
      required: false,
      description: 'The most deliveries per second, 1 to 10000, across every worker; null or left out: no limit.',
      validate: { schema: webhookRules.rateLimitPerSecond },
    }),
    ordering: t.field({
      type: DeliveryOrderingEnum,
      required: false,
      description: "NONE (the default) or CONVERSATION: deliver each conversation's events one at a time, in order.",
    }),
    headers: t.field({
      type: [WebhookHeaderInput],
      required: false,
      description: `Request headers to send with every delivery (e.g. Authorization for a receiver behind a gateway): at most 20, names unique regardless of case, 8192 characters of names and values in all. Stored encrypted.`,
      validate: { schema: webhookRules.headers },
    }),
    conditions: t.field({
      type: [DataConditionInput],
      required: false,
      description: `Conditions on the event's data, at most ${MAX_CONDITIONS}; all must hold for an event to be delivered here. Left out: none.`,
      validate: { schema: conditionRules },
    }),
    excludedFields: t.stringList({
      required: false,
      description: `Dotted paths into data (same form as a condition's path), at most ${MAX_EXCLUDED_FIELDS}, removed from what this webhook receives and is signed. Left out: none.`,
      validate: { schema: excludedFieldsRules },
    }),
  }),
});

const UpdateWebhookInput = builder.inputType('UpdateWebhookInput', {
  description: 'Changes to a webhook. Fields left out stay as they are.',
  fields: (t) => ({
    name: t.string({ description: 'New name, 1 to 128 characters.', validate: { schema: webhookRules.name } }),
    url: t.string({
      description: 'New endpoint URL; same rules as at registration.',
      validate: { schema: webhookRules.url },
    }),
    events: t.field({
      type: [WebhookEvent],
      description: 'New set of event types, replacing the old one; at least one.',
      validate: { schema: webhookRules.events },
    }),
    active: t.boolean({
      description:
        'false pauses deliveries; true resumes them, clears disabledReason and gives the endpoint a fresh start (health HEALTHY).',
    }),
    rateLimitPerSecond: t.int({
      description: 'New rate limit, 1 to 10000 deliveries per second; null removes the limit.',
      validate: { schema: webhookRules.rateLimitPerSecond },
    }),
    ordering: t.field({
      type: DeliveryOrderingEnum,
      description:
        'NONE or CONVERSATION. Turning it off sends the deliveries waiting behind others in their conversation at once.',
    }),
    headers: t.field({
      type: [WebhookHeaderInput],
      description: 'New request headers, replacing the whole set (same rules as at registration); [] removes them all.',
      validate: { schema: webhookRules.headers },
    }),
    conditions: t.field({
      type: [DataConditionInput],
      description: 'New conditions, replacing the whole set (same rules as at registration); [] removes them all.',
      validate: { schema: conditionRules },
    }),
    excludedFields: t.stringList({
      description: 'New excluded fields, replacing the whole set (same rules as at registration); [] removes them all.',
      validate: { schema: excludedFieldsRules },
    }),
  }),
  // A field left out stays as it is; an explicit null is a mistake, not "clear it".
  validate: {
    refine: [
      [(input) => input.name !== null, { message: 'must not be null', path: ['name'] }],
      [(input) => input.url !== null, { message: 'must not be null', path: ['url'] }],
      [(input) => input.events !== null, { message: 'must not be null', path: ['events'] }],
      [(input) => input.active !== null, { message: 'must not be null', path: ['active'] }],
      [(input) => input.ordering !== null, { message: 'must not be null', path: ['ordering'] }],
      [
        (input) => input.headers !== null,
        { message: 'must not be null (send [] to remove every header)', path: ['headers'] },
      ],
      [
        (input) => input.conditions !== null,
        { message: 'must not be null (send [] to remove every condition)', path: ['conditions'] },
      ],
      [
        (input) => input.excludedFields !== null,
        { message: 'must not be null (send [] to remove every excluded field)', path: ['excludedFields'] },
      ],
    ],
  },
});

/** The delivery target policy depends on configuration, so it runs here rather than in the static input webhookRules. */
function assertTargetAllowed(ctx: Context, url: string) {
  const problem = targetUrlProblem(new URL(url), ctx.config.allowPrivateTargets);
  if (problem) throw badUserInput([{ path: ['input', 'url'], message: problem }]);
}

const unique = <T extends string>(items: readonly T[]) => [...new Set(items)];

builder.queryFields((t) => ({
  webhook: t.field({
    type: WebhookRef,
    nullable: true,
    description: 'One webhook of your workspace, or null when there is none with this id.',
    args: { id: t.arg.id({ required: true, description: 'The webhook id ("wh_…").' }) },
    resolve: (_root, { id }, ctx) =>
      findOwn('webhook', id, (id) => store.findWebhook(ctx.sql, ctx.workspaceId, id, ctx.access.agentIds)),
  }),
  webhooks: t.field({
    type: WebhookConnection,
    description: 'Webhooks of your workspace, newest first.',
    complexity: connectionCost,
    args: {
      agentId: t.arg.string({
        description: 'Only webhooks of this agent.',
        validate: { schema: webhookRules.agentId },
      }),
      active: t.arg.boolean({ description: 'Only active (true) or only paused (false) webhooks.' }),
      ...pageArgs(t.arg),
    },
    resolve: (_root, args, ctx) => {
      const filter = { agentId: args.agentId, active: args.active, agentIds: ctx.access.agentIds };
      return resolvePage(
        args,
        ctx.budget,
        (window, limit) => store.listWebhooks(ctx.sql, ctx.workspaceId, filter, window, limit),
        (atMost) => store.countWebhooks(ctx.sql, ctx.workspaceId, filter, atMost),
      );
    },
  }),
}));

builder.mutationFields((t) => ({
  registerWebhook: t.field({
    type: WebhookRef,
    description:
      'Registers a webhook and returns it with its signing secret, the only time a read shows the secret. A workspace and each of its agents hold a limited number of webhooks (LIMIT_EXCEEDED names the limit).',
    args: { input: t.arg({ type: RegisterWebhookInput, required: true, description: 'The new webhook.' }) },
    resolve: async (_root, { input }, ctx) => {
      assertTargetAllowed(ctx, input.url);
      const limits = ctx.config.webhookLimits;
      const webhook = {
        workspaceId: ctx.workspaceId,
        // Validated values: the rules have trimmed them.
        name: input.name,
        agentId: input.agentId,
        url: input.url,
        events: unique(input.events),
        active: input.active ?? true,
        rateLimitPerSecond: input.rateLimitPerSecond ?? null,
        ordering: input.ordering ?? 'none',
        headers: input.headers ?? [],
        conditions: (input.conditions ?? []).map(normaliseCondition),
        excludedFields: unique(input.excludedFields ?? []),
      };
      return store.insertWebhook(ctx.sql, ctx.secretKey, webhook, limits).catch((error: unknown) => {
        if (!(error instanceof store.WebhookLimitReached)) throw error;
        const [whose, max] =
          error.setting === 'MAX_WEBHOOKS_PER_AGENT'
            ? [`agent "${input.agentId}"`, limits.perAgent]
            : ['this workspace', limits.perWorkspace];
        throw new GraphQLError(
          `${whose} already has ${max} webhooks, the most it may (${error.setting}): delete one first, or send several event types to one webhook`,
          { extensions: { code: 'LIMIT_EXCEEDED', limit: error.setting, max } },
        );
      });
    },
  }),
  updateWebhook: t.field({
    type: WebhookRef,
    description: 'Changes the given fields of a webhook. The secret stays as it is (see rotateWebhookSecret).',
    args: {
      id: t.arg.id({ required: true, description: 'The webhook to change.' }),
      input: t.arg({ type: UpdateWebhookInput, required: true, description: 'The fields to change.' }),
    },
    resolve: async (_root, { id, input }, ctx) => {
      if (input.url != null) assertTargetAllowed(ctx, input.url);
      return mustFindOwn('webhook', id, (id) =>
        store.updateWebhook(ctx.sql, ctx.workspaceId, id, {
          name: input.name ?? undefined,
          url: input.url ?? undefined,
          events: input.events ? unique(input.events) : undefined,
          active: input.active ?? undefined,
          // Here null means something: no limit.
          rateLimitPerSecond: input.rateLimitPerSecond,
          ordering: input.ordering ?? undefined,
          headersEncrypted: input.headers ? sealHeaders(ctx.secretKey, input.headers, id) : undefined,
          conditions: input.conditions?.map(normaliseCondition),
          excludedFields: input.excludedFields ? unique(input.excludedFields) : undefined,
        }),
      );
    },
  }),
  rotateWebhookSecret: t.field({
    type: WebhookRef,
    description: `Gives the webhook a new signing secret and returns it (the only time it is shown). The current secret keeps signing for expireCurrentInSeconds; secrets retired by earlier rotations keep their own expiry. Deliveries carry one signature per valid secret, at most ${store.MAX_SIGNING_SECRETS} (the newest).`,
    args: {
      id: t.arg.id({ required: true, description: 'The webhook whose secret to replace.' }),
      expireCurrentInSeconds: t.arg.int({
        required: false,
        description: `How long the current secret keeps signing, 0 to ${MAX_SECRET_OVERLAP_SECONDS} seconds. Default 86400 (24 hours); 0 stops it at once. Secrets retired earlier are not affected.`,
        validate: {
          min: [0, { message: 'must be 0 or more' }],
          max: [MAX_SECRET_OVERLAP_SECONDS, { message: `must be at most ${MAX_SECRET_OVERLAP_SECONDS} (7 days)` }],
        },
      }),
    },
    resolve: async (_root, { id, expireCurrentInSeconds }, ctx) => {
      const keep = expireCurrentInSeconds ?? DEFAULT_SECRET_OVERLAP_SECONDS;
      return mustFindOwn('webhook', id, (id) => store.rotateSecret(ctx.sql, ctx.secretKey, ctx.workspaceId, id, keep));
    },
  }),
  deleteWebhook: t.id({
    description: 'Deletes a webhook; nothing more is delivered to it. Returns the id.',
    args: { id: t.arg.id({ required: true, description: 'The webhook to delete.' }) },
    resolve: async (_root, { id }, ctx) => {
      return mustFindOwn('webhook', id, async (id) =>
        (await store.deleteWebhook(ctx.sql, ctx.workspaceId, id)) ? id : null,
      );
    },
  }),
}));
