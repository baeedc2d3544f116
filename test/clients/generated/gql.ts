/* eslint-disable */
import * as types from './graphql.js';
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';

/**
 * Map of all GraphQL operations in the project.
 *
 * This map has several performance disadvantages:
 * 1. It is not tree-shakeable, so it will include all operations in the project.
 * 2. It is not minifiable, so the string of a GraphQL query will be multiple times inside the bundle.
 * 3. It does not support dead code elimination, so it will add unused operations.
 *
 * Therefore it is highly recommended to use the babel or swc plugin for production.
 * Learn more about it here: https://the-guild.dev/graphql/codegen/plugins/presets/preset-client#reducing-bundle-size
 */
type Documents = {
    "\n  mutation RegisterWebhook($input: RegisterWebhookInput!) {\n    registerWebhook(input: $input) {\n      id\n      name\n      agentId\n      url\n      events\n      active\n      secret\n      createdAt\n    }\n  }\n": typeof types.RegisterWebhookDocument,
    "\n  query ListWebhooks($agentId: String, $first: Int, $after: String) {\n    webhooks(agentId: $agentId, first: $first, after: $after) {\n      totalCount\n      edges {\n        cursor\n        node {\n          id\n          name\n          url\n          events\n          active\n          disabledReason\n        }\n      }\n      pageInfo {\n        hasNextPage\n        endCursor\n      }\n    }\n  }\n": typeof types.ListWebhooksDocument,
    "\n  query WebhookDeliveries($id: ID!, $status: DeliveryStatus, $first: Int) {\n    webhook(id: $id) {\n      id\n      deliveries(status: $status, first: $first) {\n        totalCount\n        edges {\n          node {\n            id\n            status\n            attemptCount\n            nextAttemptAt\n            event {\n              id\n              type\n              data\n            }\n            attempts {\n              attemptedAt\n              statusCode\n              durationMs\n              error\n            }\n          }\n        }\n      }\n    }\n  }\n": typeof types.WebhookDeliveriesDocument,
    "\n  mutation PublishEvent($input: PublishEventInput!) {\n    publishEvent(input: $input) {\n      id\n      type\n      agentId\n      createdAt\n    }\n  }\n": typeof types.PublishEventDocument,
};
const documents: Documents = {
    "\n  mutation RegisterWebhook($input: RegisterWebhookInput!) {\n    registerWebhook(input: $input) {\n      id\n      name\n      agentId\n      url\n      events\n      active\n      secret\n      createdAt\n    }\n  }\n": types.RegisterWebhookDocument,
    "\n  query ListWebhooks($agentId: String, $first: Int, $after: String) {\n    webhooks(agentId: $agentId, first: $first, after: $after) {\n      totalCount\n      edges {\n        cursor\n        node {\n          id\n          name\n          url\n          events\n          active\n          disabledReason\n        }\n      }\n      pageInfo {\n        hasNextPage\n        endCursor\n      }\n    }\n  }\n": types.ListWebhooksDocument,
    "\n  query WebhookDeliveries($id: ID!, $status: DeliveryStatus, $first: Int) {\n    webhook(id: $id) {\n      id\n      deliveries(status: $status, first: $first) {\n        totalCount\n        edges {\n          node {\n            id\n            status\n            attemptCount\n            nextAttemptAt\n            event {\n              id\n              type\n              data\n            }\n            attempts {\n              attemptedAt\n              statusCode\n              durationMs\n              error\n            }\n          }\n        }\n      }\n    }\n  }\n": types.WebhookDeliveriesDocument,
    "\n  mutation PublishEvent($input: PublishEventInput!) {\n    publishEvent(input: $input) {\n      id\n      type\n      agentId\n      createdAt\n    }\n  }\n": types.PublishEventDocument,
};

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 *
 *
 * @example
 * ```ts
 * const query = graphql(`query GetUser($id: ID!) { user(id: $id) { name } }`);
 * ```
 *
 * The query argument is unknown!
 * Please regenerate the types.
 */
export function graphql(source: string): unknown;

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation RegisterWebhook($input: RegisterWebhookInput!) {\n    registerWebhook(input: $input) {\n      id\n      name\n      agentId\n      url\n      events\n      active\n      secret\n      createdAt\n    }\n  }\n"): (typeof documents)["\n  mutation RegisterWebhook($input: RegisterWebhookInput!) {\n    registerWebhook(input: $input) {\n      id\n      name\n      agentId\n      url\n      events\n      active\n      secret\n      createdAt\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query ListWebhooks($agentId: String, $first: Int, $after: String) {\n    webhooks(agentId: $agentId, first: $first, after: $after) {\n      totalCount\n      edges {\n        cursor\n        node {\n          id\n          name\n          url\n          events\n          active\n          disabledReason\n        }\n      }\n      pageInfo {\n        hasNextPage\n        endCursor\n      }\n    }\n  }\n"): (typeof documents)["\n  query ListWebhooks($agentId: String, $first: Int, $after: String) {\n    webhooks(agentId: $agentId, first: $first, after: $after) {\n      totalCount\n      edges {\n        cursor\n        node {\n          id\n          name\n          url\n          events\n          active\n          disabledReason\n        }\n      }\n      pageInfo {\n        hasNextPage\n        endCursor\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query WebhookDeliveries($id: ID!, $status: DeliveryStatus, $first: Int) {\n    webhook(id: $id) {\n      id\n      deliveries(status: $status, first: $first) {\n        totalCount\n        edges {\n          node {\n            id\n            status\n            attemptCount\n            nextAttemptAt\n            event {\n              id\n              type\n              data\n            }\n            attempts {\n              attemptedAt\n              statusCode\n              durationMs\n              error\n            }\n          }\n        }\n      }\n    }\n  }\n"): (typeof documents)["\n  query WebhookDeliveries($id: ID!, $status: DeliveryStatus, $first: Int) {\n    webhook(id: $id) {\n      id\n      deliveries(status: $status, first: $first) {\n        totalCount\n        edges {\n          node {\n            id\n            status\n            attemptCount\n            nextAttemptAt\n            event {\n              id\n              type\n              data\n            }\n            attempts {\n              attemptedAt\n              statusCode\n              durationMs\n              error\n            }\n          }\n        }\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation PublishEvent($input: PublishEventInput!) {\n    publishEvent(input: $input) {\n      id\n      type\n      agentId\n      createdAt\n    }\n  }\n"): (typeof documents)["\n  mutation PublishEvent($input: PublishEventInput!) {\n    publishEvent(input: $input) {\n      id\n      type\n      agentId\n      createdAt\n    }\n  }\n"];

export function graphql(source: string) {
  return (documents as any)[source] ?? {};
}

export type DocumentType<TDocumentNode extends DocumentNode<any, any>> = TDocumentNode extends DocumentNode<  infer TType,  any>  ? TType  : never;