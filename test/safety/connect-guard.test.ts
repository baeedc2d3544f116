import { beforeAll, describe, expect, it } from 'vitest';
import { insertWebhook } from '../../src/webhooks/store.js';
import { createTestApp, type TestApp } from '../support/app.js';
import { conversationEnded, PUBLISH, WEBHOOK_DELIVERIES } from '../support/operations.js';
import { createReceiver, eventually, sleep } from '../support/receiver.js';

/**
 * The guard at delivery time, with private targets NOT allowed. The webhooks are
 * written straight to the database, as if registered before their host name started
 * resolving to a private address (DNS rebinding): registration's check cannot see that.
 */
let app: TestApp;
let apiKey: string;
let workspaceId: string;
beforeAll(async () => {
  app = await createTestApp({ ALLOW_PRIVATE_TARGETS: 'false', DELIVERY_RETRY_SCHEDULE: '1m' });
  ({ apiKey, workspaceId } = await app.newWorkspace());
  app.startWorker();
});

async function attemptTo(url: string, agentId: string) {
  const webhook = await insertWebhook(app.sql, app.secretKey, {
    workspaceId,
    name: 'rebound',
    agentId,
    url,
    events: ['conversation_ended'],
    active: true,
    rateLimitPerSecond: null,
  });
  await app.graphql(PUBLISH, { apiKey, variables: { input: conversationEnded(agentId) } });
  return eventually(async () => {
    const res = await app.graphql(WEBHOOK_DELIVERIES, { apiKey, variables: { id: webhook.id } });
    const node = res.data?.webhook.deliveries.edges[0]?.node;
    return node?.attemptCount === 1 ? node : undefined;
  });
}

describe('at every attempt, the address actually connected to is vetted', () => {
  it('refuses a host name that resolves to 127.0.0.1, records why without the address, and retries', async () => {
    const receiver = await createReceiver();
    const delivery = await attemptTo(`http://localhost:${receiver.port}/hooks`, 'name');
    expect(delivery.status).toBe('PENDING');
    expect(delivery.attempts[0]).toMatchObject({ statusCode: null });
    // The tenant learns that the name is refused, not what it resolves to inside our network.
    expect(delivery.attempts[0].error).toBe('refused: localhost does not resolve to a public address');
    await sleep(200);
    expect(receiver.received).toHaveLength(0);
  });

  it('refuses an address literal stored before the rules, without connecting', async () => {
    const receiver = await createReceiver();
    const delivery = await attemptTo(`http://127.0.0.1:${receiver.port}/hooks`, 'literal');
    expect(delivery.attempts[0].error).toBe('refused: 127.0.0.1 is not a public address');
    expect(receiver.received).toHaveLength(0);
  });
});
