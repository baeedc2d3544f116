import type { RequestListener, Server } from 'node:http';
import type { Config } from './config.js';
import { createDrainableServer } from './lib/http-drain.js';
import type { Logger } from './lib/logger.js';

/**
 * How long a client may take to send a request: headers within 5 s, the whole request
 * (bodies are at most 2 MiB) within 15 s, checked every second (Node's default checks
 * every 30 s, so connections trickling a byte at a time stay open that long). Responses,
 * and subscription streams, are not bounded by these.
 */
const HTTP_LIMITS = { headersTimeout: 5_000, requestTimeout: 15_000, connectionsCheckingInterval: 1_000 };

/** A failure to start that one line explains (main.ts prints it without a stack). */
export class StartError extends Error {}

/**
 * Serves `handler` on PORT and HOST from a drainable server (lib/http-drain.ts). In an API
 * process of a cluster (API_PROCESSES > 1) the primary holds the port and hands each
 * process connections in turn.
 */
export async function listenDrainable(handler: RequestListener, config: Config, log: Logger) {
  const http = createDrainableServer(HTTP_LIMITS, handler, log);
  const server: Server = http.server;
  // Keep-alive sockets outlive requests; a graceful stop closes the idle ones itself.
  server.keepAliveTimeout = 65_000;
  // Past this many open connections new ones are closed at once; per-client limits belong
  // to the load balancer in front.
  server.maxConnections = config.maxConnections;
  await listen(server, config.port, config.host);
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  return { ...http, port };
}

const LISTEN_BACKLOG = 4_096;

/** Listens, turning a port in use into a one-line error instead of a stack. */
function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        error.code === 'EADDRINUSE'
          ? new StartError(`Port ${port} on ${host} is already in use: stop what holds it, or set PORT`)
          : error,
      ),
    );
    // A burst of new connections waits in the kernel until the event loop accepts it; at
    // Node's default backlog (511) the rest are dropped and their clients resend a second
    // or three later. The kernel caps this at net.core.somaxconn.
    server.listen({ port, host, backlog: LISTEN_BACKLOG }, resolve);
  });
}
