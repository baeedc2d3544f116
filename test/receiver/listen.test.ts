import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createTestApp } from '../support/app.js';
import { conversationEnded, GET_DELIVERY, PUBLISH, REGISTER, validWebhook } from '../support/operations.js';
import { pickPort, ROOT, startProcess } from '../support/processes.js';
import { eventually } from '../support/receiver.js';

describe('cli listen', () => {
  it('prints each delivery it receives, verified with the secret, and rejects forged ones', async () => {
    const app = await createTestApp();
    app.startWorker();
    const { apiKey } = await app.newWorkspace();
    const port = pickPort();
    const registered = await app.graphql(REGISTER, {
      apiKey,
      variables: { input: validWebhook({ url: `http://127.0.0.1:${port}/`, agentId: 'listen' }) },
    });
    const secret = registered.data?.registerWebhook.secret as string;
    const listener = startProcess(
      process.execPath,
      ['--import', 'tsx', 'src/cli.ts', 'listen', '--port', port, '--secret', secret, '--json'],
      {},
      /Listening for deliveries/,
    );
    try {
      await listener.started;
      const event = (
        await app.graphql(PUBLISH, { apiKey, variables: { input: conversationEnded('listen', { n: 1 }) } })
      ).data?.publishEvent;
      await listener.waitFor(new RegExp(event.id));
      const line = listener
        .output()
        .split('\n')
        .find((l) => l.includes(event.id)) as string;
      expect(JSON.parse(line)).toEqual({
        id: event.id,
        verified: true,
        type: 'conversation_ended',
        agentId: 'listen',
        data: { n: 1 },
      });
      const forged = await fetch(`http://127.0.0.1:${port}/`, {
        method: 'POST',
        headers: {
          'webhook-id': 'evt_forged',
          'webhook-timestamp': String(Math.floor(Date.now() / 1000)),
          'webhook-signature': 'v1,AAAA',
        },
        body: '{}',
      });
      expect(forged.status).toBe(400);
      await eventually(async () => listener.output().includes('"id":"evt_forged","verified":false'));
    } finally {
      listener.signal('SIGTERM');
      await listener.exited;
    }
  });

  it('started the documented way (`npm run cli -- listen`), it takes a delivery sent the moment it says it listens', async () => {
    // The script runs the TypeScript as it is: no compile step before the port opens (it
    // used to run tsc first, ~4 s in which deliveries were refused).
    const scripts = JSON.parse(fs.readFileSync(`${ROOT}package.json`, 'utf8')).scripts;
    expect(scripts.cli).not.toMatch(/\btsc\b/);

    const app = await createTestApp();
    app.startWorker();
    const { apiKey } = await app.newWorkspace();
    const port = pickPort();
    const registered = await app.graphql(REGISTER, {
      apiKey,
      variables: { input: validWebhook({ url: `http://127.0.0.1:${port}/`, agentId: 'listen-now' }) },
    });
    const { id: webhookId, secret } = (registered.data?.registerWebhook ?? {}) as { id: string; secret: string };
    const listener = startProcess(
      'npm',
      ['run', '--silent', 'cli', '--', 'listen', '--port', port, '--secret', secret, '--json'],
      {},
      /Listening for deliveries/,
    );
    try {
      await listener.started;
      const sent = await app.graphql(`mutation($id: ID!) { sendTestEvent(webhookId: $id) { id } }`, {
        apiKey,
        variables: { id: webhookId },
      });
      const deliveryId = sent.data?.sendTestEvent.id;
      const delivery = await eventually(async () => {
        const d = (await app.graphql(GET_DELIVERY, { apiKey, variables: { id: deliveryId } })).data?.delivery;
        return d?.status === 'PENDING' ? undefined : d;
      }, 30_000);
      // The first attempt reached it: nothing refused, nothing retried.
      expect(delivery).toMatchObject({ status: 'SUCCEEDED', attemptCount: 1 });
      expect(delivery.attempts).toEqual([expect.objectContaining({ statusCode: 204, error: null })]);
      await listener.waitFor(/"type":"webhook.test"/);
    } finally {
      listener.signal('SIGTERM');
      await listener.exited;
    }
  }, 60_000);
});
