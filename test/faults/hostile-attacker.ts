/**
 * The hostile client of test/faults/hostile-client.test.ts, as a process of its own: in
 * production an attacker runs on other machines, so the drill starts this one with
 * `nice -n 19`, and its own CPU does not count against the server it attacks. Same loops,
 * same shapes, same duration as before it moved here.
 *
 * Reads its targets from the environment; prints `attacking, late by N ms` once its streams
 * are open and its loops start (at START_AT if given), then `result: {...}` (outcomes per kind and status) when it is done.
 */
import net from 'node:net';
import { createApiKey } from '../../src/auth/api-keys.js';
import { createPool } from '../../src/db/sql.js';
import { randomBase62 } from '../../src/lib/ids.js';
import { conversationEnded, PUBLISH } from '../support/operations.js';
import { subscribe } from '../support/sse.js';
import { lowerOwnPriority } from './low-priority.js';

const env = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const base = env('BASE');
const url = `${base}/graphql`;
const attacker = env('ATTACKER_KEY');
// The 20 events of ~256 KiB the drill published, by id (the first is the one repeated).
const bigEvents = env('BIG_EVENTS').split(',');
const bigEvent = bigEvents[0] as string;
const paddedId = env('PADDED_WEBHOOK');
const victimWorkspace = env('VICTIM_WORKSPACE');
const sql = createPool(env('DATABASE_URL'), { max: 1 });

lowerOwnPriority();
const attackMs = Number(env('ATTACK_SECONDS')) * 1000;

// Every list left at its default page: 20 × 20 × 20 event reads per alias, each with 256 KiB of data.
const NESTED = 'webhooks{edges{node{deliveries{edges{node{event{deliveries{edges{node{event{data}}}}}}}}}}}';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const outcomes = new Map<string, Map<number, number>>();
const note = (kind: string, status: number) => {
  const byStatus = outcomes.get(kind) ?? new Map<number, number>();
  byStatus.set(status, (byStatus.get(status) ?? 0) + 1);
  outcomes.set(kind, byStatus);
};
const post = (key: string | undefined, body: unknown, signal?: AbortSignal) =>
  fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key ? { 'x-api-key': key } : {}) },
    // A body given as text is sent as it is (JSON.stringify would overflow on the deepest).
    body: typeof body === 'string' ? body : JSON.stringify(body),
    signal,
  });

// Answers that said INTERNAL (a failure of ours, whatever the status): there must be none.
const internal: string[] = [];
/** Reads an answer through, notes its status, and keeps it if it said INTERNAL. */
const settle = async (kind: string, res: Response, sentAt?: number) => {
  const text = Buffer.from(await res.arrayBuffer()).toString();
  if (text.includes('"code":"INTERNAL"')) internal.push(`${kind}: ${text.slice(0, 300)}`);
  if (process.env.HOSTILE_TRACE && sentAt !== undefined && !outcomes.get(kind)?.has(res.status)) {
    process.stderr.write(
      `FIRST ${kind} ${res.status} ${Math.round(performance.now() - sentAt)}ms ${text.slice(0, 120)}\n`,
    );
  }
  note(kind, res.status);
};

