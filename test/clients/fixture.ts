import { createTestApp, type TestApp } from '../support/app.js';
import { createReceiver, sleep } from '../support/receiver.js';

/** The operations every client test sends, as a frontend would write them. */
export const REGISTER = `mutation Register($input: RegisterWebhookInput!) {
  registerWebhook(input: $input) { id name url events active secret }
}`;
export const LIST = `query Webhooks($agentId: String, $first: Int, $after: String, $last: Int, $before: String) {
  webhooks(agentId: $agentId, first: $first, after: $after, last: $last, before: $before) {
    edges { cursor node { id name } }
    pageInfo { hasNextPage endCursor hasPreviousPage startCursor }
  }
}`;

type Page = {
  webhooks: { edges: { node: { id: string } }[]; pageInfo: { hasPreviousPage: boolean; startCursor: string } };
};

/** Pages backwards from the end (`last`/`before`), as a "previous page" button does: every id, newest first. */
export async function pageBackwards(fetchPage: (before: string | null) => Promise<Page>): Promise<string[]> {
  const ids: string[] = [];
  let before: string | null = null;
  do {
    const { webhooks }: Page = await fetchPage(before);
    ids.unshift(...webhooks.edges.map((e) => e.node.id));
    before = webhooks.pageInfo.hasPreviousPage ? webhooks.pageInfo.startCursor : null;
  } while (before);
  return ids;
}
export const UPDATE = `mutation Update($id: ID!, $input: UpdateWebhookInput!) {
  updateWebhook(id: $id, input: $input) { id name active }
}`;
export const DELETE = `mutation Delete($id: ID!) { deleteWebhook(id: $id) }`;
export const PUBLISH = `mutation Publish($input: PublishEventInput!) {
  publishEvent(input: $input) { id type agentId }
}`;
export const SEND_TEST = `mutation SendTest($webhookId: ID!) { sendTestEvent(webhookId: $webhookId) { id status } }`;
export const FEED = `subscription Feed($webhookId: ID) {
  deliveryUpdates(webhookId: $webhookId) { id status attemptCount event { type } }
}`;

export type ClientFixture = { app: TestApp; url: string; apiKey: string; receiverUrl: string };

/** A server on a real port of 127.0.0.1 with its worker, a fresh workspace, and a receiver. */
export async function startServer(): Promise<ClientFixture> {
  const app = await createTestApp();
  const url = await app.listen();
  app.startWorker();
  const { apiKey } = await app.newWorkspace();
  // Answers after a moment, so a delivery is seen PENDING before it SUCCEEDS.
  const receiver = await createReceiver(() => ({ status: 200, delayMs: 200 }));
  return { app, url, apiKey, receiverUrl: receiver.url };
}

export const webhookInput = (receiverUrl: string, agentId: string, name = 'Client test') => ({
  name,
  agentId,
  url: receiverUrl,
  events: ['CONVERSATION_ENDED'],
});

/**
 * Sends test events until the feed has seen one of them delivered: a client cannot say
 * when its subscription is live on the server, so the first event may come too early.
 */
export async function untilDelivered(
  seen: { id: string; status: string }[],
  sendTestEvent: () => Promise<string>,
  timeoutMs = 30_000,
): Promise<string> {
  const sent: string[] = [];
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    sent.push(await sendTestEvent());
    for (let i = 0; i < 10; i++) {
      const hit = seen.find((d) => sent.includes(d.id) && d.status === 'SUCCEEDED');
      if (hit) return hit.id;
      await sleep(100);
    }
  }
  throw new Error(`the subscription saw ${JSON.stringify(seen)}; sent ${sent.join(', ')}`);
}
