import { graphql } from './generated/gql.js';

/** Operations a dashboard and a backend integration would send, typed by codegen. */

export const RegisterWebhook = graphql(`
  mutation RegisterWebhook($input: RegisterWebhookInput!) {
    registerWebhook(input: $input) {
      id
      name
      agentId
      url
      events
      active
      secret
      createdAt
    }
  }
`);

export const ListWebhooks = graphql(`
  query ListWebhooks($agentId: String, $first: Int, $after: String) {
    webhooks(agentId: $agentId, first: $first, after: $after) {
      totalCount
      edges {
        cursor
        node {
          id
          name
          url
          events
          active
          disabledReason
        }
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
`);

export const WebhookDeliveries = graphql(`
  query WebhookDeliveries($id: ID!, $status: DeliveryStatus, $first: Int) {
    webhook(id: $id) {
      id
      deliveries(status: $status, first: $first) {
        totalCount
        edges {
          node {
            id
            status
            attemptCount
            nextAttemptAt
            event {
              id
              type
              data
            }
            attempts {
              attemptedAt
              statusCode
              durationMs
              error
            }
          }
        }
      }
    }
  }
`);

export const PublishEvent = graphql(`
  mutation PublishEvent($input: PublishEventInput!) {
    publishEvent(input: $input) {
      id
      type
      agentId
      createdAt
    }
  }
`);
