/* eslint-disable */
/** Internal type. DO NOT USE DIRECTLY. */
type Exact<T extends { [key: string]: unknown }> = { [K in keyof T]: T[K] };
/** Internal type. DO NOT USE DIRECTLY. */
export type Incremental<T> = T | { [P in keyof T]?: P extends ' $fragmentName' | '__typename' ? T[P] : never };
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';
/** How a condition compares the value at its path with its own. Types are strict: "90" is not 90, and a missing path fails every operator, NE included. */
export type ConditionOperator =
  /** Equal: the same JSON type and value (null matches a JSON null). */
  | 'EQ'
  /** The path is present (with any value, null included). Takes no value. */
  | 'EXISTS'
  /** Greater than: both numbers, or both strings (compared by Unicode code point). */
  | 'GT'
  /** Greater than or equal; as GT. */
  | 'GTE'
  /** Equal (as EQ) to one of the values of a list of 1 to 50 scalars. */
  | 'IN'
  /** Less than; as GT. */
  | 'LT'
  /** Less than or equal; as GT. */
  | 'LTE'
  /** Present and not equal: of another type, or another value. */
  | 'NE';

/** A condition on an event's data. The webhook gets an event only when all its conditions hold; evaluated once, when the event is published. */
export type DataConditionInput = {
  /** How to compare. */
  operator: ConditionOperator;
  /** A dotted path into data ("analysis.sentiment"): 1 to 16 object keys of letters, digits, _ and -, at most 256 characters. Arrays are not indexed. */
  path: string;
  /** EQ, NE: a string, number, boolean or null. GT, GTE, LT, LTE: a number or a string. IN: a list of 1 to 50 of those scalars. EXISTS: left out. Strings at most 1000 characters. */
  value?: unknown;
};

/** Whether a webhook receives the events of one conversation in order. */
export type DeliveryOrdering =
  /** The deliveries of one conversation (events published with the same conversationId) go strictly in publish order: the next is not attempted until the one before it has SUCCEEDED or FAILED for good. A conversation that keeps failing holds back only itself; events without a conversationId are unordered. */
  | 'CONVERSATION'
  /** Deliveries go as soon as they are due, several at a time: the fastest. The default. */
  | 'NONE';

/** Where a delivery stands. */
export type DeliveryStatus =
  /** Every scheduled attempt failed, or the endpoint answered 410 Gone. */
  | 'FAILED'
  /** Not yet acknowledged; an attempt is due or scheduled. */
  | 'PENDING'
  /** The endpoint answered 2xx within the timeout. */
  | 'SUCCEEDED';

/** A conversation event to deliver to every matching webhook. */
export type PublishEventInput = {
  /** The agent the event is about, 1 to 64 characters. Only webhooks of this agent receive it. */
  agentId: string;
  /** Optional: the conversation this event belongs to, 1 to 128 characters. Sent in the payload as `conversationId`; webhooks with ordering CONVERSATION get the events of one conversation one at a time, in publish order. */
  conversationId?: string | null | undefined;
  /** The event data: a JSON object of at most 256 KiB and 64 levels of nesting, delivered as the payload's `data`. */
  data: unknown;
  /** Optional. Publishing again with the same key within 24 hours returns the first event and delivers nothing twice. 1 to 255 characters. */
  idempotencyKey?: string | null | undefined;
  /** What happened: a conversation event (notices such as WEBHOOK_DISABLED are emitted by the service only). */
  type: WebhookEvent;
};

/** A new webhook. */
export type RegisterWebhookInput = {
  /** Whether to start delivering at once. Default true. */
  active?: boolean | null | undefined;
  /** The agent to receive events for, 1 to 64 characters. */
  agentId: string;
  /** Conditions on the event's data, at most 10; all must hold for an event to be delivered here. Left out: none. */
  conditions?: Array<DataConditionInput> | null | undefined;
  /** Event types to deliver; at least one. Repeats are ignored. */
  events: Array<WebhookEvent>;
  /** Dotted paths into data (same form as a condition's path), at most 20, removed from what this webhook receives and is signed. Left out: none. */
  excludedFields?: Array<string> | null | undefined;
  /** Request headers to send with every delivery (e.g. Authorization for a receiver behind a gateway): at most 20, names unique regardless of case, 8192 characters of names and values in all. Stored encrypted. */
  headers?: Array<WebhookHeaderInput> | null | undefined;
  /** Human-readable name, 1 to 128 characters. */
  name: string;
  /** NONE (the default) or CONVERSATION: deliver each conversation's events one at a time, in order. */
  ordering?: DeliveryOrdering | null | undefined;
  /** The most deliveries per second, 1 to 10000, across every worker; null or left out: no limit. */
  rateLimitPerSecond?: number | null | undefined;
  /** Absolute http(s) URL, at most 2048 characters, of a publicly reachable endpoint. */
  url: string;
};

/** A conversation event a webhook can subscribe to. */
export type WebhookEvent =
  /** Post-call analysis of a session is complete. */
  | 'CONVERSATION_ANALYSED'
  /** An agent session closed. */
  | 'CONVERSATION_ENDED'
  /** An agent session began. */
  | 'CONVERSATION_STARTED'
  /** Notice: a delivery failed for good (its retry schedule ran out, or the endpoint answered 410 Gone). Sent to every subscribed webhook of the workspace but the one that failed, whatever its agent; never sent about a notice. */
  | 'DELIVERY_FAILED'
  /** Notice: the service turned a webhook of the workspace off (it answered 410 Gone, or every attempt failed for DELIVERY_DISABLE_AFTER). Sent to every subscribed webhook of the workspace but that one, whatever its agent. */
  | 'WEBHOOK_DISABLED';

