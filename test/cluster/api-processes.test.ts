import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../../src/auth/api-keys.js';
import { stopEmbeddedPostgres } from '../../src/db/embedded.js';
import { createTestApp, type TestApp } from '../support/app.js';
import { startProcess, tempDataDir, whenReady } from '../support/processes.js';
import { createReceiver, eventually, sleep } from '../support/receiver.js';

const SERVING = /GraphQL API and GraphiQL at http:\/\/localhost:(\d+)\//;
const GRACE_MS = 4_000;

type Answer = { status: number; body: string; localPort: number };

/** A POST on a connection of its own, so the port hands it to the next API process in turn. */
function post(port: number, path: string, body: string, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    let localPort = 0;
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: 'POST',
        agent: false,
        headers: { 'content-type': 'application/json', ...headers },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text, localPort }));
      },
    );
    req.on('socket', (socket) => socket.once('connect', () => (localPort = socket.localPort ?? 0)));
    req.on('error', reject);
    req.end(body);
  });
}

const get = (port: number, path: string) =>
  new Promise<Answer>((resolve, reject) => {
    let localPort = 0;
    const req = http.get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text, localPort }));
    });
    req.on('socket', (socket) => socket.once('connect', () => (localPort = socket.localPort ?? 0)));
    req.on('error', reject);
  });

/** A deliveryUpdates subscription over SSE on a connection of its own: what it received, and its client port. */
function subscribe(port: number, apiKey: string, webhookId: string) {
  const events: { status: string }[] = [];
  let localPort = 0;
  let close = () => {};
  const body = JSON.stringify({
    query: 'subscription($id: ID) { deliveryUpdates(webhookId: $id) { id status } }',
    variables: { id: webhookId },
  });
  const opened = new Promise<number>((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        path: '/graphql',
        method: 'POST',
        agent: false,
        headers: { 'content-type': 'application/json', accept: 'text/event-stream', 'x-api-key': apiKey },
      },
      (res) => {
        let buffer = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          buffer += chunk;
          for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
            const data = buffer
              .slice(0, end)
              .split('\n')
              .filter((line) => line.startsWith('data:'))
              .map((line) => line.slice(5))
              .join('');
            buffer = buffer.slice(end + 2);
            if (data) events.push(JSON.parse(data).data?.deliveryUpdates);
          }
        });
        res.on('error', () => {});
        resolve(res.statusCode ?? 0);
      },
    );
    req.on('socket', (socket) => socket.once('connect', () => (localPort = socket.localPort ?? 0)));
    req.on('error', reject);
    req.end(body);
    close = () => req.destroy();
  });
  return { opened, events, localPort: () => localPort, close: () => close() };
}

/** The API processes (children) of the primary, from /proc. */
const childrenOf = (pid: number) =>
  fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

const sample = (text: string, line: RegExp) => Number(text.match(line)?.[1] ?? Number.NaN);

