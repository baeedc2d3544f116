import type { DeliveryStatsQuery, WebhookBacklogsQuery } from '../gql/graphql.js';
import { graphql } from '../gql/index.js';

/** The Overview's statistics: Query.deliveryStats (CONTRACT.md section 8), read from rollups. */
export const DeliveryStats = graphql(`
  query DeliveryStats($since: DateTime!, $interval: StatsInterval!) {
    deliveryStats(since: $since, interval: $interval) {
      attempts
      succeeded
      failed
      successRate
      p50Ms
      p95Ms
      buckets {
        start
        attempts
        succeeded
        failed
        p50Ms
        p95Ms
      }
    }
  }
`);

export type DeliveryStatsBucket = DeliveryStatsQuery['deliveryStats']['buckets'][number];

/** Each listed webhook's backlog (deliveries waiting), by id. */
export const WebhookBacklogs = graphql(`
  query WebhookBacklogs($ids: [ID!]!) {
    nodes(ids: $ids) {
      ... on Webhook {
        id
        backlog {
          pending
          oldestPendingAt
        }
      }
    }
  }
`);

type BacklogNode = NonNullable<WebhookBacklogsQuery['nodes'][number]>;
export type WebhookBacklog = Extract<BacklogNode, { backlog: unknown }>['backlog'];
