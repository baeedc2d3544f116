/** The operations tests send, written as a client would. */
export const WEBHOOK_FIELDS = `id workspaceId name agentId url events active secret createdAt updatedAt disabledReason`;

export const REGISTER = `mutation Register($input: RegisterWebhookInput!) {
  registerWebhook(input: $input) { ${WEBHOOK_FIELDS} }
}`;

export const GET = `query Get($id: ID!) { webhook(id: $id) { ${WEBHOOK_FIELDS} } }`;

export const LIST = `query List($agentId: String, $active: Boolean, $first: Int, $after: String) {
  webhooks(agentId: $agentId, active: $active, first: $first, after: $after) {
    totalCount
    edges { cursor node { ${WEBHOOK_FIELDS} } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}`;

export const UPDATE = `mutation Update($id: ID!, $input: UpdateWebhookInput!) {
  updateWebhook(id: $id, input: $input) { ${WEBHOOK_FIELDS} }
}`;

export const DELETE = `mutation Delete($id: ID!) { deleteWebhook(id: $id) }`;

export const validWebhook = (overrides: Record<string, unknown> = {}) => ({
  name: 'Call events - production',
  agentId: 'D5D0p7TUs66TTAEAx',
  url: 'https://receiver.example.com/hooks',
  events: ['CONVERSATION_STARTED', 'CONVERSATION_ENDED'],
  ...overrides,
});

export const PUBLISH = `mutation Publish($input: PublishEventInput!) {
  publishEvent(input: $input) { id type agentId data createdAt }
}`;

export const DELIVERY_FIELDS = `id status attemptCount nextAttemptAt createdAt
  webhook { id } event { id type }
  attempts { attemptedAt statusCode durationMs error responseBody }`;

export const GET_DELIVERY = `query Delivery($id: ID!) { delivery(id: $id) { ${DELIVERY_FIELDS} } }`;

export const EVENT_DELIVERIES = `query EventDeliveries($id: ID!) {
  event(id: $id) { id type data deliveries(first: 100) { totalCount edges { node { ${DELIVERY_FIELDS} } } } }
}`;

export const WEBHOOK_DELIVERIES = `query WebhookDeliveries($id: ID!, $status: DeliveryStatus, $first: Int, $after: String) {
  webhook(id: $id) {
    deliveries(status: $status, first: $first, after: $after) {
      totalCount
      edges { node { ${DELIVERY_FIELDS} } }
      pageInfo { hasNextPage endCursor }
    }
  }
}`;

export const conversationEnded = (
  agentId: string,
  data: Record<string, unknown> = { conversationId: 'conv_1', durationSeconds: 184 },
) => ({
  agentId,
  type: 'CONVERSATION_ENDED',
  data,
});

/** A key one character off: never the same character, or a key ending in it would still be valid. */
export const oneCharOff = (apiKey: string) => `${apiKey.slice(0, -1)}${apiKey.endsWith('X') ? 'Y' : 'X'}`;
