import type { ServerResponse } from 'node:http';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createDrainableServer } from '../../src/lib/http-drain.js';
import { createLogger } from '../../src/lib/logger.js';
import { eventually } from '../support/receiver.js';

const servers: { close: () => void }[] = [];
afterEach(() => {
  for (const server of servers.splice(0)) server.close();
});

/** A drainable server whose handler holds every request unanswered, as a refusal's pause does. */
async function holdingServer() {
  const held: ServerResponse[] = [];
  const { server } = createDrainableServer({}, (_req, res) => void held.push(res), createLogger('silent'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push({
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  });
  return { port: (server.address() as net.AddressInfo).port, held };
}

/** `count` requests sent in one write, without waiting for any answer (HTTP/1.1 pipelining). */
function pipeline(port: number, target: string, count: number) {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => {});
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  socket.on('connect', () => socket.write(`GET ${target} HTTP/1.1\r\nHost: x\r\n\r\n`.repeat(count)));
  return { socket, closed };
}

describe('the HTTP server under the API (lib/http-drain.ts)', () => {
  it('a connection with more than 8 requests awaiting their answers is closed: 5,000 pipelined in one write are not all parsed and held', async () => {
    const { port, held } = await holdingServer();
    const { closed } = pipeline(port, '/graphql', 5_000);
    await closed;
    expect(held.length).toBe(8);
    // A few pipelined requests are what a client may send: they all reach the handler.
    const few = pipeline(port, '/graphql', 8);
    await eventually(async () => held.length === 16);
    expect(few.socket.destroyed).toBe(false);
    few.socket.destroy();
  });

  it('a client that asks to close (or speaks HTTP/1.0) has its connection closed even by an answer that says keep-alive, as event streams do', async () => {
    const { server } = createDrainableServer(
      {},
      (req, res) => {
        // As whatwg-node writes Yoga's SSE answers, and as graphql-sse's head is written.
        if (req.url === '/refuse') {
          res.writeHead(400, { connection: 'close' }).end();
          return;
        }
        if (req.url === '/set') {
          res.setHeader('Connection', 'keep-alive');
          res.setHeader('content-type', 'text/event-stream');
          res.writeHead(200);
        } else {
          res.writeHead(200, { Connection: 'keep-alive', 'content-type': 'text/event-stream' });
        }
        res.end('data: done\n\n');
      },
      createLogger('silent'),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    servers.push({
      close: () => {
        server.closeAllConnections();
        server.close();
      },
    });
    const port = (server.address() as net.AddressInfo).port;
    const ask = (request: string) =>
      new Promise<{ head: string; closed: boolean }>((resolve) => {
        const socket = net.connect(port, '127.0.0.1', () => socket.write(request));
        let text = '';
        socket.on('data', (chunk) => {
          text += chunk;
        });
        const timer = setTimeout(() => {
          socket.destroy();
          resolve({ head: text, closed: false });
        }, 1_000);
        socket.on('close', () => {
          clearTimeout(timer);
          resolve({ head: text, closed: true });
        });
      });
    for (const target of ['/set', '/object']) {
      const closing = await ask(`GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      expect(closing.head, target).toMatch(/\r\nConnection: close\r\n/i);
      expect(closing.closed, target).toBe(true);
      const old = await ask(`GET ${target} HTTP/1.0\r\n\r\n`);
      expect(old.head, target).not.toMatch(/keep-alive/i);
      expect(old.closed, target).toBe(true);
      // A client that keeps its connection keeps it, as Node says itself.
      const kept = await ask(`GET ${target} HTTP/1.1\r\nHost: x\r\n\r\n`);
      expect(kept.head, target).toMatch(/\r\nConnection: keep-alive\r\n/i);
      expect(kept.closed, target).toBe(false);
    }
    // An answer that asks to close is obeyed, whatever the client would have kept.
    const refused = await ask('GET /refuse HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(refused.head).toMatch(/\r\nConnection: close\r\n/i);
    expect(refused.closed).toBe(true);
  });

  it('a request target that Node accepts but URL parsing refuses does not throw, draining or not', async () => {
    const { server, drain } = createDrainableServer(
      {},
      (_req, res) => res.writeHead(404).end(),
      createLogger('silent'),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as net.AddressInfo).port;
    const draining = drain({ delayMs: 300, graceMs: 1_000 });
    const answer = await new Promise<string>((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => socket.write('GET http://[ HTTP/1.1\r\nHost: x\r\n\r\n'));
      let text = '';
      socket.on('data', (d) => {
        text += d;
      });
      socket.on('close', () => resolve(text));
      socket.on('error', () => resolve(text));
    });
    expect(answer).toMatch(/^HTTP\/1.1 404/);
    await draining;
  });
});
