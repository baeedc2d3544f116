import { createServer, type Server } from 'node:http';
import net from 'node:net';
import os from 'node:os';
import { beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app.js';
import { createTestApp, type TestApp } from '../support/app.js';
import { cleanup } from '../support/cleanup.js';
import { pickPort, runCommand, whenReady } from '../support/processes.js';
import { sleep } from '../support/receiver.js';

/** The server process as `npm start` runs it, against clients that hold connections open. */
let app: TestApp;
let apiKey: string;
beforeAll(async () => {
  app = await createTestApp();
  ({ apiKey } = await app.newWorkspace());
});

async function startServer(env: Record<string, string> = {}) {
  const port = pickPort();
  const proc = app.spawnServer({ PORT: port, ROLE: 'api', LOG_LEVEL: 'warn', ...env }, /^/);
  cleanup(async () => {
    proc.signal('SIGTERM');
    await proc.exited;
  });
  return { proc, port: Number(port), base: await whenReady(proc, `http://127.0.0.1:${port}`) };
}

/** A client that sends the start of a request, then a header byte per second, never finishing. */
function trickle(port: number) {
  const socket = net.connect(port, '127.0.0.1');
  const state = { closedAt: 0 };
  socket.on('connect', () => socket.write('POST /graphql HTTP/1.1\r\nHost: x\r\nX-Slow: '));
  const timer = setInterval(() => socket.writable && socket.write('a'), 1000);
  socket.on('error', () => {});
  socket.on('close', () => {
    state.closedAt = performance.now();
    clearInterval(timer);
  });
  return { socket, state };
}

async function timedQuery(base: string): Promise<number> {
  const started = performance.now();
  const res = await fetch(`${base}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': apiKey },
    body: JSON.stringify({ query: '{ webhooks { totalCount } }' }),
  });
  expect(res.status).toBe(200);
  return performance.now() - started;
}

describe('slow and idle connections', () => {
  it('300 clients trickling headers are cut off after the 5 s header timeout, and others are answered meanwhile', async () => {
    const { port, base } = await startServer();
    const started = performance.now();
    const slow = Array.from({ length: 300 }, () => trickle(port));
    await sleep(500);
    const latencies: number[] = [];
    for (let i = 0; i < 20; i++) latencies.push(await timedQuery(base));
    // All cut off soon after 5 s (Node checks every second here; its default is every 30 s).
    while (slow.some((s) => s.state.closedAt === 0) && performance.now() - started < 15_000) await sleep(200);
    const cutAfter = Math.max(...slow.map((s) => s.state.closedAt - started));
    expect(slow.every((s) => s.state.closedAt > 0)).toBe(true);
    expect(cutAfter).toBeLessThan(10_000);
    latencies.sort((a, b) => a - b);
    process.stdout.write(
      `[connections] 300 trickling clients closed by ${Math.round(cutAfter)} ms; meanwhile 20 queries answered, slowest ${Math.round(latencies.at(-1) ?? 0)} ms\n`,
    );
  }, 40_000);

  it('past MAX_CONNECTIONS, new connections are closed at once and the open ones keep working', async () => {
    const { port, base } = await startServer({ MAX_CONNECTIONS: '20' });
    // One keep-alive connection for our own queries, opened first.
    await timedQuery(base);
    const idle = Array.from({ length: 30 }, () => {
      const socket = net.connect(port, '127.0.0.1');
      const state = { closed: false };
      socket.on('error', () => {});
      socket.on('close', () => {
        state.closed = true;
      });
      return state;
    });
    await sleep(1000);
    const dropped = idle.filter((s) => s.closed).length;
    expect(dropped).toBeGreaterThanOrEqual(10);
    expect(dropped).toBeLessThan(30);
    // Our keep-alive connection was open before the flood: still served.
    await timedQuery(base);
  }, 30_000);

  it('40 clients asking for GraphiQL and never reading it hold one rendered page between them, not forty', async () => {
    const { base, port } = await startServer();
    const rss = async () => {
      const text = await (await fetch(`${base}/metrics`)).text();
      return Number(/^process_resident_memory_bytes (\d+)/m.exec(text)?.[1]);
    };
    // Rendered once (the page is about 9 MB), read whole.
    const first = await fetch(`${base}/graphql`, { headers: { accept: 'text/html' } });
    const page = await first.text();
    expect(page.length).toBeGreaterThan(1_000_000);
    const before = await rss();
    const readers = Array.from({ length: 40 }, () => {
      const socket = net.connect(port, '127.0.0.1');
      socket.on('connect', () => {
        socket.write('GET /graphql HTTP/1.1\r\nHost: x\r\nAccept: text/html\r\n\r\n');
        socket.pause();
      });
      socket.on('error', () => {});
      return socket;
    });
    await sleep(3000);
    const grown = (await rss()) - before;
    for (const socket of readers) socket.destroy();
    console.log(
      `RSS grew ${Math.round(grown / 1e6)} MB for 40 unread GraphiQL pages of ${Math.round(page.length / 1e6)} MB`,
    );
    expect(grown).toBeLessThan(60e6);
  });
});

describe('a port already in use', () => {
  it('stops the server with one line naming the port, not a stack', async () => {
    const holder = net.createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const port = (holder.address() as net.AddressInfo).port;
    try {
      const run = await runCommand(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
        PORT: String(port),
        HOST: '127.0.0.1',
        DATABASE_URL: app.db.url,
        SECRET_ENCRYPTION_KEY: app.secretKey.toString('hex'),
        LOG_LEVEL: 'silent',
      });
      expect(run.code).toBe(1);
      expect(run.stderr.trim()).toBe(`Port ${port} on 127.0.0.1 is already in use: stop what holds it, or set PORT`);
    } finally {
      holder.close();
    }
  }, 30_000);
});

describe('the development key in GraphiQL', () => {
  const external = Object.values(os.networkInterfaces())
    .flat()
    .find((a) => a && a.family === 'IPv4' && !a.internal)?.address;

  // Needs an address other than loopback to knock from; every machine this project runs on has one.
  it.skipIf(!external)('is served to a browser on this machine, and to nobody else', async () => {
    const devKey = 'chk_DevelopmentKeyDevelopmentKeyDevelopmentK';
    const yoga = createApp({
      sql: app.sql,
      config: app.config,
      secretKey: app.secretKey,
      log: app.log,
      devApiKey: devKey,
    });
    const server: Server = createServer(yoga);
    await new Promise<void>((resolve) => server.listen(0, '0.0.0.0', resolve));
    const port = (server.address() as net.AddressInfo).port;
    try {
      const page = (host: string) =>
        fetch(`http://${host}:${port}/graphql`, { headers: { accept: 'text/html' } }).then((r) => r.text());
      expect(await page('127.0.0.1')).toContain(devKey);
      const remote = await page(external as string);
      expect(remote).toContain('GraphiQL');
      expect(remote).not.toContain(devKey);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });
});
