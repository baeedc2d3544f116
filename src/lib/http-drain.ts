import {
  createServer,
  type IncomingMessage,
  type RequestListener,
  type Server,
  type ServerOptions,
  type ServerResponse,
} from 'node:http';
import { Server as NetServer, type Socket } from 'node:net';
import type { Logger } from './logger.js';
import { requestPath } from './request-path.js';

export type DrainOptions = {
  /** Still accepting connections for this long, while /ready says 503. */
  delayMs: number;
  /** From the start of the drain to the last connection closed, forcibly if need be. */
  graceMs: number;
};

/**
 * An idle keep-alive socket is closed once it has been idle this long. Node's own
 * `closeIdleConnections` also closes a socket accepted a moment ago whose request is still
 * on the wire (it has not parsed one yet), which resets a request that did reach us.
 */
const IDLE_BEFORE_CLOSE_MS = 250;

/**
 * Requests one connection may have waiting for their answers (HTTP/1.1 pipelining: sent
 * one after another without waiting). Node parses pipelined requests as fast as they come
 * while earlier answers are pending (a refusal's pause writes nothing, so nothing pushes
 * back): a client sending 50,000 in one write would have them all parsed and held. No
 * browser pipelines, and HTTP clients that can send at most a few; past this the connection
 * is closed.
 */
const MAX_REQUESTS_IN_FLIGHT_PER_CONNECTION = 8;

type Connection = { inFlight: number; idleSince: number };

/**
 * An HTTP server that can stop without failing the requests it has received. Once `drain`
 * starts, `/ready` answers 503 (the load balancer takes this process out of rotation) and
 * every response carries `Connection: close` (a keep-alive client moves to a fresh connection
 * after its current request, instead of finding its idle socket closed under it later).
 */
export function createDrainableServer(options: ServerOptions, handler: RequestListener, log: Logger) {
  let draining = false;
  // Connections that still arrive after /ready turned 503: many say the load balancer does
  // not watch /ready, or needs a longer SHUTDOWN_DELAY_MS.
  let acceptedWhileDraining = 0;
  const connections = new Map<Socket, Connection>();
  const server: Server = createServer(options, (req: IncomingMessage, res: ServerResponse) => {
    const connection = connections.get(req.socket);
    if (connection) {
      connection.inFlight++;
      if (connection.inFlight > MAX_REQUESTS_IN_FLIGHT_PER_CONNECTION) {
        req.socket.destroy();
        return;
      }
      res.once('close', () => {
        connection.inFlight--;
        connection.idleSince = Date.now();
      });
    }
    keepAliveDecidedByNode(res, () => draining);
    if (draining) {
      res.setHeader('connection', 'close');
      if (requestPath(req.url) === '/ready') {
        res.writeHead(503, { 'content-type': 'application/json' }).end('{"message":"stopping"}');
        return;
      }
    }
    handler(req, res);
  });
  server.on('connection', (socket: Socket) => {
    connections.set(socket, { inFlight: 0, idleSince: Date.now() });
    if (draining) acceptedWhileDraining++;
    log.debug({ remotePort: socket.remotePort, draining }, 'connection accepted');
    socket.once('close', () => connections.delete(socket));
  });

  /**
   * Keeps accepting for `delayMs` (a load balancer that has not yet seen /ready turn 503
   * still sends here), then stops accepting, closes keep-alive sockets as they turn idle, and
   * waits for requests in flight until `graceMs` from the start; whatever is still open then
   * (a subscription stream, a request that overran) is closed. Resolves when every
   * connection is closed.
   */
  async function drain({ delayMs, graceMs }: DrainOptions): Promise<void> {
    const started = Date.now();
    draining = true;
    await new Promise((resolve) => setTimeout(resolve, delayMs));
    // Right after the event loop's poll phase, which accepts every connection waiting in the
    // kernel's queue: closing the listener resets those still queued, which a client sees as
    // a reset, not a refusal.
    await new Promise((resolve) => setImmediate(resolve));
    // net's close, not http's: http's also closes at once every socket without a parsed
    // request, including one accepted a moment ago whose request is on its way.
    const closed = new Promise<void>((resolve) => NetServer.prototype.close.call(server, () => resolve()));
    log.info({ acceptedWhileDraining, open: connections.size }, 'stopped accepting connections');
    const closeIdle = () => {
      const now = Date.now();
      for (const [socket, connection] of connections) {
        if (connection.inFlight === 0 && now - connection.idleSince >= IDLE_BEFORE_CLOSE_MS) socket.destroy();
      }
    };
    closeIdle();
    const sweep = setInterval(closeIdle, 50);
    const deadline = setTimeout(
      () => {
        log.warn({ graceMs, open: connections.size }, 'grace period over: closing the connections still open');
        for (const socket of connections.keys()) socket.destroy();
      },
      Math.max(0, graceMs - (Date.now() - started)),
    );
    await closed;
    clearInterval(sweep);
    clearTimeout(deadline);
  }

  return { server, drain };
}

/**
 * Node decides whether a connection stays open (HTTP/1.0 or 1.1, the client's `Connection`)
 * and says so itself. Yoga's SSE and multipart answers, and graphql-sse's, set
 * `Connection: keep-alive`, which Node obeys: a client that asked to close, or one a drain
 * is closing, kept its socket open for the 65 s keep-alive timeout, and an HTTP/1.0 client
 * got a chunked answer on a connection left open. As the head is written, such a header is
 * made to say what Node decided, and close while draining.
 */
function keepAliveDecidedByNode(res: ServerResponse, draining: () => boolean) {
  const writeHead = res.writeHead;
  res.writeHead = function (this: ServerResponse, ...args: unknown[]) {
    const decided = this.shouldKeepAlive && !draining() ? 'keep-alive' : 'close';
    // Only ever towards close: an answer that asks to close (a refusal) is obeyed.
    const settle = (value: unknown) => (/close/i.test(String(value)) ? 'close' : decided);
    if (draining() || this.hasHeader('connection')) this.setHeader('connection', settle(this.getHeader('connection')));
    const headers = args.at(-1);
    if (headers && typeof headers === 'object' && !Array.isArray(headers)) {
      const given = headers as Record<string, unknown>;
      const names = Object.keys(given).filter((name) => name.toLowerCase() === 'connection');
      if (names.length > 0) {
        const kept = { ...given };
        for (const name of names) kept[name] = draining() ? 'close' : settle(kept[name]);
        args[args.length - 1] = kept;
      }
    }
    return (writeHead as (...a: unknown[]) => ServerResponse).apply(this, args);
  } as typeof res.writeHead;
}