describe('API_PROCESSES=2: the API on every core, the worker once', () => {
  let app: TestApp;
  let server: ReturnType<TestApp['spawnServer']>;
  let port: number;
  let primary: number;
  /** Which process accepted the connection from this client port (the server logs each at debug). */
  const servedBy = (localPort: number) =>
    Number(
      server
        .output()
        .match(new RegExp(`"pid":(\\d+)[^\\n]*"remotePort":${localPort},[^\\n]*"connection accepted"`))?.[1],
    );

  beforeAll(async () => {
    app = await createTestApp();
    server = app.spawnServer(
      { ROLE: 'all', API_PROCESSES: '2', LOG_LEVEL: 'debug', SHUTDOWN_GRACE_MS: String(GRACE_MS) },
      SERVING,
    );
    port = Number((await server.started)[1]);
    await whenReady(server, `http://127.0.0.1:${port}`);
    primary = server.child.pid as number;
  }, 60_000);
  afterAll(() => server.signal('SIGKILL'));

  it('serves from two processes on one port: connections land on both, and /metrics counts them all', async () => {
    const { apiKey } = await app.newWorkspace();
    expect(childrenOf(primary)).toHaveLength(2);
    const query = JSON.stringify({ query: '{ webhooks(first: 1) { totalCount } }' });
    const before =
      sample(
        (await get(port, '/metrics')).body,
        /^graphql_operation_duration_seconds_count\{type="query",field="webhooks",outcome="ok"\} (\d+)$/m,
      ) || 0;
    const answers = await Promise.all(
      Array.from({ length: 8 }, () => post(port, '/graphql', query, { 'x-api-key': apiKey })),
    );
    expect(answers.map((a) => a.status)).toEqual(Array(8).fill(200));
    await sleep(100); // the debug lines of the last connections
    const pids = new Set(answers.map((a) => servedBy(a.localPort)));
    expect([...pids].sort()).toEqual([...childrenOf(primary)].sort());

    // Whichever process a scrape lands on, it counts every process's operations.
    for (let i = 0; i < 2; i++) {
      const scrape = await get(port, '/metrics');
      const count = sample(
        scrape.body,
        /^graphql_operation_duration_seconds_count\{type="query",field="webhooks",outcome="ok"\} (\d+)$/m,
      );
      expect(count - before).toBe(8);
      // One series for the machine, not one per process.
      expect(scrape.body.match(/^convo_hooks_build_info\{/gm)).toHaveLength(1);
    }
  });

  it("a delivery made by the primary's worker reaches a subscription on each API process, and /metrics counts it from either", async () => {
    const { apiKey } = await app.newWorkspace();
    const receiver = await createReceiver(() => ({ status: 200, delayMs: 200 }));
    const register = JSON.stringify({
      query: 'mutation($input: RegisterWebhookInput!) { registerWebhook(input: $input) { id } }',
      variables: { input: { name: 'live', agentId: 'cores', url: receiver.url, events: ['CONVERSATION_ENDED'] } },
    });
    const webhookId = JSON.parse((await post(port, '/graphql', register, { 'x-api-key': apiKey })).body).data
      .registerWebhook.id;
    const attemptsBefore =
      sample((await get(port, '/metrics')).body, /^webhook_delivery_attempts_total\{outcome="success"\} (\d+)$/m) || 0;
    const feeds = [subscribe(port, apiKey, webhookId), subscribe(port, apiKey, webhookId)];
    try {
      expect(await Promise.all(feeds.map((feed) => feed.opened))).toEqual([200, 200]);
      await sleep(300);
      expect(new Set(feeds.map((feed) => servedBy(feed.localPort())))).toEqual(new Set(childrenOf(primary)));

      const publish = JSON.stringify({
        query: 'mutation($input: PublishEventInput!) { publishEvent(input: $input) { id } }',
        variables: { input: { agentId: 'cores', type: 'CONVERSATION_ENDED', data: { n: 1 } } },
      });
      expect((await post(port, '/graphql', publish, { 'x-api-key': apiKey })).status).toBe(200);
      for (const feed of feeds) {
        await eventually(async () => feed.events.some((update) => update?.status === 'SUCCEEDED'));
      }
      expect(receiver.received).toHaveLength(1);
      for (let i = 0; i < 2; i++) {
        const scrape = await get(port, '/metrics');
        expect(
          sample(scrape.body, /^webhook_delivery_attempts_total\{outcome="success"\} (\d+)$/m) - attemptsBefore,
        ).toBe(1);
      }
    } finally {
      for (const feed of feeds) feed.close();
    }
  });

  it('a revoked key is refused by every API process within a second', async () => {
    const { apiKey, keyId, workspaceId } = await app.newWorkspace();
    const other = await createApiKey(app.sql, workspaceId);
    const query = JSON.stringify({ query: '{ webhooks(first: 1) { totalCount } }' });
    // Both processes know the key (it is in each one's cache) before it is revoked.
    const warm = await Promise.all(
      Array.from({ length: 4 }, () => post(port, '/graphql', query, { 'x-api-key': apiKey })),
    );
    expect(warm.map((a) => a.status)).toEqual([200, 200, 200, 200]);
    const revoke = JSON.stringify({
      query: 'mutation($id: ID!) { revokeApiKey(id: $id) { id } }',
      variables: { id: keyId },
    });
    expect((await post(port, '/graphql', revoke, { 'x-api-key': other.apiKey })).status).toBe(200);
    await sleep(1_000);
    const after = await Promise.all(
      Array.from({ length: 6 }, () => post(port, '/graphql', query, { 'x-api-key': apiKey })),
    );
    expect(after.map((a) => a.status)).toEqual(Array(6).fill(401));
    await sleep(100);
    expect(new Set(after.map((a) => servedBy(a.localPort)))).toEqual(new Set(childrenOf(primary)));
  });

  it('per-key rates hold per machine: two processes together let a key through at the documented 50/s, bursts of 100', async () => {
    const { apiKey } = await app.newWorkspace();
    // Each refused or NOT_FOUND alike: a mutation is charged as its root field starts.
    const mutation = JSON.stringify({ query: 'mutation { deleteWebhook(id: "wh_0000000000000000") }' });
    const startedAt = performance.now();
    const answers = await Promise.all(
      Array.from({ length: 160 }, () => post(port, '/graphql', mutation, { 'x-api-key': apiKey })),
    );
    const seconds = (performance.now() - startedAt) / 1000;
    const charged = answers.filter((a) => a.status === 200).length;
    const refused = answers.filter((a) => a.status === 429);
    expect(charged + refused.length).toBe(160);
    // The burst, plus what the sustained rate refilled meanwhile; one process's own budget would let all through.
    expect(charged).toBeGreaterThanOrEqual(100);
    expect(charged).toBeLessThanOrEqual(100 + Math.ceil(50 * seconds) + 2);
    expect(JSON.parse(refused[0]?.body ?? '{}').errors[0].message).toMatch(
      /at most 50 mutations per second per API key/,
    );
  });

  it('a crashed API process is logged and replaced; the port keeps answering meanwhile', async () => {
    const { apiKey } = await app.newWorkspace();
    const [victim, survivor] = childrenOf(primary) as [number, number];
    process.kill(victim, 'SIGKILL');
    await server.waitFor(/"signal":"SIGKILL","msg":"an API process exited; starting another"/);
    const query = JSON.stringify({ query: '{ webhooks(first: 1) { totalCount } }' });
    expect((await post(port, '/graphql', query, { 'x-api-key': apiKey })).status).toBe(200);
    const replaced = await eventually(async () => {
      const now = childrenOf(primary);
      return now.length === 2 && !now.includes(victim) && now;
    }, 30_000);
    expect(replaced).toContain(survivor);
    // The replacement serves: connections in turn reach both processes again.
    await eventually(async () => {
      const answers = await Promise.all(
        Array.from({ length: 4 }, () => post(port, '/graphql', query, { 'x-api-key': apiKey })),
      );
      await sleep(100);
      return answers.every((a) => a.status === 200) && new Set(answers.map((a) => servedBy(a.localPort))).size === 2;
    }, 30_000);
  }, 60_000);

  it('SIGTERM to the primary alone stops every process within the grace period, exit 0', async () => {
    const processes = [primary, ...childrenOf(primary)];
    const signalledAt = performance.now();
    process.kill(primary, 'SIGTERM');
    const code = await server.exited;
    const exitedAfterMs = performance.now() - signalledAt;
    expect(code).toBe(0);
    expect(exitedAfterMs).toBeLessThan(GRACE_MS + 2_000);
    await eventually(async () => processes.every((pid) => !alive(pid)), 5_000);
    expect(server.output()).toMatch(/"msg":"stopped"/);
  }, 30_000);
});

describe('API_PROCESSES=2 on the embedded database', () => {
  let dataDir = '';
  afterAll(async () => {
    if (!dataDir) return;
    await stopEmbeddedPostgres(dataDir);
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('the primary starts PostgreSQL once; both API processes reach it by URL, open the sealed secrets and pre-fill the dev key', async () => {
    dataDir = await tempDataDir('convo-hooks-cores-');
    const server = startProcess(
      process.execPath,
      ['--import', 'tsx', 'src/main.ts'],
      {
        DATA_DIR: dataDir,
        API_PROCESSES: '2',
        PORT: '0',
        DATABASE_URL: '',
        SECRET_ENCRYPTION_KEY: '',
        LOG_LEVEL: 'debug',
        NODE_ENV: 'development',
        HOST: '',
      },
      SERVING,
    );
    try {
      const port = Number((await server.started)[1]);
      const apiKey = fs.readFileSync(path.join(dataDir, 'dev-api-key'), 'utf8').trim();
      // The one cluster, started by the primary.
      expect(server.output().match(/embedded PostgreSQL [^"]* listening/g)).toHaveLength(1);
      const register = JSON.stringify({
        query: 'mutation($input: RegisterWebhookInput!) { registerWebhook(input: $input) { secret } }',
        variables: {
          input: { name: 'a', agentId: 'a', url: 'https://example.com/hooks', events: ['CONVERSATION_ENDED'] },
        },
      });
      const answers = await Promise.all(
        Array.from({ length: 4 }, () => post(port, '/graphql', register, { 'x-api-key': apiKey })),
      );
      expect(answers.map((a) => JSON.parse(a.body).data?.registerWebhook.secret)).toEqual(
        Array(4).fill(expect.stringMatching(/^whsec_/)),
      );
      await sleep(100);
      const served = new Set(
        answers.map((a) =>
          Number(
            server
              .output()
              .match(new RegExp(`"pid":(\\d+)[^\\n]*"remotePort":${a.localPort},[^\\n]*"connection accepted"`))?.[1],
          ),
        ),
      );
      expect(served.size).toBe(2);
      const pages = await Promise.all(
        [0, 1].map(
          () =>
            new Promise<string>((resolve, reject) =>
              http
                .get(
                  { host: '127.0.0.1', port, path: '/graphql', agent: false, headers: { accept: 'text/html' } },
                  (res) => {
                    let text = '';
                    res.on('data', (chunk) => (text += chunk));
                    res.on('end', () => resolve(text));
                  },
                )
                .on('error', reject),
            ),
        ),
      );
      for (const page of pages) expect(page).toContain(apiKey);
    } finally {
      server.signal('SIGTERM');
      expect(await server.exited).toBe(0);
    }
    expect(fs.existsSync(path.join(dataDir, 'pg', 'postmaster.pid'))).toBe(false);
  }, 90_000);
});
