import http from 'node:http';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createCrowding } from '../../src/auth/crowding.js';
import { createKeyTurns, type KeyTurnsOptions } from '../../src/auth/key-turns.js';
import { createTestApp } from '../support/app.js';
import { congestLoop } from '../support/congestion.js';
import { eventually, sleep } from '../support/receiver.js';

/**
 * A real HTTP server behind the door's turns, whose handler answers only when the test says:
 * what has started (and in which order) is what the turns let through.
 */
async function turnsServer({
  congested,
  ...options
}: Omit<KeyTurnsOptions, 'crowding'> & { congested?: () => boolean }) {
  const crowding = createCrowding(congested);
  const turns = createKeyTurns({ ...options, crowding });
  const started: string[] = [];
  const answer = new Map<string, (how: 'json' | 'stream') => void>();
  const server = http.createServer((req, res) => {
    const name = req.url?.slice(1) ?? '';
    const keyId = name.split('-')[0] ?? '';
    crowding.seen(keyId);
    const admitted = turns.admit(keyId, res, () => {
      started.push(name);
      answer.set(name, (how) => {
        if (how === 'json') return res.end(JSON.stringify({ name }));
        // A stream: headers now, the body much later.
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write(': open\n\n');
      });
    });
    if (!admitted) res.writeHead(429).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push(server);
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const send = (name: string, signal?: AbortSignal) => fetch(`${base}/${name}`, { signal }).then((r) => r.status);
  const finish = (name: string, how: 'json' | 'stream' = 'json') => answer.get(name)?.(how);
  return { turns, started, send, finish, port: (server.address() as AddressInfo).port };
}

const servers: http.Server[] = [];
afterEach(() => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    server.close();
  }
});