let attackEnd = Number.POSITIVE_INFINITY;
// HOSTILE_ONLY=a,b: only the attacks whose names contain a or b (to find which one costs what).
const only = process.env.HOSTILE_ONLY?.split(',');
const on = (name: string) => !only || only.some((o) => name.includes(o));
const loop = (kind: string, make: (i: number) => { key?: string; body: unknown }) => async () => {
  if (!on(kind)) return;
  for (let i = 0; Date.now() < attackEnd; i++) {
    const { key, body } = make(i);
    try {
      const sentAt = performance.now();
      await settle(kind, await post(key, body, AbortSignal.timeout(30_000)), sentAt);
    } catch {
      note(kind, 0);
    }
  }
};
const aliases = (n: number, field: string) => Array.from({ length: n }, (_, i) => `a${i}: ${field}`).join(' ');
const smallBatch = Array.from({ length: 10 }, () => conversationEnded('p'));
const fanOutBatch = Array.from({ length: 100 }, () => conversationEnded('x'));
const deepPublish = `{"query":${JSON.stringify(PUBLISH)},"variables":{"input":{"agentId":"x","type":"CONVERSATION_ENDED","data":${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}}}}`;
// 20 distinct events of ~256 KiB: 5 MiB, within every per-request budget. (By id: a page of
// recent deliveries would hold the fan-outs' small events once they start.)
const heavyPage = {
  query: 'query($ids: [ID!]!) { nodes(ids: $ids) { ... on Event { data } } }',
  variables: { ids: bigEvents },
};
const attacks = [
  loop('nested, first omitted, 2 aliases', () => ({
    key: attacker,
    body: { query: `{ a: ${NESTED} b: ${NESTED} }` },
  })),
  loop('nested, first omitted, 1 alias', () => ({ key: attacker, body: { query: `{ ${NESTED} }` } })),
  loop('nested ids only, 20 aliases', () => ({
    key: attacker,
    body: {
      query: `{ ${Array.from({ length: 20 }, (_, i) => `a${i}: webhooks(first: 100) { edges { node { deliveries(first: 100) { edges { node { id } } } } } }`).join(' ')} }`,
    },
  })),
  loop('allowed: 20 events of 256 KiB per request', () => ({ key: attacker, body: heavyPage })),
  loop('anonymous, a new operation name each time', (i) => ({ body: { query: `query Q${i} { __typename }` } })),
  loop('bad cursors and filters', (i) => ({
    key: attacker,
    body: {
      query: 'query($a: String, $c: String) { webhooks(agentId: $a, after: $c) { totalCount } }',
      variables: { a: i % 2 ? '\u0000' : 'x', c: Buffer.from('9999999999999999999:x').toString('base64url') },
    },
  })),
  loop('data nested 5,000 deep', () => ({ key: attacker, body: deepPublish })),
  loop('nodes: one 256 KiB event × 100, 9 aliases', () => ({
    key: attacker,
    body: {
      query: `query($ids: [ID!]!) { ${aliases(9, 'nodes(ids: $ids) { ... on Event { data } }')} }`,
      variables: { ids: Array(100).fill(bigEvent) },
    },
  })),
  loop('nodes: url and headers × 100, 20 aliases', () => ({
    key: attacker,
    body: {
      query: `query($ids: [ID!]!) { ${aliases(20, 'nodes(ids: $ids) { ... on Webhook { url headers { name value } } }')} }`,
      variables: { ids: Array(100).fill(paddedId) },
    },
  })),
  loop('20 aliased totalCount', () => ({
    key: attacker,
    body: { query: `{ ${aliases(20, 'deliveries(first: 1) { totalCount }')} }` },
  })),
  loop('20 aliased publishEvents(10) inside ... on Mutation', () => ({
    key: attacker,
    body: {
      query: `mutation($inputs: [PublishEventInput!]!) { ... on Mutation { ${aliases(20, 'publishEvents(inputs: $inputs) { id }')} } }`,
      variables: { inputs: smallBatch },
    },
  })),
];

// 30 subscriptions on one key (20 allowed), opened first: they hold the key's stream slots
// before the rest starts, as they did when the test process opened them within milliseconds.
const streams = await Promise.all(
  Array.from({ length: on('streams') ? 30 : 0 }, () =>
    subscribe(url, 'subscription { deliveryUpdates { id event { data } } }', { apiKey: attacker }),
  ),
);
// The refused ones answer at once; the rest stay open, waiting for changes.
for (const until = Date.now() + 5_000; Date.now() < until; await sleep(20)) {
  if (streams.filter((s) => s.events.length > 0).length >= streams.length - 20) break;
}

