import type { TypedDocumentNode } from '@urql/core';

/**
 * The Overview's statistics: Query.deliveryStats (CONTRACT.md section 8), which the
 * server's schema.graphql does not have yet, so this operation is kept out of codegen
 * (codegen.ts) and typed by hand from the contract. Until the server has the field it
 * answers with a validation error, and the Overview says the statistics are unavailable.
 *
 * Once deliveryStats and Webhook.backlog are in schema.graphql: remove this file's
 * exclusion from codegen.ts, replace each `untyped<…>(` below with `graphql(` (from
 * '../gql/index.js'), delete the hand-written types, and run `npm run codegen`.
 */
export const DeliveryStats = untyped<DeliveryStatsResult, DeliveryStatsVariables>(`
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

export type StatsInterval = 'MINUTE' | 'HOUR' | 'DAY';
export type DeliveryStatsVariables = { since: string; interval: StatsInterval };
export type DeliveryStatsBucket = {
  start: string;
  attempts: number;
  succeeded: number;
  failed: number;
  p50Ms: number | null;
  p95Ms: number | null;
};
export type DeliveryStatsResult = {
  deliveryStats: {
    attempts: number;
    succeeded: number;
    failed: number;
    successRate: number | null;
    p50Ms: number | null;
    p95Ms: number | null;
    buckets: DeliveryStatsBucket[];
  };
};

function untyped<Result, Variables>(source: string): TypedDocumentNode<Result, Variables> {
  // urql accepts a document as a string; the cast only carries the hand-written types.
  return source as unknown as TypedDocumentNode<Result, Variables>;
}

/** The server has no Query.deliveryStats yet (an older or not yet merged server). */
export function statsUnavailable(message: string | undefined): boolean {
  return /Cannot query field "deliveryStats"|Unknown type "StatsInterval"/.test(message ?? '');
}

/** Webhook.backlog (CONTRACT.md section 8), kept out of codegen for the same reason as DeliveryStats. */
export const WebhookBacklogs = untyped<WebhookBacklogsResult, { ids: string[] }>(`
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

export type WebhookBacklog = { pending: number; oldestPendingAt: string | null };
export type WebhookBacklogsResult = { nodes: ({ id?: string; backlog?: WebhookBacklog } | null)[] };
