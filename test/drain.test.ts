import http from 'node:http';
import { Agent, request } from 'undici';
import { describe, expect, it } from 'vitest';
import { createTestApp } from './support/app.js';
import { whenReady } from './support/processes.js';
import { sleep } from './support/receiver.js';

const SERVING = /GraphQL API and GraphiQL at http:\/\/localhost:(\d+)\//;
const RATE_PER_SECOND = 80;
const DELAY_MS = 1_000;

type Outcome = { at: number; result: string };

describe('SIGTERM on an API process', () => {
  it('drains: /ready turns 503 at once, no request that reached the process fails, in-flight requests finish, exit 0', async () => {
    const app = await createTestApp();
    const { apiKey } = await app.newWorkspace();
    const server = app.spawnServer(
      { ROLE: 'api', SHUTDOWN_GRACE_MS: '5000', SHUTDOWN_DELAY_MS: String(DELAY_MS) },
      SERVING,
    );
    const port = Number((await server.started)[1]);
    const base = await whenReady(server, `http://127.0.0.1:${port}`);
    const body = JSON.stringify({ query: '{ webhooks(first: 1) { totalCount } }' });
    const headers = { 'content-type': 'application/json', 'x-api-key': apiKey };

    // A client at a steady rate over keep-alive connections, as a load balancer's pool is.
    const agent = new Agent({ connections: 8, keepAliveTimeout: 30_000 });
    const outcomes: Outcome[] = [];
    const send = async () => {
      const at = performance.now();
      try {
        const response = await request(`${base}/graphql`, { method: 'POST', headers, body, dispatcher: agent });
        const text = await response.body.text();
        const ok = response.statusCode === 200 && JSON.parse(text).data?.webhooks.totalCount === 0;
        outcomes.push({ at, result: ok ? 'ok' : `HTTP ${response.statusCode} ${text.slice(0, 80)}` });
      } catch (error) {
        const code = (error as { code?: string }).code ?? String(error);
        outcomes.push({ at, result: code });
      }
    };
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
    await agent.close();
    const slowResult = await slow;

    // Counted precisely: a request refused at connect (ECONNREFUSED: the listener was closed)
    // never reached the stopping process; a load balancer would have sent it elsewhere. Any
    // other error (a reset, a socket closed under a request) or a non-200 answer is a request
    // that reached it and failed.
    const tally = (list: Outcome[]) => {
      const counts: Record<string, number> = {};
      for (const o of list) counts[o.result] = (counts[o.result] ?? 0) + 1;
      return counts;
    };
    const afterSignal = outcomes.filter((o) => o.at >= signalledAt);
    const failed = outcomes.filter((o) => o.result !== 'ok' && o.result !== 'ECONNREFUSED');
    process.stdout.write(
      `[drain] ${outcomes.length} requests at ${RATE_PER_SECOND}/s; all: ${JSON.stringify(tally(outcomes))}; after SIGTERM: ${JSON.stringify(tally(afterSignal))}; /ready 503 after ${Math.round(readyAfterMs)} ms; exited ${code} after ${Math.round(exitedAfterMs)} ms; slow request: ${slowResult}\n`,
    );
    expect(failed.map((o) => `${o.result} sent ${Math.round(o.at - signalledAt)} ms after SIGTERM`)).toEqual([]);
    expect(readyAfterMs).toBeLessThan(DELAY_MS);
    expect(afterSignal.filter((o) => o.result === 'ok').length).toBeGreaterThan(
      RATE_PER_SECOND * (DELAY_MS / 1000) * 0.5,
    );
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
