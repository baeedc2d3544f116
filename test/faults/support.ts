import type { ChildProcess } from 'node:child_process';
import { createApiKey } from '../../src/auth/api-keys.js';
import { createWorkspace } from '../../src/workspaces/store.js';
import { createTestApp } from '../support/app.js';
import { cleanup } from '../support/cleanup.js';
import { PUBLISH, REGISTER, validWebhook } from '../support/operations.js';
import { pickPort, signalGroup, startProcess, whenReady } from '../support/processes.js';
import { sleep } from '../support/receiver.js';

/** A fresh database, a workspace and its key, and a way to run `node dist/main.js` on it. */
export async function drillSetup(env: Record<string, string> = {}) {
  const app = await createTestApp();
  const workspace = await createWorkspace(app.sql, 'Drill');
  const { apiKey } = await createApiKey(app.sql, workspace.id);
  const servers: { child: ChildProcess }[] = [];

  /**
   * The server as an operator runs it: the built entry point, a real port, real signals.
   * `nodeFlags` go to node before the entry point (a drill's diagnostics, such as --trace-gc).
   */
  function startServer(extra: Record<string, string> = {}, nodeFlags: string[] = []) {
    const port = pickPort();
    const proc = startProcess(
      process.execPath,
      [...nodeFlags, 'dist/main.js'],
      {
        PORT: port,
        DATABASE_URL: app.db.url,
        SECRET_ENCRYPTION_KEY: app.secretKey.toString('hex'),
        ALLOW_PRIVATE_TARGETS: 'true',
        NODE_ENV: 'production',
        LOG_LEVEL: 'warn',
        RATE_LIMIT_PER_SECOND: '0',
        PUBLISH_RATE_LIMIT_PER_SECOND: '0',
        DELIVERY_TIMEOUT_MS: '2000',
        DELIVERY_RETRY_SCHEDULE: '200ms,500ms,1s,1s,1s,1s,1s,1s',
        ...env,
        ...extra,
      },
      /^/,
    );
    const ready = whenReady(proc, `http://127.0.0.1:${port}`);
    const server = { ...proc, ready };
    servers.push(server);
    return server;
  }
  // Every server started is killed when the drill ends, passed or failed.
  cleanup(() => {
    for (const server of servers) signalGroup(server.child, 'SIGKILL');
  });

  async function call(base: string, query: string, variables: Record<string, unknown>) {
    const response = await fetch(`${base}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': apiKey },
      body: JSON.stringify({ query, variables }),
      signal: AbortSignal.timeout(10_000),
    });
    return { status: response.status, body: (await response.json()) as { data?: any; errors?: any[] } };
  }

  async function registerAt(base: string, url: string, agentId: string) {
    const res = await call(base, REGISTER, { input: validWebhook({ url, agentId }) });
    return res.body.data.registerWebhook.id as string;
  }

  /**
   * Publishes `count` events, `concurrency` at a time, spread over `bases`. A publish that
   * fails (server killed, database down) is retried with the same idempotency key until it
   * is accepted: the publisher always knows which events were accepted.
   */
  async function publishAll(bases: () => string[], agentId: string, count: number, concurrency = 16) {
    const accepted = new Map<string, string>();
    let rejected = 0;
    let next = 0;
    const one = async (n: number) => {
      for (let attempt = 0; ; attempt++) {
        const targets = bases();
        const base = targets[(n + attempt) % targets.length] as string;
        try {
          const res = await call(base, PUBLISH, {
            input: { agentId, type: 'CONVERSATION_ENDED', data: { n }, idempotencyKey: `${agentId}-${n}` },
          });
          if (res.body.data?.publishEvent) {
            accepted.set(`${agentId}-${n}`, res.body.data.publishEvent.id);
            return;
          }
          rejected++;
        } catch {
          rejected++;
        }
        await sleep(100);
      }
    };
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < count) await one(next++);
      }),
    );
    return { eventIds: [...accepted.values()], rejected };
  }

  return { app, apiKey, workspaceId: workspace.id, startServer, call, registerAt, publishAll };
}

/**
 * The heap left after each full (mark-compact) collection of a process run with
 * `--trace-gc`: `ms` after the process started, `mb` live. Unlike a sample of heap used,
 * which also counts garbage not yet collected (between two full collections V8 lets the
 * heap grow to three to four times what stayed live), this is memory that stays.
 */
export function fullCollections(output: string): { ms: number; mb: number }[] {
  return [...output.matchAll(/(\d+) ms: Mark-Compact (?:\(reduce\) )?[\d.]+ \([\d.]+\) -> ([\d.]+) \(/g)].map((m) => ({
    ms: Number(m[1]),
    mb: Number(m[2]),
  }));
}

/** Reads one sample from a Prometheus text page. */
export function metric(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return line ? Number(line.split(' ').at(-1)) : Number.NaN;
}

/**
 * Accepted events a receiver never got, summed over the receivers: each receiver should
 * have every one of `eventIds`.
 */
export function lostDeliveries(receivers: { received: { headers: Record<string, unknown> }[] }[], eventIds: string[]) {
  return receivers.reduce((lost, r) => {
    const { distinct } = tally(r.received);
    return lost + eventIds.filter((id) => !distinct.has(id)).length;
  }, 0);
}

/**
 * Waits until every receiver has every accepted event, or `timeoutMs` passes; returns how
 * many deliveries are still missing then (lost), for the drill to report and assert.
 */
export async function awaitDeliveries(
  receivers: { received: { headers: Record<string, unknown> }[] }[],
  eventIds: string[],
  timeoutMs: number,
  everyMs: number,
): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (receivers.every((r) => hasAll(tally(r.received).distinct, eventIds))) return 0;
    if (Date.now() > deadline) return lostDeliveries(receivers, eventIds);
    await sleep(everyMs);
  }
}

/**
 * Whether every id was delivered. The tally is made once per check: made once per id, a
 * check of 5,000 ids against 15,000 receipts blocked this process (and the receivers in it)
 * for seconds, so deliveries timed out at the receiver and came again.
 */
export function hasAll(distinct: Set<string>, ids: string[]): boolean {
  return ids.every((id) => distinct.has(id));
}

/** Delivered ids per receiver: distinct ids and duplicates. */
export function tally(received: { headers: Record<string, unknown> }[]) {
  const ids = received.map((r) => String(r.headers['webhook-id']));
  const distinct = new Set(ids);
  return { distinct, duplicates: ids.length - distinct.size };
}

export function report(drill: string, figures: Record<string, unknown>) {
  process.stdout.write(`[drill] ${drill}: ${JSON.stringify(figures)}\n`);
}
