import net from 'node:net';
import { beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../support/app.js';
import { conversationEnded, GET, PUBLISH, REGISTER, validWebhook, WEBHOOK_DELIVERIES } from '../support/operations.js';
import { createReceiver, eventually, type Reply } from '../support/receiver.js';

/**
 * How each kind of failed attempt is recorded and scheduled. The schedule is long
 * (1 minute) so a test sees exactly one attempt and the retry it schedules.
 */
let app: TestApp;
let apiKey: string;
beforeAll(async () => {
  app = await createTestApp({ DELIVERY_RETRY_SCHEDULE: '1m,2m', DELIVERY_TIMEOUT_MS: '300' });
  ({ apiKey } = await app.newWorkspace());
  app.startWorker();
});

let agentSeq = 0;

/** Registers a webhook at `url`, publishes one event for it, and returns its delivery once one attempt is recorded. */
async function firstAttempt(url: string) {
  const agentId = `agent-${agentSeq++}`;
  const webhook = (await app.graphql(REGISTER, { apiKey, variables: { input: validWebhook({ url, agentId }) } })).data
    ?.registerWebhook;
  const publishedAt = Date.now();
  await app.graphql(PUBLISH, { apiKey, variables: { input: conversationEnded(agentId) } });
  const delivery = await eventually(async () => {
    const res = await app.graphql(WEBHOOK_DELIVERIES, { apiKey, variables: { id: webhook.id } });
    const node = res.data?.webhook.deliveries.edges[0]?.node;
    return node?.attemptCount === 1 ? node : undefined;
  });
  return { webhook, delivery, publishedAt };
}

const receiverAnswering = async (reply: Reply) => (await createReceiver(() => reply)).url;

const minutesFromNow = (iso: string, publishedAt: number) => (new Date(iso).getTime() - publishedAt) / 60_000;

describe('a failed attempt is recorded and retried on schedule', () => {
  it.each([
    ['a 500', { status: 500, body: 'database is down' }, 500, 'HTTP 500', 'database is down'],
    ['a 404', { status: 404 }, 404, 'HTTP 404', null],
    ['a 400', { status: 400, body: '{"error":"bad signature"}' }, 400, 'HTTP 400', '{"error":"bad signature"}'],
    [
      'a redirect, which is not followed',
      { status: 301, headers: { location: 'https://example.com/' } },
      301,
      'HTTP 301: redirects are not followed',
      null,
    ],
  ] as const)('%s', async (_label, reply, statusCode, error, responseBody) => {
    const { delivery, publishedAt } = await firstAttempt(await receiverAnswering(reply as Reply));
    expect(delivery.status).toBe('PENDING');
    expect(delivery.attempts).toEqual([expect.objectContaining({ statusCode, error, responseBody })]);
    // First retry after 1 minute ± 20% jitter.
    expect(minutesFromNow(delivery.nextAttemptAt, publishedAt)).toBeGreaterThan(0.75);
    expect(minutesFromNow(delivery.nextAttemptAt, publishedAt)).toBeLessThan(1.25);
  });

  it('a receiver that does not answer within DELIVERY_TIMEOUT_MS', async () => {
    const { delivery } = await firstAttempt(await receiverAnswering({ hang: true }));
    expect(delivery.attempts[0]).toMatchObject({
      statusCode: null,
      error: 'timeout: no complete response within 300 ms',
    });
    expect(delivery.attempts[0].durationMs).toBeGreaterThanOrEqual(290);
    expect(delivery.attempts[0].durationMs).toBeLessThan(2000);
    expect(delivery.status).toBe('PENDING');
  });

  it('a refused connection', async () => {
    const port = await new Promise<number>((resolve) => {
      const probe = net.createServer().listen(0, '127.0.0.1', () => {
        const { port } = probe.address() as net.AddressInfo;
        probe.close(() => resolve(port));
      });
    });
    const { delivery } = await firstAttempt(`http://127.0.0.1:${port}/hooks`);
    expect(delivery.attempts[0]).toMatchObject({ statusCode: null, error: 'connection refused' });
  });

  it('a connection reset', async () => {
    const { delivery } = await firstAttempt(await receiverAnswering({ reset: true }));
    expect(delivery.attempts[0].statusCode).toBeNull();
    expect(delivery.attempts[0].error).toMatch(/connection reset|socket|network error/);
  });

  it('only the first 1 KiB of a long response body is kept', async () => {
    const { delivery } = await firstAttempt(await receiverAnswering({ status: 500, body: 'x'.repeat(200_000) }));
    expect(delivery.attempts[0].responseBody).toBe('x'.repeat(1024));
  });

  it('a 429 with Retry-After is retried when asked, within the schedule (1 to 2 minutes here)', async () => {
    const soon = await firstAttempt(await receiverAnswering({ status: 429, headers: { 'retry-after': '90' } }));
    expect(minutesFromNow(soon.delivery.nextAttemptAt, soon.publishedAt)).toBeCloseTo(1.5, 1);
    const tooSoon = await firstAttempt(await receiverAnswering({ status: 503, headers: { 'retry-after': '1' } }));
    expect(minutesFromNow(tooSoon.delivery.nextAttemptAt, tooSoon.publishedAt)).toBeCloseTo(1, 1);
    const tooLate = await firstAttempt(await receiverAnswering({ status: 429, headers: { 'retry-after': '86400' } }));
    expect(minutesFromNow(tooLate.delivery.nextAttemptAt, tooLate.publishedAt)).toBeCloseTo(2, 1);
  });
});

describe('410 Gone', () => {
  it('fails the delivery at once and turns the webhook off with a reason', async () => {
    const { webhook, delivery } = await firstAttempt(await receiverAnswering({ status: 410 }));
    expect(delivery).toMatchObject({ status: 'FAILED', nextAttemptAt: null });
    const res = await app.graphql(GET, { apiKey, variables: { id: webhook.id } });
    expect(res.data?.webhook.active).toBe(false);
    expect(res.data?.webhook.disabledReason).toMatch(/^The endpoint answered 410 Gone on \d{4}-\d\d-\d\dT/);
  });
});

describe('a webhook whose every attempt fails for DELIVERY_DISABLE_AFTER', () => {
  it('is turned off with a reason; a success in between resets the clock', async () => {
    const other = await createTestApp({
      DELIVERY_RETRY_SCHEDULE: '50ms,50ms,50ms,50ms,50ms,50ms,50ms,50ms,50ms,50ms',
      DELIVERY_DISABLE_AFTER: '400ms',
    });
    const { apiKey } = await other.newWorkspace();
    other.startWorker();
    let healthy = false;
    const receiver = await createReceiver(() => ({ status: healthy ? 200 : 500 }));
    const register = await other.graphql(REGISTER, {
      apiKey,
      variables: { input: validWebhook({ url: receiver.url, agentId: 'flaky' }) },
    });
    const id = register.data?.registerWebhook.id;

    // A success resets the failure streak.
    await other.graphql(PUBLISH, { apiKey, variables: { input: conversationEnded('flaky') } });
    await receiver.waitFor(3);
    healthy = true;
    await eventually(
      async () => (await other.sql`select failing_since from webhooks where id = ${id}`)[0]?.failingSince === null,
    );
    healthy = false;

    await other.graphql(PUBLISH, { apiKey, variables: { input: conversationEnded('flaky') } });
    const webhook = await eventually(async () => {
      const res = await other.graphql(GET, { apiKey, variables: { id } });
      return res.data?.webhook.active === false ? res.data.webhook : undefined;
    });
    expect(webhook.disabledReason).toMatch(/^Every delivery attempt failed since /);
  });
});
