import http from 'node:http';
import { describe, expect, it } from 'vitest';
import { createTestApp } from './support/app.js';
import { whenReady } from './support/processes.js';
import { sleep } from './support/receiver.js';

const SERVING = /GraphQL API and GraphiQL at http:\/\/localhost:(\d+)\//;
const RATE_PER_SECOND = 80;
const DELAY_MS = 1_000;

type Outcome = { at: number; localPort: number | undefined; result: string };

// API_PROCESSES=2: the primary passes SIGTERM on, and each API process drains as one would alone.
describe.each(['1', '2'])('SIGTERM on an API process (API_PROCESSES=%s)', (apiProcesses) => {
  it('drains: /ready turns 503 at once, no request that reached the process fails, in-flight requests finish, exit 0', async () => {
    const app = await createTestApp();
    const { apiKey } = await app.newWorkspace();
    const server = app.spawnServer(
      // debug: the server logs the client port of every connection it accepts (see below).
      {
        ROLE: 'api',
        API_PROCESSES: apiProcesses,
        SHUTDOWN_GRACE_MS: '5000',
        SHUTDOWN_DELAY_MS: String(DELAY_MS),
        LOG_LEVEL: 'debug',
      },
      SERVING,
    );
    const port = Number((await server.started)[1]);
    const base = await whenReady(server, `http://127.0.0.1:${port}`);
    const body = JSON.stringify({ query: '{ webhooks(first: 1) { totalCount } }' });

    // A client at a steady rate over keep-alive connections, as a load balancer's pool is.
    const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
    const outcomes: Outcome[] = [];
    const send = () =>
      new Promise<void>((resolve) => {
        const at = performance.now();
        let localPort: number | undefined;
        let done = false;
        const settle = (result: string) => {
          if (done) return;
          done = true;
          outcomes.push({ at, localPort, result });
          resolve();
        };
        const req = http.request({
          host: '127.0.0.1',
          port,
          path: '/graphql',
          method: 'POST',
          agent,
          headers: {
            'content-type': 'application/json',
            'x-api-key': apiKey,
            'content-length': Buffer.byteLength(body),
          },
        });
        req.on('socket', (socket) => {
          if (socket.localPort) localPort = socket.localPort;
          else socket.once('connect', () => (localPort = socket.localPort));
        });
        req.on('response', (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk) => (text += chunk));
          res.on('end', () => {
            const ok = res.statusCode === 200 && JSON.parse(text).data?.webhooks.totalCount === 0;
            settle(ok ? 'ok' : `HTTP ${res.statusCode} ${text.slice(0, 80)}`);
          });
          res.on('error', (error: NodeJS.ErrnoException) => settle(error.code ?? String(error)));
        });
        req.on('error', (error: NodeJS.ErrnoException) => settle(error.code ?? String(error)));
        req.end(body);
      });
    let running = true;
    const traffic = (async () => {
      const pending: Promise<void>[] = [];
      const start = performance.now();
      for (let i = 0; running; i++) {
        pending.push(send());
        await sleep(Math.max(0, start + ((i + 1) * 1000) / RATE_PER_SECOND - performance.now()));
      }
      await Promise.all(pending);
    })();

    await sleep(1_000);
    const signalledAt = performance.now();
    server.signal('SIGTERM');

    // /ready, asked on fresh connections, turns 503 while the process still accepts.
    let readyAfterMs = Number.NaN;
    while (performance.now() - signalledAt < DELAY_MS) {
      const status = await fetch(`${base}/ready`).then(
        (r) => r.status,
        () => 0,
      );
      if (status === 503) {
        readyAfterMs = performance.now() - signalledAt;
        break;
      }
      await sleep(10);
    }

    // A request still arriving when the listener closes: its body trickles in across the moment.
    const slow = slowRequest(port, apiKey, body, signalledAt + DELAY_MS - 300, signalledAt + DELAY_MS + 700);

    const code = await server.exited;
    const exitedAfterMs = performance.now() - signalledAt;
    await sleep(200);
    running = false;
    await traffic;
    agent.destroy();
    const slowResult = await slow;

    // Counted precisely. A request that never reached the stopping process is one refused at
    // connect (ECONNREFUSED: the listener was closed), or one whose connection the kernel had
    // completed but the process never accepted: closing the listener resets the connections
    // still queued in the kernel, which the client sees as ECONNRESET. The server logs the
    // client port of every connection it accepts, so those are told apart exactly: a reset on
    // a port it accepted, any other error, or a non-200 answer is a request that reached it and
    // failed. (A port reused within the run could only turn a queued reset into a failure.)
    const accepted = new Set(
      [...server.output().matchAll(/"remotePort":(\d+)[^\n]*"msg":"connection accepted"/g)].map((m) => Number(m[1])),
    );
    const reached = (o: Outcome) =>
      o.result !== 'ECONNREFUSED' && !(o.result === 'ECONNRESET' && !accepted.has(o.localPort ?? -1));
    const tally = (list: Outcome[]) => {
      const counts: Record<string, number> = {};
      for (const o of list) {
        const key = o.result === 'ECONNRESET' && !reached(o) ? 'ECONNRESET (never accepted)' : o.result;
        counts[key] = (counts[key] ?? 0) + 1;
      }
      return counts;
    };
    const afterSignal = outcomes.filter((o) => o.at >= signalledAt);
    const failed = outcomes.filter((o) => reached(o) && o.result !== 'ok');
    process.stdout.write(
      `[drain] ${outcomes.length} requests at ${RATE_PER_SECOND}/s, ${accepted.size} connections accepted; all: ${JSON.stringify(tally(outcomes))}; after SIGTERM: ${JSON.stringify(tally(afterSignal))}; /ready 503 after ${Math.round(readyAfterMs)} ms; exited ${code} after ${Math.round(exitedAfterMs)} ms; slow request: ${slowResult}\n`,
    );
    expect(accepted.size).toBeGreaterThan(0);
    expect(failed.map((o) => `${o.result} sent ${Math.round(o.at - signalledAt)} ms after SIGTERM`)).toEqual([]);
    expect(readyAfterMs).toBeLessThan(DELAY_MS);
    // Served during the delay, refused after it.
    expect(afterSignal.filter((o) => o.result === 'ok').length).toBeGreaterThan(10);
    expect(afterSignal.some((o) => o.result === 'ECONNREFUSED')).toBe(true);
    expect(slowResult).toBe('200');
    expect(code).toBe(0);
    expect(exitedAfterMs).toBeLessThan(5_000 + 3_000);
  }, 60_000);
});

/** POSTs `body` on its own connection: headers and half the body at `startAt`, the rest at `finishAt`. */
function slowRequest(port: number, apiKey: string, body: string, startAt: number, finishAt: number): Promise<string> {
  return new Promise((resolve) => {
    setTimeout(
      () => {
        const req = http.request({
          host: '127.0.0.1',
          port,
          path: '/graphql',
          method: 'POST',
          agent: false,
          headers: {
            'content-type': 'application/json',
            'x-api-key': apiKey,
            'content-length': Buffer.byteLength(body),
          },
        });
        req.on('response', (res) => {
          res.resume();
          res.on('end', () => resolve(String(res.statusCode)));
        });
        req.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? String(error)));
        const half = Math.floor(body.length / 2);
        req.write(body.slice(0, half));
        setTimeout(() => req.end(body.slice(half)), finishAt - startAt);
      },
      Math.max(0, startAt - performance.now()),
    );
  });
}