// START_AT (ms since the epoch, 0: at once): when the attack begins, so the bystander can be
// warm by then; the process reports how late it was.
const startAt = Number(process.env.START_AT ?? 0);
if (startAt > Date.now()) await sleep(startAt - Date.now());
const late = startAt > 0 ? Date.now() - startAt : 0;
attackEnd = Date.now() + attackMs;
// publishEvents(100) to the 20 webhooks of one agent every 5 s: 2,000 deliveries each.
const fanOut = (async () => {
  while (on('fanout') && Date.now() < attackEnd) {
    const res = await post(attacker, {
      query: 'mutation($inputs: [PublishEventInput!]!) { publishEvents(inputs: $inputs) { id } }',
      variables: { inputs: fanOutBatch },
    });
    await settle('publishEvents(100) to 20 webhooks every 5 s', res);
    await sleep(5_000);
  }
})();
// 300 made-up keys at once, over and over; a key made during the flood must still work.
const freshKeyStatuses: number[] = [];
const madeUp = (async () => {
  while (on('madeup') && Date.now() < attackEnd) {
    const flood = Array.from({ length: 300 }, () =>
      post(`chk_${randomBase62(40)}`, { query: '{ workspace { id } }' }).then(
        (res) => settle('300 made-up keys at once', res),
        () => note('300 made-up keys at once', 0),
      ),
    );
    const fresh = (await createApiKey(sql, victimWorkspace)).apiKey;
    const res = await post(fresh, { query: '{ workspace { id } }' });
    await res.arrayBuffer();
    freshKeyStatuses.push(res.status);
    await Promise.all(flood);
    await sleep(500);
  }
})();
// graphql-sse: a stream reserved and opened, never read, with 20 heavy queries posted into it.
let unreadStreamBytes = 0;
const unread = (async () => {
  if (!on('unread')) return;
  const token = await (await fetch(url, { method: 'PUT', headers: { 'x-api-key': attacker } })).text();
  const headers = { 'x-api-key': attacker, 'x-graphql-event-stream-token': token };
  const stream = await fetch(url, { headers: { ...headers, accept: 'text/event-stream' } });
  for (let i = 0; i < 20; i++) {
    const res = await fetch(url, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json' },
      body: JSON.stringify({ ...heavyPage, extensions: { operationId: `heavy${i}` } }),
    });
    await settle('graphql-sse stream never read, 20 heavy queries', res);
  }
  // What the stream held for its reader once all were posted: closed at its bound, or results
  // (refusals are small) that together stay under it. Read for at most 2 s.
  const reader = stream.body?.getReader();
  const stop = setTimeout(() => void reader?.cancel().catch(() => {}), 2_000);
  for (;;) {
    const chunk = await reader?.read().catch(() => undefined);
    if (!chunk || chunk.done) break;
    unreadStreamBytes += chunk.value.byteLength;
  }
  clearTimeout(stop);
})();
// 200 connections trickling their headers.
const trickling = Array.from({ length: on('trickl') ? 200 : 0 }, () => {
  const socket = net.connect(Number(new URL(base).port), '127.0.0.1');
  socket.on('error', () => {});
  socket.on('connect', () => socket.write('POST /graphql HTTP/1.1\r\nHost: x\r\n'));
  const timer = setInterval(() => socket.writable && socket.write('X'), 1000);
  socket.on('close', () => clearInterval(timer));
  return socket;
});
process.stdout.write(`attacking, late by ${late} ms\n`);
await Promise.all([...attacks.map((attack) => attack()), fanOut, madeUp, unread]);
for (const socket of trickling) socket.destroy();
await Promise.all(streams.map((s) => s.close()));
await sql.end();

const refusedStreams = streams.filter(
  (s) => s.events[0]?.errors?.[0]?.extensions?.code === 'TOO_MANY_SUBSCRIPTIONS',
).length;
const result = {
  outcomes: Object.fromEntries([...outcomes].map(([kind, byStatus]) => [kind, Object.fromEntries(byStatus)])),
  freshKeyStatuses,
  refusedStreams,
  unreadStreamBytes,
  internal,
};
process.stdout.write(`result: ${JSON.stringify(result)}\n`);