describe("each key's turns at the door", () => {
  it('a key alone has `alone` at once; once another key is served, `shared` at once, and the other never waits in its line', async () => {
    const { started, send, finish, turns } = await turnsServer({ shared: 1, alone: 3, waiting: 100 });
    const first = ['a-1', 'a-2', 'a-3', 'a-4', 'a-5'].map((name) => send(name));
    await eventually(async () => started.length === 3);
    await sleep(50);
    expect(started).toEqual(['a-1', 'a-2', 'a-3']);
    expect(turns.counts()).toEqual({ running: 3, waiting: 2 });

    // Another key arrives: it is answered at once, past a's line.
    const b = send('b-1');
    await eventually(async () => started.includes('b-1'));
    finish('b-1');
    expect(await b).toBe(200);

    // a is shared now: its three running finish, and its waiting ones start one at a time.
    for (const name of ['a-1', 'a-2', 'a-3']) finish(name);
    await eventually(async () => started.includes('a-4'));
    await sleep(50);
    expect(started).not.toContain('a-5');
    finish('a-4');
    await eventually(async () => started.includes('a-5'));
    finish('a-5');
    expect(await Promise.all(first)).toEqual([200, 200, 200, 200, 200]);
    expect(turns.counts()).toEqual({ running: 0, waiting: 0 });
  });

  it('while the event loop has room, turns are not shared: a key keeps `alone` at once beside another key, and shares once it is congested', async () => {
    let congested = false;
    const { started, send, finish } = await turnsServer({
      shared: 1,
      alone: 3,
      waiting: 100,
      congested: () => congested,
    });
    const b = send('b-1');
    await eventually(async () => started.includes('b-1'));
    // Another key was just served, but the loop has room: three of a's start at once.
    const first = ['a-1', 'a-2', 'a-3', 'a-4'].map((name) => send(name));
    await eventually(async () => started.length === 4);
    await sleep(50);
    expect(started).toEqual(['b-1', 'a-1', 'a-2', 'a-3']);
    // Congested now: a's turns are shared, so its fourth waits until all three have finished.
    congested = true;
    finish('a-1');
    finish('a-2');
    await sleep(50);
    expect(started).not.toContain('a-4');
    finish('a-3');
    await eventually(async () => started.includes('a-4'));
    finish('a-4');
    finish('b-1');
    expect(await Promise.all([b, ...first])).toEqual([200, 200, 200, 200, 200]);
  });

  it('past `waiting` in line a request is refused and never starts; an answer that opens a stream frees its turn', async () => {
    const { started, send, finish } = await turnsServer({ shared: 1, alone: 1, waiting: 2 });
    const stream = send('a-stream');
    await eventually(async () => started.length === 1);
    const queued = [send('a-2'), send('a-3')];
    await sleep(50);
    expect(await send('a-4')).toBe(429);
    expect(started).toEqual(['a-stream']);
    // Its headers are written and the stream stays open: the next in line starts.
    finish('a-stream', 'stream');
    expect(await stream).toBe(200);
    await eventually(async () => started.includes('a-2'));
    finish('a-2');
    await eventually(async () => started.includes('a-3'));
    finish('a-3');
    expect(await Promise.all(queued)).toEqual([200, 200]);
  });

  it('a caller that gives up while it waits loses its place: the turn passes on, nothing of it runs', async () => {
    const { started, send, finish, turns } = await turnsServer({ shared: 1, alone: 1, waiting: 10 });
    const running = send('a-1');
    await eventually(async () => started.length === 1);
    const giveUp = new AbortController();
    const abandoned = send('a-2', giveUp.signal).catch(() => 'aborted');
    const next = send('a-3');
    await sleep(50);
    giveUp.abort();
    expect(await abandoned).toBe('aborted');
    // Once the server sees the connection close, one waits where two did.
    await eventually(async () => turns.counts().waiting === 1);
    finish('a-1');
    await eventually(async () => started.includes('a-3'));
    finish('a-3');
    expect(await running).toBe(200);
    expect(await next).toBe(200);
    expect(started).toEqual(['a-1', 'a-3']);
    await eventually(async () => turns.counts().running === 0 && turns.counts().waiting === 0);
  });

  it('once the loop is relieved, a line waiting behind a running request moves without waiting for it to end', async () => {
    let congested = true;
    const { started, send, finish } = await turnsServer({
      shared: 1,
      alone: 3,
      waiting: 10,
      congested: () => congested,
    });
    const b = send('b-1');
    await eventually(async () => started.includes('b-1'));
    const a = ['a-1', 'a-2'].map((name) => send(name));
    await eventually(async () => started.includes('a-1'));
    await sleep(150);
    expect(started).not.toContain('a-2');
    congested = false;
    // a-1 still runs: a-2 starts because a key has `alone` turns again.
    await eventually(async () => started.includes('a-2'), 1_000, 10);
    for (const name of ['a-1', 'a-2', 'b-1']) finish(name);
    expect(await Promise.all([b, ...a])).toEqual([200, 200, 200]);
  });

  it('pipelined requests whose connection closed while they waited never start', async () => {
    const { started, finish, turns, port } = await turnsServer({ shared: 1, alone: 1, waiting: 10 });
    const socket = net.connect(port, '127.0.0.1');
    socket.on('error', () => {});
    socket.on('connect', () =>
      socket.write(['a-1', 'a-2', 'a-3', 'a-4'].map((name) => `GET /${name} HTTP/1.1\r\nHost: x\r\n\r\n`).join('')),
    );
    await eventually(async () => started.includes('a-1') && turns.counts().waiting === 3);
    socket.destroy();
    await sleep(100);
    finish('a-1');
    await eventually(async () => turns.counts().running === 0 && turns.counts().waiting === 0);
    expect(started).toEqual(['a-1']);
  });

  it('0 shared turns take no turns at all: every request starts at once', async () => {
    const { started, send, finish } = await turnsServer({ shared: 0, alone: 1, waiting: 0 });
    const all = ['a-1', 'a-2', 'a-3'].map((name) => send(name));
    await eventually(async () => started.length === 3);
    for (const name of ['a-1', 'a-2', 'a-3']) finish(name);
    expect(await Promise.all(all)).toEqual([200, 200, 200]);
  });

  it('in the server, its loop congested: while one request of a key holds its turn, the next wait in its own line, past it 429 RATE_LIMITED; another key is answered', async () => {
    const app = await createTestApp({ REQUESTS_AT_ONCE_PER_KEY: '1', OPERATIONS_WAITING_PER_KEY: '3' });
    const url = await app.listen();
    const query = JSON.stringify({ query: '{ webhooks(first: 100) { totalCount edges { node { id url } } } }' });
    const post = (apiKey: string) =>
      fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': apiKey }, body: query });
    const busy = await app.newWorkspace();
    const bystander = await app.newWorkspace();
    // Each key's first request looks it up; memory knows it live once the revocation listener runs.
    for (const key of [busy.apiKey, bystander.apiKey]) expect((await post(key)).status).toBe(200);
    await sleep(1_000);
    const waitingNow = async () => {
      const text = await (await app.yoga.fetch('http://localhost/metrics')).text();
      return Number(/^graphql_requests_waiting_turn (\S+)$/m.exec(text)?.[1]);
    };

    // This process's event loop (the server's) kept congested, as a flood on a busy server
    // keeps it: turns are shared only then.
    const congestion = congestLoop(50);
    await sleep(300);
    expect((await post(bystander.apiKey)).status).toBe(200);
    // The other key keeps being served (turns are shared only while it is, within a second):
    // on a slow machine a second can pass before the busy key's line is looked at.
    let serving = true;
    const bystanding = (async () => {
      while (serving) {
        await (await post(bystander.apiKey)).text();
        await sleep(200);
      }
    })();

    // The busy key's first request sends half its body and holds its turn until the rest comes.
    const slow = http.request(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-api-key': busy.apiKey,
        'content-length': Buffer.byteLength(query),
      },
    });
    const slowAnswer = new Promise<number>((resolve, reject) => {
      slow.on('response', (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      slow.on('error', reject);
    });
    slow.write(query.slice(0, 10));
    await sleep(200);
    const more = Array.from({ length: 10 }, () => post(busy.apiKey));
    // Three wait for its turn, unread (the operator sees them in graphql_requests_waiting_turn)...
    await eventually(async () => (await waitingNow()) === 3, 5_000, 10);
    // ...never more, however many of the ten have arrived: the rest are refused.
    let mostWaiting = 0;
    for (const until = Date.now() + 500; Date.now() < until; await sleep(10)) {
      mostWaiting = Math.max(mostWaiting, await waitingNow());
    }
    expect(mostWaiting).toBe(3);
    // ...and the other key is answered past them.
    expect((await post(bystander.apiKey)).status).toBe(200);
    slow.end(query.slice(10));
    expect(await slowAnswer).toBe(200);
    const answers = await Promise.all(more);
    serving = false;
    await bystanding;
    await congestion.stop();

    const statuses = answers.map((r) => r.status);
    // At least the three that waited are answered; those that found the line full were refused.
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThanOrEqual(3);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThan(0);
    expect(statuses.every((s) => s === 200 || s === 429)).toBe(true);
    const refused = await answers[statuses.indexOf(429)]?.json();
    expect(refused.errors[0].extensions.code).toBe('RATE_LIMITED');
    expect(refused.errors[0].message).toContain('Too many requests at once for this API key');
    // Nothing is left holding a turn or waiting.
    expect(await waitingNow()).toBe(0);
    expect((await post(busy.apiKey)).status).toBe(200);
  });
});
