import net from 'node:net';
import { beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './support/app.js';
import { conversationEnded, PUBLISH, REGISTER, validWebhook } from './support/operations.js';
import { createReceiver, eventually } from './support/receiver.js';

let app: TestApp;
let url: string;
beforeAll(async () => {
  app = await createTestApp();
  url = (await app.listen()).replace(/\/graphql$/, '');
});

/** What the server answers to `request`, sent as it is on a socket of its own. */
const rawRequest = (port: number, request: string) =>
  new Promise<string>((resolve) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(request));
    let text = '';
    socket.on('data', (d) => {
      text += d;
      if (text.includes('\r\n\r\n')) socket.destroy();
    });
    socket.on('close', () => resolve(text));
    socket.on('error', () => resolve(text));
  });

const metricValue = (text: string, line: RegExp) =>
  Number(
    text
      .split('\n')
      .find((l) => line.test(l))
      ?.split(' ')
      .at(-1),
  );

describe('operations endpoints', () => {
  it('/health answers while the process lives; /ready when the database is reachable and migrated', async () => {
    expect((await fetch(`${url}/health`)).status).toBe(200);
    expect((await fetch(`${url}/ready`)).status).toBe(200);
  });

  it('/metrics reports GraphQL operations, process metrics and build info', async () => {
    app.startWorker();
    const { apiKey } = await app.newWorkspace();
    const receiver = await createReceiver((n) => (n === 0 ? { status: 503 } : { status: 200 }));
    await app.graphql(REGISTER, { apiKey, variables: { input: validWebhook({ url: receiver.url, agentId: 'm' }) } });
    await app.graphql(PUBLISH, { apiKey, variables: { input: conversationEnded('m') } });
    await receiver.waitFor(1);

    const text = await (await fetch(`${url}/metrics`)).text();
    expect(text).toMatch(
      /graphql_operation_duration_seconds_count\{type="mutation",field="publishEvent",outcome="ok"\} 1/,
    );
    expect(text).toMatch(
      /graphql_operation_duration_seconds_count\{type="mutation",field="registerWebhook",outcome="ok"\} 1/,
    );
    expect(text).toContain('# TYPE process_resident_memory_bytes gauge');
    expect(text).toMatch(/^convo_hooks_build_info\{version="\d+\.\d+\.\d+",node="\d+\.\d+\.\d+"\} 1$/m);
  });

  it('/metrics stays the same size however many operation names clients invent, and shows none of them', async () => {
    const { apiKey } = await app.newWorkspace();
    const sizeAfter = async (from: number, to: number) => {
      for (let i = from; i < to; i++) {
        await app.graphql(`query Secret${i} { __typename }`);
        await app.graphql(`query Tenant${i} { webhooks { totalCount } }`, { apiKey });
      }
      return (await (await fetch(`${url}/metrics`)).text()).replace(/ [\d.e+-]+$/gm, '').length;
    };
    const first = await sizeAfter(0, 20);
    const later = await sizeAfter(20, 520);
    expect(later).toBe(first);
    const text = await (await fetch(`${url}/metrics`)).text();
    expect(text).not.toMatch(/Secret|Tenant/);
    expect(text).toMatch(/field="introspection"/);
    expect(text).toMatch(/type="query",field="webhooks"/);
  });
});

describe('a worker-only process (ROLE=worker)', () => {
  it('serves /health, /ready and /metrics with its delivery counters, and no GraphQL', async () => {
    // A database of its own: no in-process worker competes for the deliveries.
    const app = await createTestApp();
    const { apiKey } = await app.newWorkspace();
    const receiver = await createReceiver();
    await app.graphql(REGISTER, { apiKey, variables: { input: validWebhook({ url: receiver.url, agentId: 'w' }) } });
    const worker = app.spawnServer({ ROLE: 'worker' }, /metrics at http:\/\/localhost:(\d+)\//);
    try {
      const [, port] = await worker.started;
      const base = `http://127.0.0.1:${port}`;
      for (let i = 0; i < 3; i++) await app.graphql(PUBLISH, { apiKey, variables: { input: conversationEnded('w') } });
      await receiver.waitFor(3);
      expect((await fetch(`${base}/health`)).status).toBe(200);
      expect((await fetch(`${base}/ready`)).status).toBe(200);
      expect((await fetch(`${base}/graphql`)).status).toBe(404);
      // A target Node accepts but URL parsing refuses: answered, not a crash.
      expect(await rawRequest(Number(port), 'GET http://[ HTTP/1.1\r\nHost: x\r\n\r\n')).toMatch(/^HTTP\/1.1 404/);
      expect((await fetch(`${base}/health`)).status).toBe(200);
      const text = await eventually(async () => {
        const body = await (await fetch(`${base}/metrics`)).text();
        return metricValue(body, /^webhook_delivery_attempts_total\{outcome="success"\}/) === 3 ? body : undefined;
      });
      expect(metricValue(text, /^webhook_delivery_latency_seconds_count/)).toBe(3);
    } finally {
      worker.signal('SIGTERM');
      await worker.exited;
    }
  }, 30_000);
});