/** A request header to send with every delivery. */
export type WebhookHeaderInput = {
  /** An HTTP header name (RFC 9110 token), 1 to 128 characters, not one the service sets or one that changes how a delivery is read (host, content-*, webhook-*, user-agent, traceparent…; see the README). */
  name: string;
  /** At most 1000 printable ASCII characters (no CR, LF or NUL); surrounding whitespace is trimmed. */
  value: string;
};

export type RegisterWebhookMutationVariables = Exact<{
  input: RegisterWebhookInput;
}>;


export type RegisterWebhookMutation = { registerWebhook: { id: string, name: string, agentId: string, url: string, events: Array<WebhookEvent>, active: boolean, secret: string | null, createdAt: string } };

export type ListWebhooksQueryVariables = Exact<{
  agentId?: string | null | undefined;
  first?: number | null | undefined;
  after?: string | null | undefined;
}>;


export type ListWebhooksQuery = { webhooks: { totalCount: number, edges: Array<{ cursor: string, node: { id: string, name: string, url: string, events: Array<WebhookEvent>, active: boolean, disabledReason: string | null } }>, pageInfo: { hasNextPage: boolean, endCursor: string | null } } };

export type WebhookDeliveriesQueryVariables = Exact<{
  id: string | number;
  status?: DeliveryStatus | null | undefined;
  first?: number | null | undefined;
}>;


export type WebhookDeliveriesQuery = { webhook: { id: string, deliveries: { totalCount: number, edges: Array<{ node: { id: string, status: DeliveryStatus, attemptCount: number, nextAttemptAt: string | null, event: { id: string, type: string, data: unknown }, attempts: Array<{ attemptedAt: string, statusCode: number | null, durationMs: number, error: string | null }> } }> } } | null };

export type PublishEventMutationVariables = Exact<{
  input: PublishEventInput;
}>;


export type PublishEventMutation = { publishEvent: { id: string, type: string, agentId: string, createdAt: string } };


export const RegisterWebhookDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"RegisterWebhook"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"input"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"RegisterWebhookInput"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"registerWebhook"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"input"},"value":{"kind":"Variable","name":{"kind":"Name","value":"input"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"agentId"}},{"kind":"Field","name":{"kind":"Name","value":"url"}},{"kind":"Field","name":{"kind":"Name","value":"events"}},{"kind":"Field","name":{"kind":"Name","value":"active"}},{"kind":"Field","name":{"kind":"Name","value":"secret"}},{"kind":"Field","name":{"kind":"Name","value":"createdAt"}}]}}]}}]} as unknown as DocumentNode<RegisterWebhookMutation, RegisterWebhookMutationVariables>;
export const ListWebhooksDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"ListWebhooks"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"agentId"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"String"}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"first"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"Int"}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"after"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"String"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"webhooks"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"agentId"},"value":{"kind":"Variable","name":{"kind":"Name","value":"agentId"}}},{"kind":"Argument","name":{"kind":"Name","value":"first"},"value":{"kind":"Variable","name":{"kind":"Name","value":"first"}}},{"kind":"Argument","name":{"kind":"Name","value":"after"},"value":{"kind":"Variable","name":{"kind":"Name","value":"after"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"totalCount"}},{"kind":"Field","name":{"kind":"Name","value":"edges"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"cursor"}},{"kind":"Field","name":{"kind":"Name","value":"node"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"url"}},{"kind":"Field","name":{"kind":"Name","value":"events"}},{"kind":"Field","name":{"kind":"Name","value":"active"}},{"kind":"Field","name":{"kind":"Name","value":"disabledReason"}}]}}]}},{"kind":"Field","name":{"kind":"Name","value":"pageInfo"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"hasNextPage"}},{"kind":"Field","name":{"kind":"Name","value":"endCursor"}}]}}]}}]}}]} as unknown as DocumentNode<ListWebhooksQuery, ListWebhooksQueryVariables>;
export const WebhookDeliveriesDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"WebhookDeliveries"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"id"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"status"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"DeliveryStatus"}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"first"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"Int"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"webhook"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"id"},"value":{"kind":"Variable","name":{"kind":"Name","value":"id"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"deliveries"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"status"},"value":{"kind":"Variable","name":{"kind":"Name","value":"status"}}},{"kind":"Argument","name":{"kind":"Name","value":"first"},"value":{"kind":"Variable","name":{"kind":"Name","value":"first"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"totalCount"}},{"kind":"Field","name":{"kind":"Name","value":"edges"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"node"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"attemptCount"}},{"kind":"Field","name":{"kind":"Name","value":"nextAttemptAt"}},{"kind":"Field","name":{"kind":"Name","value":"event"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"type"}},{"kind":"Field","name":{"kind":"Name","value":"data"}}]}},{"kind":"Field","name":{"kind":"Name","value":"attempts"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"attemptedAt"}},{"kind":"Field","name":{"kind":"Name","value":"statusCode"}},{"kind":"Field","name":{"kind":"Name","value":"durationMs"}},{"kind":"Field","name":{"kind":"Name","value":"error"}}]}}]}}]}}]}}]}}]}}]} as unknown as DocumentNode<WebhookDeliveriesQuery, WebhookDeliveriesQueryVariables>;
export const PublishEventDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"PublishEvent"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"input"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"PublishEventInput"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"publishEvent"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"input"},"value":{"kind":"Variable","name":{"kind":"Name","value":"input"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"type"}},{"kind":"Field","name":{"kind":"Name","value":"agentId"}},{"kind":"Field","name":{"kind":"Name","value":"createdAt"}}]}}]}}]} as unknown as DocumentNode<PublishEventMutation, PublishEventMutationVariables>;