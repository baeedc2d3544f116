import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import type { ClaimedDelivery } from '../../src/queue/claim.js';
import { createPrefetchBuffer } from '../../src/worker/prefetch-buffer.js';
import { createSlots } from '../../src/worker/slots.js';
import { createTestApp, type TestApp } from '../support/app.js';
import { cleanup } from '../support/cleanup.js';
import { conversationEnded, PUBLISH, REGISTER, validWebhook } from '../support/operations.js';
import { eventually } from '../support/receiver.js';

const claimed = (id: string, webhookId: string, workspaceId: string, share: number) =>
  ({ id, webhookId, workspaceId, share }) as ClaimedDelivery;

describe('the prefetch buffer: deliveries claimed ahead', () => {
  it('start only within their share and their workspace, the emptiest workspace and webhook first', () => {
    const slots = createSlots({ total: 10, perWorkspace: 3, perWebhook: 2 });
    const buffer = createPrefetchBuffer();
    buffer.put(claimed('a1', 'a', 'x', 2), 1);
    buffer.put(claimed('a2', 'a', 'x', 2), 1);
    buffer.put(claimed('a3', 'a', 'x', 2), 1);
    buffer.put(claimed('b1', 'b', 'x', 2), 2);
    buffer.put(claimed('c1', 'c', 'y', 2), 3);
    const started: string[] = [];
    for (let next = buffer.next(slots); next; next = buffer.next(slots)) {
      slots.take(next);
      started.push(next.id);
    }
    // x: a's two (its share) and b's one fill the workspace's 3; y's c goes in between.
    expect(started).toEqual(['a1', 'c1', 'b1', 'a2']);
    expect(buffer.size()).toBe(1);
    // a's slot frees: its own next delivery may take it.
    slots.give({ webhookId: 'a', workspaceId: 'x' });
    expect(buffer.next(slots)?.id).toBe('a3');
    expect(buffer.size()).toBe(0);
  });

  it('go back by webhook, by how long they waited, or all at once', () => {
    const buffer = createPrefetchBuffer();
    buffer.put(claimed('a1', 'a', 'x', 2), 100);
    buffer.put(claimed('a2', 'a', 'x', 2), 300);
    buffer.put(claimed('b1', 'b', 'x', 2), 100);
    buffer.put(claimed('c1', 'c', 'y', 2), 200);
    expect(buffer.takeWaitingSince(200).map((c) => c.id)).toEqual(['a1', 'b1']);
    expect(buffer.takeWebhook('a').map((c) => c.id)).toEqual(['a2']);
    expect(buffer.ofWebhook('a')).toBe(0);
    expect(buffer.takeAll().map((c) => c.id)).toEqual(['c1']);
    expect(buffer.size()).toBe(0);
  });
});

/**
 * An endpoint that answers its first `quick` requests 200 at once and holds every later one
 * until the test answers it.
 */
async function heldEndpoint(quick: number) {
  let count = 0;
  const held: ServerResponse[] = [];
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (++count <= quick) res.writeHead(200).end();
      else held.push(res);
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanup(async () => {
    for (const res of held) res.destroy();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`,
    received: () => count,
    /** Answers the oldest request still held. */
    answer(status: number) {
      held.shift()?.writeHead(status).end();
    },
  };
}

/** One webhook with `events` deliveries due, on an endpoint that answers 4 at once, then holds. */
async function backlog(app: TestApp, events: number) {
  const { apiKey } = await app.newWorkspace();
  const endpoint = await heldEndpoint(4);
  const res = await app.graphql(REGISTER, {
    apiKey,
    variables: { input: validWebhook({ url: endpoint.url, agentId: 'ahead' }) },
  });
  const webhookId = res.data?.registerWebhook.id as string;
  for (let i = 0; i < events; i++) {
    await app.graphql(PUBLISH, { apiKey, variables: { input: conversationEnded('ahead') } });
  }
  const count = async (where: 'claimed' | 'due') => {
    const [row] = await app.sql`
      select count(*)::int as n from deliveries
      where webhook_id = ${webhookId} and status = 'pending'
        and ${where === 'claimed' ? app.sql`claim_token is not null` : app.sql`claim_token is null and next_attempt_at <= now()`}`;
    return row?.n as number;
  };
  return { endpoint, count };
}

describe('a worker claiming ahead', () => {
  // Four in flight to the webhook at most, four more claimed ahead once it answers quickly.
  // The ahead wait (at most a quarter of the lease: 125 s at a 60 s timeout) is longer than
  // any wait below, so only the rule under test hands them back.
  const worker = { concurrency: 16, perWorkspace: 16, perWebhook: 4, aheadWaitMs: 30_000 };

  it('hands back what it claimed ahead when it stops, with what is in flight, and never sends it', async () => {
    const app = await createTestApp({ DELIVERY_TIMEOUT_MS: '60000' });
    const { endpoint, count } = await backlog(app, 20);
    const running = app.startWorker(worker);
    // 4 answered, 4 in flight (held by the endpoint) and 4 claimed ahead, waiting.
    await eventually(async () => endpoint.received() === 8 && (await count('claimed')) === 8, 20_000);
    expect(await running.stop(200)).toEqual({ released: 8 });
    expect(endpoint.received()).toBe(8);
    expect(await count('claimed')).toBe(0);
    expect(await count('due')).toBe(16);
  }, 60_000);

  it('hands back what waits ahead for a webhook whose attempt failed, rather than sending it (its circuit opens)', async () => {
    const app = await createTestApp({
      DELIVERY_TIMEOUT_MS: '60000',
      CIRCUIT_BREAKER_FAILURES: '1',
      CIRCUIT_BREAKER_PROBE_INTERVAL: '5m',
    });
    const { endpoint, count } = await backlog(app, 20);
    app.startWorker(worker);
    await eventually(async () => endpoint.received() === 8 && (await count('claimed')) === 8, 20_000);
    // One of the four in flight fails: the four waiting ahead go back to the queue, where the
    // open circuit keeps them (at most one was claimed again before the failure was recorded).
    endpoint.answer(500);
    await eventually(async () => (await count('claimed')) <= 4, 15_000);
    const [webhook] = await app.sql`select circuit_opened_at from webhooks where url = ${endpoint.url}`;
    expect(webhook?.circuit_opened_at).not.toBeNull();
    expect(endpoint.received()).toBeLessThanOrEqual(9);
  }, 60_000);
});
