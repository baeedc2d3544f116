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
