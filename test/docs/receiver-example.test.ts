import fs from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../support/app.js';
import { conversationEnded, GET_DELIVERY, PUBLISH, REGISTER, validWebhook } from '../support/operations.js';
import { pickPort, startProcess } from '../support/processes.js';
import { eventually } from '../support/receiver.js';

/** The receiver shown in the README, run as written, against a real delivery. */
const readme = fs.readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const example = /```js receiver\n([\s\S]*?)```/.exec(readme)?.[1];

let app: TestApp;
beforeAll(async () => {
  app = await createTestApp();
  app.startWorker();
});

describe("the README's receiver example", () => {
  it('verifies and acknowledges a real delivery, and rejects a forged one', async () => {
    expect(example).toBeTruthy();
    const { apiKey } = await app.newWorkspace();
    const port = pickPort();
    const url = `http://127.0.0.1:${port}/webhooks`;
    const registered = await app.graphql(REGISTER, {
      apiKey,
      variables: { input: validWebhook({ url, agentId: 'readme' }) },
    });
    const secret = registered.data?.registerWebhook.secret as string;

    const receiver = startProcess(
      process.execPath,
      ['--input-type=module', '-e', example as string],
      { WEBHOOK_SECRET: secret, PORT: port },
      /^/,
    );
    try {
      await eventually(() =>
        fetch(url, { method: 'POST', body: '{}' }).then(
          (r) => r.status === 400,
          () => false,
        ),
      );
      const published = await app.graphql(PUBLISH, {
        apiKey,
        variables: { input: conversationEnded('readme', { outcome: 'resolved' }) },
      });
      const eventId = published.data?.publishEvent.id;
      await receiver.waitFor(new RegExp(`conversation_ended ${eventId}`));
      expect(receiver.output()).toContain("{ outcome: 'resolved' }");

      const delivery = await eventually(async () => {
        const [row] = await app.sql`select id from deliveries where event_id = ${eventId} and status = 'succeeded'`;
        return row?.id as string | undefined;
      });
      const res = await app.graphql(GET_DELIVERY, { apiKey, variables: { id: delivery } });
      expect(res.data?.delivery.attempts[0].statusCode).toBe(204);

      const forged = await fetch(url, {
        method: 'POST',
        headers: {
          'webhook-id': 'evt_x',
          'webhook-timestamp': String(Math.floor(Date.now() / 1000)),
          'webhook-signature': 'v1,AAAA',
        },
        body: '{"type":"conversation_ended"}',
      });
      expect(forged.status).toBe(400);
    } finally {
      receiver.signal('SIGTERM');
      await receiver.exited;
    }
  });
});
