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
    "\n  query Workspace {\n    workspace {\n      id\n      name\n    }\n  }\n": typeof types.WorkspaceDocument,
    "\n  query WebhookList($first: Int!, $after: String) {\n    webhooks(first: $first, after: $after) {\n      boundedCount {\n        count\n        exact\n      }\n      pageInfo {\n        hasNextPage\n        endCursor\n      }\n      edges {\n        node {\n          id\n          name\n          agentId\n          url\n          events\n          active\n          disabledReason\n          health {\n            state\n            reason\n          }\n        }\n      }\n    }\n  }\n": typeof types.WebhookListDocument,
    "\n  query WebhookDetail($id: ID!) {\n    webhook(id: $id) {\n      id\n      name\n      agentId\n      url\n      events\n      active\n      disabledReason\n      createdAt\n      updatedAt\n      conditions {\n        path\n        operator\n        value\n      }\n      excludedFields\n      health {\n        state\n        reason\n        consecutiveFailures\n        failingSince\n        nextProbeAt\n      }\n      deliveries(first: 20) {\n        edges {\n          node {\n            ...DeliveryRow\n          }\n        }\n      }\n    }\n  }\n": typeof types.WebhookDetailDocument,
    "\n  fragment DeliveryRow on Delivery {\n    id\n    status\n    attemptCount\n    createdAt\n    updatedAt\n    nextAttemptAt\n    event {\n      id\n      type\n    }\n    webhook {\n      id\n      name\n    }\n  }\n": typeof types.DeliveryRowFragmentDoc,
    "\n  query DeliveryList(\n    $first: Int!\n    $after: String\n    $status: DeliveryStatus\n    $webhookId: ID\n    $since: DateTime\n    $until: DateTime\n  ) {\n    deliveries(first: $first, after: $after, status: $status, webhookId: $webhookId, since: $since, until: $until) {\n      boundedCount {\n        count\n        exact\n      }\n      pageInfo {\n        hasNextPage\n        endCursor\n      }\n      edges {\n        node {\n          ...DeliveryRow\n        }\n      }\n    }\n  }\n": typeof types.DeliveryListDocument,
    "\n  query DeliveryDetail($id: ID!) {\n    delivery(id: $id) {\n      ...DeliveryRow\n      event {\n        id\n        type\n        agentId\n        conversationId\n        createdAt\n      }\n      attempts(last: 50) {\n        attemptedAt\n        statusCode\n        durationMs\n        error\n      }\n    }\n  }\n": typeof types.DeliveryDetailDocument,
    "\n  subscription DeliveryUpdates($webhookId: ID) {\n    deliveryUpdates(webhookId: $webhookId) {\n      ...DeliveryRow\n    }\n  }\n": typeof types.DeliveryUpdatesDocument,
    "\n  query WebhookChoices {\n    webhooks(first: 100) {\n      edges {\n        node {\n          id\n          name\n        }\n      }\n    }\n  }\n": typeof types.WebhookChoicesDocument,
    "\n  query EventTypes {\n    eventTypes {\n      name\n      enumValue\n      description\n      example\n    }\n  }\n": typeof types.EventTypesDocument,
    "\n  query ApiKeys {\n    apiKeys {\n      id\n      prefix\n      createdAt\n      lastUsedAt\n      revokedAt\n    }\n  }\n": typeof types.ApiKeysDocument,
    "\n  mutation RegisterWebhook($input: RegisterWebhookInput!) {\n    registerWebhook(input: $input) {\n      id\n      name\n      secret\n    }\n  }\n": typeof types.RegisterWebhookDocument,
    "\n  mutation UpdateWebhook($id: ID!, $input: UpdateWebhookInput!) {\n    updateWebhook(id: $id, input: $input) {\n      id\n      name\n      url\n      events\n      excludedFields\n      active\n      disabledReason\n      health {\n        state\n        reason\n      }\n    }\n  }\n": typeof types.UpdateWebhookDocument,
    "\n  mutation DeleteWebhook($id: ID!) {\n    deleteWebhook(id: $id)\n  }\n": typeof types.DeleteWebhookDocument,
    "\n  mutation RotateWebhookSecret($id: ID!) {\n    rotateWebhookSecret(id: $id) {\n      id\n      secret\n    }\n  }\n": typeof types.RotateWebhookSecretDocument,
    "\n  mutation SendTestEvent($webhookId: ID!) {\n    sendTestEvent(webhookId: $webhookId) {\n      ...DeliveryRow\n    }\n  }\n": typeof types.SendTestEventDocument,
    "\n  mutation RecoverDeliveries($webhookId: ID!, $since: DateTime!) {\n    recoverDeliveries(webhookId: $webhookId, since: $since)\n  }\n": typeof types.RecoverDeliveriesDocument,
    "\n  mutation RetryDelivery($id: ID!) {\n    retryDelivery(id: $id) {\n      ...DeliveryRow\n    }\n  }\n": typeof types.RetryDeliveryDocument,
    "\n  mutation CreateApiKey {\n    createApiKey {\n      apiKey\n      key {\n        id\n        prefix\n        createdAt\n        lastUsedAt\n        revokedAt\n      }\n    }\n  }\n": typeof types.CreateApiKeyDocument,
    "\n  mutation RevokeApiKey($id: ID!) {\n    revokeApiKey(id: $id) {\n      id\n      revokedAt\n    }\n  }\n": typeof types.RevokeApiKeyDocument,
    "\n  query DeliveryStats($since: DateTime!, $interval: StatsInterval!) {\n    deliveryStats(since: $since, interval: $interval) {\n      attempts\n      succeeded\n      failed\n      successRate\n      p50Ms\n      p95Ms\n      buckets {\n        start\n        attempts\n        succeeded\n        failed\n        p50Ms\n        p95Ms\n      }\n    }\n  }\n": typeof types.DeliveryStatsDocument,
    "\n  query WebhookBacklogs($ids: [ID!]!) {\n    nodes(ids: $ids) {\n      ... on Webhook {\n        id\n        backlog {\n          pending\n          oldestPendingAt\n        }\n      }\n    }\n  }\n": typeof types.WebhookBacklogsDocument,
};
const documents: Documents = {
    "\n  query Workspace {\n    workspace {\n      id\n      name\n    }\n  }\n": types.WorkspaceDocument,
    "\n  query WebhookList($first: Int!, $after: String) {\n    webhooks(first: $first, after: $after) {\n      boundedCount {\n        count\n        exact\n      }\n      pageInfo {\n        hasNextPage\n        endCursor\n      }\n      edges {\n        node {\n          id\n          name\n          agentId\n          url\n          events\n          active\n          disabledReason\n          health {\n            state\n            reason\n          }\n        }\n      }\n    }\n  }\n": types.WebhookListDocument,
    "\n  query WebhookDetail($id: ID!) {\n    webhook(id: $id) {\n      id\n      name\n      agentId\n      url\n      events\n      active\n      disabledReason\n      createdAt\n      updatedAt\n      conditions {\n        path\n        operator\n        value\n      }\n      excludedFields\n      health {\n        state\n        reason\n        consecutiveFailures\n        failingSince\n        nextProbeAt\n      }\n      deliveries(first: 20) {\n        edges {\n          node {\n            ...DeliveryRow\n          }\n        }\n      }\n    }\n  }\n": types.WebhookDetailDocument,
    "\n  fragment DeliveryRow on Delivery {\n    id\n    status\n    attemptCount\n    createdAt\n    updatedAt\n    nextAttemptAt\n    event {\n      id\n      type\n    }\n    webhook {\n      id\n      name\n    }\n  }\n": types.DeliveryRowFragmentDoc,
    "\n  query DeliveryList(\n    $first: Int!\n    $after: String\n    $status: DeliveryStatus\n    $webhookId: ID\n    $since: DateTime\n    $until: DateTime\n  ) {\n    deliveries(first: $first, after: $after, status: $status, webhookId: $webhookId, since: $since, until: $until) {\n      boundedCount {\n        count\n        exact\n      }\n      pageInfo {\n        hasNextPage\n        endCursor\n      }\n      edges {\n        node {\n          ...DeliveryRow\n        }\n      }\n    }\n  }\n": types.DeliveryListDocument,
    "\n  query DeliveryDetail($id: ID!) {\n    delivery(id: $id) {\n      ...DeliveryRow\n      event {\n        id\n        type\n        agentId\n        conversationId\n        createdAt\n      }\n      attempts(last: 50) {\n        attemptedAt\n        statusCode\n        durationMs\n        error\n      }\n    }\n  }\n": types.DeliveryDetailDocument,
    "\n  subscription DeliveryUpdates($webhookId: ID) {\n    deliveryUpdates(webhookId: $webhookId) {\n      ...DeliveryRow\n    }\n  }\n": types.DeliveryUpdatesDocument,
    "\n  query WebhookChoices {\n    webhooks(first: 100) {\n      edges {\n        node {\n          id\n          name\n        }\n      }\n    }\n  }\n": types.WebhookChoicesDocument,
    "\n  query EventTypes {\n    eventTypes {\n      name\n      enumValue\n      description\n      example\n    }\n  }\n": types.EventTypesDocument,
    "\n  query ApiKeys {\n    apiKeys {\n      id\n      prefix\n      createdAt\n      lastUsedAt\n      revokedAt\n    }\n  }\n": types.ApiKeysDocument,
    "\n  mutation RegisterWebhook($input: RegisterWebhookInput!) {\n    registerWebhook(input: $input) {\n      id\n      name\n      secret\n    }\n  }\n": types.RegisterWebhookDocument,
    "\n  mutation UpdateWebhook($id: ID!, $input: UpdateWebhookInput!) {\n    updateWebhook(id: $id, input: $input) {\n      id\n      name\n      url\n      events\n      excludedFields\n      active\n      disabledReason\n      health {\n        state\n        reason\n      }\n    }\n  }\n": types.UpdateWebhookDocument,
    "\n  mutation DeleteWebhook($id: ID!) {\n    deleteWebhook(id: $id)\n  }\n": types.DeleteWebhookDocument,
    "\n  mutation RotateWebhookSecret($id: ID!) {\n    rotateWebhookSecret(id: $id) {\n      id\n      secret\n    }\n  }\n": types.RotateWebhookSecretDocument,
    "\n  mutation SendTestEvent($webhookId: ID!) {\n    sendTestEvent(webhookId: $webhookId) {\n      ...DeliveryRow\n    }\n  }\n": types.SendTestEventDocument,
    "\n  mutation RecoverDeliveries($webhookId: ID!, $since: DateTime!) {\n    recoverDeliveries(webhookId: $webhookId, since: $since)\n  }\n": types.RecoverDeliveriesDocument,
    "\n  mutation RetryDelivery($id: ID!) {\n    retryDelivery(id: $id) {\n      ...DeliveryRow\n    }\n  }\n": types.RetryDeliveryDocument,
    "\n  mutation CreateApiKey {\n    createApiKey {\n      apiKey\n      key {\n        id\n        prefix\n        createdAt\n        lastUsedAt\n        revokedAt\n      }\n    }\n  }\n": types.CreateApiKeyDocument,
    "\n  mutation RevokeApiKey($id: ID!) {\n    revokeApiKey(id: $id) {\n      id\n      revokedAt\n    }\n  }\n": types.RevokeApiKeyDocument,
    "\n  query DeliveryStats($since: DateTime!, $interval: StatsInterval!) {\n    deliveryStats(since: $since, interval: $interval) {\n      attempts\n      succeeded\n      failed\n      successRate\n      p50Ms\n      p95Ms\n      buckets {\n        start\n        attempts\n        succeeded\n        failed\n        p50Ms\n        p95Ms\n      }\n    }\n  }\n": types.DeliveryStatsDocument,
    "\n  query WebhookBacklogs($ids: [ID!]!) {\n    nodes(ids: $ids) {\n      ... on Webhook {\n        id\n        backlog {\n          pending\n          oldestPendingAt\n        }\n      }\n    }\n  }\n": types.WebhookBacklogsDocument,
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
export function graphql(source: "\n  query Workspace {\n    workspace {\n      id\n      name\n    }\n  }\n"): (typeof documents)["\n  query Workspace {\n    workspace {\n      id\n      name\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query WebhookList($first: Int!, $after: String) {\n    webhooks(first: $first, after: $after) {\n      boundedCount {\n        count\n        exact\n      }\n      pageInfo {\n        hasNextPage\n        endCursor\n      }\n      edges {\n        node {\n          id\n          name\n          agentId\n          url\n          events\n          active\n          disabledReason\n          health {\n            state\n            reason\n          }\n        }\n      }\n    }\n  }\n"): (typeof documents)["\n  query WebhookList($first: Int!, $after: String) {\n    webhooks(first: $first, after: $after) {\n      boundedCount {\n        count\n        exact\n      }\n      pageInfo {\n        hasNextPage\n        endCursor\n      }\n      edges {\n        node {\n          id\n          name\n          agentId\n          url\n          events\n          active\n          disabledReason\n          health {\n            state\n            reason\n          }\n        }\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query WebhookDetail($id: ID!) {\n    webhook(id: $id) {\n      id\n      name\n      agentId\n      url\n      events\n      active\n      disabledReason\n      createdAt\n      updatedAt\n      conditions {\n        path\n        operator\n        value\n      }\n      excludedFields\n      health {\n        state\n        reason\n        consecutiveFailures\n        failingSince\n        nextProbeAt\n      }\n      deliveries(first: 20) {\n        edges {\n          node {\n            ...DeliveryRow\n          }\n        }\n      }\n    }\n  }\n"): (typeof documents)["\n  query WebhookDetail($id: ID!) {\n    webhook(id: $id) {\n      id\n      name\n      agentId\n      url\n      events\n      active\n      disabledReason\n      createdAt\n      updatedAt\n      conditions {\n        path\n        operator\n        value\n      }\n      excludedFields\n      health {\n        state\n        reason\n        consecutiveFailures\n        failingSince\n        nextProbeAt\n      }\n      deliveries(first: 20) {\n        edges {\n          node {\n            ...DeliveryRow\n          }\n        }\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  fragment DeliveryRow on Delivery {\n    id\n    status\n    attemptCount\n    createdAt\n    updatedAt\n    nextAttemptAt\n    event {\n      id\n      type\n    }\n    webhook {\n      id\n      name\n    }\n  }\n"): (typeof documents)["\n  fragment DeliveryRow on Delivery {\n    id\n    status\n    attemptCount\n    createdAt\n    updatedAt\n    nextAttemptAt\n    event {\n      id\n      type\n    }\n    webhook {\n      id\n      name\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query DeliveryList(\n    $first: Int!\n    $after: String\n    $status: DeliveryStatus\n    $webhookId: ID\n    $since: DateTime\n    $until: DateTime\n  ) {\n    deliveries(first: $first, after: $after, status: $status, webhookId: $webhookId, since: $since, until: $until) {\n      boundedCount {\n        count\n        exact\n      }\n      pageInfo {\n        hasNextPage\n        endCursor\n      }\n      edges {\n        node {\n          ...DeliveryRow\n        }\n      }\n    }\n  }\n"): (typeof documents)["\n  query DeliveryList(\n    $first: Int!\n    $after: String\n    $status: DeliveryStatus\n    $webhookId: ID\n    $since: DateTime\n    $until: DateTime\n  ) {\n    deliveries(first: $first, after: $after, status: $status, webhookId: $webhookId, since: $since, until: $until) {\n      boundedCount {\n        count\n        exact\n      }\n      pageInfo {\n        hasNextPage\n        endCursor\n      }\n      edges {\n        node {\n          ...DeliveryRow\n        }\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query DeliveryDetail($id: ID!) {\n    delivery(id: $id) {\n      ...DeliveryRow\n      event {\n        id\n        type\n        agentId\n        conversationId\n        createdAt\n      }\n      attempts(last: 50) {\n        attemptedAt\n        statusCode\n        durationMs\n        error\n      }\n    }\n  }\n"): (typeof documents)["\n  query DeliveryDetail($id: ID!) {\n    delivery(id: $id) {\n      ...DeliveryRow\n      event {\n        id\n        type\n        agentId\n        conversationId\n        createdAt\n      }\n      attempts(last: 50) {\n        attemptedAt\n        statusCode\n        durationMs\n        error\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  subscription DeliveryUpdates($webhookId: ID) {\n    deliveryUpdates(webhookId: $webhookId) {\n      ...DeliveryRow\n    }\n  }\n"): (typeof documents)["\n  subscription DeliveryUpdates($webhookId: ID) {\n    deliveryUpdates(webhookId: $webhookId) {\n      ...DeliveryRow\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query WebhookChoices {\n    webhooks(first: 100) {\n      edges {\n        node {\n          id\n          name\n        }\n      }\n    }\n  }\n"): (typeof documents)["\n  query WebhookChoices {\n    webhooks(first: 100) {\n      edges {\n        node {\n          id\n          name\n        }\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query EventTypes {\n    eventTypes {\n      name\n      enumValue\n      description\n      example\n    }\n  }\n"): (typeof documents)["\n  query EventTypes {\n    eventTypes {\n      name\n      enumValue\n      description\n      example\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query ApiKeys {\n    apiKeys {\n      id\n      prefix\n      createdAt\n      lastUsedAt\n      revokedAt\n    }\n  }\n"): (typeof documents)["\n  query ApiKeys {\n    apiKeys {\n      id\n      prefix\n      createdAt\n      lastUsedAt\n      revokedAt\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation RegisterWebhook($input: RegisterWebhookInput!) {\n    registerWebhook(input: $input) {\n      id\n      name\n      secret\n    }\n  }\n"): (typeof documents)["\n  mutation RegisterWebhook($input: RegisterWebhookInput!) {\n    registerWebhook(input: $input) {\n      id\n      name\n      secret\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation UpdateWebhook($id: ID!, $input: UpdateWebhookInput!) {\n    updateWebhook(id: $id, input: $input) {\n      id\n      name\n      url\n      events\n      excludedFields\n      active\n      disabledReason\n      health {\n        state\n        reason\n      }\n    }\n  }\n"): (typeof documents)["\n  mutation UpdateWebhook($id: ID!, $input: UpdateWebhookInput!) {\n    updateWebhook(id: $id, input: $input) {\n      id\n      name\n      url\n      events\n      excludedFields\n      active\n      disabledReason\n      health {\n        state\n        reason\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation DeleteWebhook($id: ID!) {\n    deleteWebhook(id: $id)\n  }\n"): (typeof documents)["\n  mutation DeleteWebhook($id: ID!) {\n    deleteWebhook(id: $id)\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation RotateWebhookSecret($id: ID!) {\n    rotateWebhookSecret(id: $id) {\n      id\n      secret\n    }\n  }\n"): (typeof documents)["\n  mutation RotateWebhookSecret($id: ID!) {\n    rotateWebhookSecret(id: $id) {\n      id\n      secret\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation SendTestEvent($webhookId: ID!) {\n    sendTestEvent(webhookId: $webhookId) {\n      ...DeliveryRow\n    }\n  }\n"): (typeof documents)["\n  mutation SendTestEvent($webhookId: ID!) {\n    sendTestEvent(webhookId: $webhookId) {\n      ...DeliveryRow\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation RecoverDeliveries($webhookId: ID!, $since: DateTime!) {\n    recoverDeliveries(webhookId: $webhookId, since: $since)\n  }\n"): (typeof documents)["\n  mutation RecoverDeliveries($webhookId: ID!, $since: DateTime!) {\n    recoverDeliveries(webhookId: $webhookId, since: $since)\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation RetryDelivery($id: ID!) {\n    retryDelivery(id: $id) {\n      ...DeliveryRow\n    }\n  }\n"): (typeof documents)["\n  mutation RetryDelivery($id: ID!) {\n    retryDelivery(id: $id) {\n      ...DeliveryRow\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation CreateApiKey {\n    createApiKey {\n      apiKey\n      key {\n        id\n        prefix\n        createdAt\n        lastUsedAt\n        revokedAt\n      }\n    }\n  }\n"): (typeof documents)["\n  mutation CreateApiKey {\n    createApiKey {\n      apiKey\n      key {\n        id\n        prefix\n        createdAt\n        lastUsedAt\n        revokedAt\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation RevokeApiKey($id: ID!) {\n    revokeApiKey(id: $id) {\n      id\n      revokedAt\n    }\n  }\n"): (typeof documents)["\n  mutation RevokeApiKey($id: ID!) {\n    revokeApiKey(id: $id) {\n      id\n      revokedAt\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query DeliveryStats($since: DateTime!, $interval: StatsInterval!) {\n    deliveryStats(since: $since, interval: $interval) {\n      attempts\n      succeeded\n      failed\n      successRate\n      p50Ms\n      p95Ms\n      buckets {\n        start\n        attempts\n        succeeded\n        failed\n        p50Ms\n        p95Ms\n      }\n    }\n  }\n"): (typeof documents)["\n  query DeliveryStats($since: DateTime!, $interval: StatsInterval!) {\n    deliveryStats(since: $since, interval: $interval) {\n      attempts\n      succeeded\n      failed\n      successRate\n      p50Ms\n      p95Ms\n      buckets {\n        start\n        attempts\n        succeeded\n        failed\n        p50Ms\n        p95Ms\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query WebhookBacklogs($ids: [ID!]!) {\n    nodes(ids: $ids) {\n      ... on Webhook {\n        id\n        backlog {\n          pending\n          oldestPendingAt\n        }\n      }\n    }\n  }\n"): (typeof documents)["\n  query WebhookBacklogs($ids: [ID!]!) {\n    nodes(ids: $ids) {\n      ... on Webhook {\n        id\n        backlog {\n          pending\n          oldestPendingAt\n        }\n      }\n    }\n  }\n"];

export function graphql(source: string) {
  return (documents as any)[source] ?? {};
}

export type DocumentType<TDocumentNode extends DocumentNode<any, any>> = TDocumentNode extends DocumentNode<  infer TType,  any>  ? TType  : never;