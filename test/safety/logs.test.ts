import net from 'node:net';
import { Writable } from 'node:stream';
import { beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/lib/logger.js';
import { createTestApp, type TestApp } from '../support/app.js';
import { conversationEnded, oneCharOff, PUBLISH, REGISTER, validWebhook } from '../support/operations.js';
import { createReceiver, eventually, sleep } from '../support/receiver.js';

const lines: string[] = [];
const capture = new Writable({
  write(chunk, _encoding, done) {
    lines.push(...String(chunk).split('\n').filter(Boolean));
    done();
  },
});

let app: TestApp;
beforeAll(async () => {
  app = await createTestApp({ LOG_LEVEL: 'debug' }, { log: createLogger('debug', capture) });
  app.startWorker();
});

describe('logs', () => {
  it('of a whole register → deliver → rotate flow hold no API key, secret or signature', async () => {
    const { apiKey } = await app.newWorkspace();
    const receiver = await createReceiver((n) => (n === 0 ? { status: 500 } : { status: 200 }));
    const registered = await app.graphql(REGISTER, {
      apiKey,
      variables: { input: validWebhook({ url: receiver.url, agentId: 'logged' }) },
      headers: { 'x-request-id': 'req-logged-1' },
    });
    const { id, secret } = (registered.data?.registerWebhook ?? {}) as { id: string; secret: string };
    await app.graphql(PUBLISH, { apiKey, variables: { input: conversationEnded('logged') } });
    await receiver.waitFor(1);
    const rotated = await app.graphql(`mutation($id: ID!) { rotateWebhookSecret(id: $id) { secret } }`, {
      apiKey,
      variables: { id },
    });
    const newSecret = rotated.data?.rotateWebhookSecret.secret as string;
    // Failures are logged too: a bad key, an invalid input, an unexpected error.
    const wrongKey = oneCharOff(apiKey);
    await app.graphql('{ webhooks { totalCount } }', { apiKey: wrongKey });
    await app.graphql(REGISTER, { apiKey, variables: { input: validWebhook({ url: 'nope' }) } });
    await receiver.waitFor(2, 15_000);
    await eventually(async () => lines.length > 5);

    // Errors answered with 200 name their codes; failed attempts are logged, without the URL.
    // (Log lines are written as responses finish: wait for the ones looked for.)
    const requests = () => lines.map((line) => JSON.parse(line)).filter((entry) => entry.msg === 'request');
    await eventually(async () => requests().some((r) => r.status === 200 && r.errors?.includes('BAD_USER_INPUT')));
    await eventually(async () => requests().some((r) => r.errors?.includes('UNAUTHENTICATED')));
    const failed = lines.map((line) => JSON.parse(line)).find((entry) => entry.msg === 'delivery attempt failed');
    expect(failed).toMatchObject({
      webhookId: id,
      attempt: 1,
      outcome: 'http_5xx',
      statusCode: 500,
      error: 'HTTP 500',
    });
    expect(JSON.stringify(failed)).not.toContain(receiver.url);

    const signatures = receiver.received.map((r) => String(r.headers['webhook-signature']).replace(/^v1,/, ''));
    const log = lines.join('\n');
    expect(lines.some((line) => line.includes('"reqId":"req-logged-1"'))).toBe(true);
    for (const leaked of [
      apiKey,
      apiKey.slice(4, 20),
      secret,
      secret.slice(6, 30),
      newSecret,
      newSecret.slice(6, 30),
      ...signatures,
    ]) {
      expect(log).not.toContain(leaked);
    }
  });

  it('hold no error when a client closes its subscription, over SSE or multipart', async () => {
    const { apiKey } = await app.newWorkspace();
    const port = Number(new URL(await app.listen()).port);
    const body = JSON.stringify({ query: 'subscription { deliveryUpdates { id } }' });
    for (const accept of ['text/event-stream', 'multipart/mixed;subscriptionSpec=1.0']) {
      const from = lines.length;
      const socket = net.connect(port, '127.0.0.1');
      socket.on('error', () => {});
      await new Promise((resolve) => socket.on('connect', resolve));
      socket.write(
        `POST /graphql HTTP/1.1\r\nHost: x\r\nx-api-key: ${apiKey}\r\naccept: ${accept}\r\n` +
          `content-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`,
      );
      // Subscribed (its answer's headers sent and logged), then gone.
      await eventually(async () => lines.slice(from).some((line) => line.includes('"msg":"request"')));
      socket.destroy();
      await sleep(500);
      expect(
        lines.slice(from).filter((line) => line.includes('"level":50')),
        accept,
      ).toEqual([]);
    }
  });
});
