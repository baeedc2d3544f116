import { graphql } from './gql/index.js';

/**
 * Every request the dashboard makes: typed documents generated from schema.graphql
 * (`npm run codegen`), so the page can do nothing a client of the public API cannot.
 */

export const Workspace = graphql(`
  query Workspace {
    workspace {
      id
      name
    }
  }
`);

export const WebhookList = graphql(`
  query WebhookList($first: Int!, $after: String) {
    webhooks(first: $first, after: $after) {
      boundedCount {
        count
        exact
      }
      pageInfo {
        hasNextPage
        endCursor
      }
      edges {
        node {
          id
          name
          agentId
          url
          events
          active
          disabledReason
          health {
            state
            reason
          }
        }
      }
    }
  }
`);

export const WebhookDetail = graphql(`
  query WebhookDetail($id: ID!) {
    webhook(id: $id) {
      id
      name
      agentId
      url
      events
      active
      disabledReason
      createdAt
      updatedAt
      conditions {
        path
        operator
        value
      }
      excludedFields
      health {
        state
        reason
        consecutiveFailures
        failingSince
        nextProbeAt
      }
      deliveries(first: 20) {
        edges {
          node {
            ...DeliveryRow
          }
        }
      }
    }
  }
`);

export const DeliveryRowFields = graphql(`
  fragment DeliveryRow on Delivery {
    id
    status
    attemptCount
    createdAt
    updatedAt
    nextAttemptAt
    event {
      id
      type
    }
    webhook {
      id
      name
    }
  }
`);

export const DeliveryList = graphql(`
  query DeliveryList(
    $first: Int!
    $after: String
    $status: DeliveryStatus
    $webhookId: ID
    $since: DateTime
    $until: DateTime
  ) {
    deliveries(first: $first, after: $after, status: $status, webhookId: $webhookId, since: $since, until: $until) {
      boundedCount {
        count
        exact
      }
      pageInfo {
        hasNextPage
        endCursor
      }
      edges {
        node {
          ...DeliveryRow
        }
      }
    }
  }
`);

export const DeliveryDetail = graphql(`
  query DeliveryDetail($id: ID!) {
    delivery(id: $id) {
      ...DeliveryRow
      event {
        id
        type
        agentId
        conversationId
        createdAt
      }
      attempts(last: 50) {
        attemptedAt
        statusCode
        durationMs
        error
      }
    }
  }
`);

export const DeliveryUpdates = graphql(`
  subscription DeliveryUpdates($webhookId: ID) {
    deliveryUpdates(webhookId: $webhookId) {
      ...DeliveryRow
    }
  }
`);

export const WebhookChoices = graphql(`
  query WebhookChoices {
    webhooks(first: 100) {
      edges {
        node {
          id
          name
        }
      }
    }
  }
`);

export const EventTypes = graphql(`
  query EventTypes {
    eventTypes {
      name
      enumValue
      description
      example
    }
  }
`);

export const ApiKeys = graphql(`
  query ApiKeys {
    apiKeys {
      id
      prefix
      createdAt
      lastUsedAt
      revokedAt
    }
  }
`);

export const RegisterWebhook = graphql(`
  mutation RegisterWebhook($input: RegisterWebhookInput!) {
    registerWebhook(input: $input) {
      id
      name
      secret
    }
  }
`);

export const UpdateWebhook = graphql(`
  mutation UpdateWebhook($id: ID!, $input: UpdateWebhookInput!) {
    updateWebhook(id: $id, input: $input) {
      id
      name
      url
      events
      excludedFields
      active
      disabledReason
      health {
        state
        reason
      }
    }
  }
`);

export const DeleteWebhook = graphql(`
  mutation DeleteWebhook($id: ID!) {
    deleteWebhook(id: $id)
  }
`);

export const RotateWebhookSecret = graphql(`
  mutation RotateWebhookSecret($id: ID!) {
    rotateWebhookSecret(id: $id) {
      id
      secret
    }
  }
`);

export const SendTestEvent = graphql(`
  mutation SendTestEvent($webhookId: ID!) {
    sendTestEvent(webhookId: $webhookId) {
      ...DeliveryRow
    }
  }
`);

export const RecoverDeliveries = graphql(`
  mutation RecoverDeliveries($webhookId: ID!, $since: DateTime!) {
    recoverDeliveries(webhookId: $webhookId, since: $since)
  }
`);

export const RetryDelivery = graphql(`
  mutation RetryDelivery($id: ID!) {
    retryDelivery(id: $id) {
      ...DeliveryRow
    }
  }
`);

export const CreateApiKey = graphql(`
  mutation CreateApiKey {
    createApiKey {
      apiKey
      key {
        id
        prefix
        createdAt
        lastUsedAt
        revokedAt
      }
    }
  }
`);

export const RevokeApiKey = graphql(`
  mutation RevokeApiKey($id: ID!) {
    revokeApiKey(id: $id) {
      id
      revokedAt
    }
  }
`);
