import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { cleanup } from '../support/cleanup.js';
import { createReceiver, eventually } from '../support/receiver.js';
import { drillSetup, metric, report, tally } from './support.js';

const EVENTS = 200;

type Behaviour = (res: ServerResponse, req: { socket: { destroy: () => void } }) => void;

/** A receiver that misbehaves in one way until `recover()`, then answers 200. */
async function hostileReceiver(behave: Behaviour) {
  let recovered = false;
  const ids: string[] = [];
  const open = new Set<ServerResponse>();
  const server = createServer((req, res) => {
    ids.push(String(req.headers['webhook-id']));
    req.resume();
    req.on('end', () => {
      if (recovered) return void res.writeHead(200).end();
      open.add(res);
      res.on('close', () => open.delete(res));
      behave(res, req);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanup(() => {
    for (const res of open) res.destroy();
    server.closeAllConnections();
    server.close();
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    ids,
    recover: () => {
      recovered = true;
    },
  };
}

const FIFTY_MB = Buffer.alloc(50 * 1024 * 1024, 'x');

describe('drill: hostile receivers', () => {
  it('500s, hangs, resets, 429s, byte-by-byte answers and 50 MB bodies: all delivered once they recover, memory bounded, the healthy one unhindered', async () => {
    const drill = await drillSetup({
      DELIVERY_TIMEOUT_MS: '1000',
      DELIVERY_RETRY_SCHEDULE: Array(60).fill('500ms').join(','),
    });
    const hostile = {
      randomErrors: await hostileReceiver((res) => res.writeHead(Math.random() < 0.5 ? 500 : 200).end()),
      hangs: await hostileReceiver(() => {}),
      resets: await hostileReceiver((_res, req) => req.socket.destroy()),
      tooManyRequests: await hostileReceiver((res) => res.writeHead(429, { 'retry-after': '1' }).end()),
      byteByByte: await hostileReceiver((res) => {
        res.writeHead(200, { 'content-length': '100' });
        const timer = setInterval(() => (res.writableEnded ? clearInterval(timer) : res.write('x')), 100);
        res.on('close', () => clearInterval(timer));
      }),
      hugeBody: await hostileReceiver((res) =>
        res.writeHead(500, { 'content-length': String(FIFTY_MB.length) }).end(FIFTY_MB),
      ),
    };
    const healthy = await createReceiver();
    const server = drill.startServer();
    const base = await server.ready;
    for (const [name, receiver] of Object.entries(hostile))
      await drill.registerAt(base, receiver.url, `hostile-${name}`);
    await drill.registerAt(base, healthy.url, 'healthy');

    const startedAt = Date.now();
    const publishing = Object.keys(hostile).map((name) => drill.publishAll(() => [base], `hostile-${name}`, EVENTS, 4));
    const healthyEvents = await drill.publishAll(() => [base], 'healthy', EVENTS, 4);
    await eventually(async () => tally(healthy.received).distinct.size === EVENTS, 60_000, 100);
    const healthyDoneMs = Date.now() - startedAt;
    await Promise.all(publishing);

    // Let the hostile ones misbehave for a while, watching the server's memory.
    const rss: number[] = [];
    for (let i = 0; i < 10; i++) {
      rss.push(metric(await (await fetch(`${base}/metrics`)).text(), 'process_resident_memory_bytes'));
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    const [stillPending] = await drill.app.sql`select count(*)::int as n from deliveries where status = 'pending'`;
    for (const receiver of Object.values(hostile)) receiver.recover();

    await eventually(
      async () => {
        const [row] = await drill.app.sql`select count(*)::int as n from deliveries where status = 'pending'`;
        return row?.n === 0;
      },
      120_000,
      250,
    );
    const byStatus = await drill.app
      .sql`select status, count(*)::int as n from deliveries group by status order by status`;
    const [attempts] = await drill.app.sql`select count(*)::int as n from delivery_attempts`;
    report('hostile receivers', {
      eventsPerReceiver: EVENTS,
      healthyAllDeliveredMs: healthyDoneMs,
      pendingWhileHostile: stillPending?.n,
      finalStatus: Object.fromEntries(byStatus.map((r) => [r.status, r.n])),
      attempts: attempts?.n,
      rssMB: rss.map((b) => Math.round(b / 1e6)),
    });
    expect(healthyEvents.eventIds).toHaveLength(EVENTS);
    expect(Object.fromEntries(byStatus.map((r) => [r.status, r.n]))).toEqual({ succeeded: EVENTS * 7 });
    // Bodies are cut at 64 KiB and sockets closed; what remains is garbage awaiting collection.
    expect(Math.max(...rss)).toBeLessThan(400e6);
    server.signal('SIGTERM');
    expect(await server.exited).toBe(0);
  });
});
