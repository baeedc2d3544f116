import fs from 'node:fs/promises';
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { createApiKey } from '../../src/auth/api-keys.js';
import { randomBase62 } from '../../src/lib/ids.js';
import { createWorkspace } from '../../src/workspaces/store.js';
import { conversationEnded, PUBLISH, REGISTER, validWebhook } from '../support/operations.js';
import { runCommand } from '../support/processes.js';
import { createReceiver, eventually, sleep } from '../support/receiver.js';
import { subscribe } from '../support/sse.js';
import { drillSetup, metric, report } from './support.js';

const ATTACK_SECONDS = Number(process.env.HOSTILE_SECONDS ?? 20);
// Every list left at its default page: 20 × 20 × 20 event reads per alias, each with 256 KiB of data.
const NESTED = 'webhooks{edges{node{deliveries{edges{node{event{deliveries{edges{node{event{data}}}}}}}}}}}';

const VICTIM_SCRIPT = `
const end = Date.now() + Number(process.env.MS);
const latencies = [];
const failures = [];
await Promise.all([0, 1, 2, 3].map(async () => {
  while (Date.now() < end) {
    const started = performance.now();
    const res = await fetch(process.env.URL, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': process.env.API_KEY },
      body: JSON.stringify({ query: '{ webhooks(first: 10) { totalCount edges { node { id name } } } }' }),
    });
    const body = await res.json();
    latencies.push(performance.now() - started);
    if (res.status !== 200 || body.errors) failures.push(res.status + ' ' + JSON.stringify(body));
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}));
process.stdout.write(JSON.stringify({ latencies, failures }));
`;

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return Math.round(sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN);
};

async function peakRss(pid: number): Promise<number> {
  const status = await fs.readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1]) / 1024;
}

describe('drill: hostile client', () => {
  it(`${ATTACK_SECONDS} s of crash-shaped requests from one tenant while another works: refused or bounded, memory ≤ 300 MB, the other tenant served`, async () => {
    const drill = await drillSetup();
    const receiver = await createReceiver();
    // Started as the README says to run it in production: with a heap sized to its memory.
    // (Without a cap V8 lets garbage from big reads pile up well past the live heap.)
    const server = drill.startServer({
      NODE_OPTIONS: '--max-old-space-size=256',
    });
    const base = await server.ready;
    const url = `${base}/graphql`;

    // The attacker's workspace: 20 webhooks, 20 events of ~256 KiB: 400 deliveries.
    const attacker = drill.apiKey;
    for (let i = 0; i < 20; i++) await drill.registerAt(base, receiver.url, 'x');
    const bigEvents: string[] = [];
    for (let i = 0; i < 20; i++) {
      const res = await drill.call(base, PUBLISH, { input: conversationEnded('x', { blob: 'z'.repeat(255 * 1024) }) });
      expect(res.body.errors).toBeUndefined();
      bigEvents.push(res.body.data.publishEvent.id);
    }
    // A webhook with the largest url and headers registration allows, on an agent of its own.
    const padded = await drill.call(base, REGISTER, {
      input: validWebhook({
        agentId: 'h',
        url: `${receiver.url}?${'p'.repeat(1900)}`,
        headers: Array.from({ length: 20 }, (_, i) => ({ name: `X-Pad-${i}`, value: 'v'.repeat(400) })),
      }),
    });
    expect(padded.body.errors).toBeUndefined();
    const paddedId: string = padded.body.data.registerWebhook.id;
    // The victim: another workspace with a few webhooks of its own.
    const victimWorkspace = await createWorkspace(drill.app.sql, 'Victim');
    const victim = (await createApiKey(drill.app.sql, victimWorkspace.id)).apiKey;
    const post = (key: string | undefined, body: unknown, signal?: AbortSignal) =>
      fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(key ? { 'x-api-key': key } : {}) },
        // A body given as text is sent as it is (JSON.stringify would overflow on the deepest).
        body: typeof body === 'string' ? body : JSON.stringify(body),
        signal,
      });
    for (let i = 0; i < 5; i++) {
      await post(victim, {
        query: 'mutation($input: RegisterWebhookInput!) { registerWebhook(input: $input) { id } }',
        variables: { input: validWebhook({ agentId: 'v', url: receiver.url }) },
      });
    }

    /**
     * The victim's dashboard: a count and a page, over and over, timed from a process of
     * its own, so its figures are the server's and not this busy test process's.
     */
    const victimLoad = async (ms: number) => {
      const run = await runCommand(process.execPath, ['--input-type=module', '-e', VICTIM_SCRIPT], {
        URL: url,
        API_KEY: victim,
        MS: String(ms),
      });
      expect(run.code, run.stderr).toBe(0);
      return JSON.parse(run.stdout) as { latencies: number[]; failures: string[] };
    };

    // The 400 deliveries of 256 KiB go out first: the attack is measured on its own.
    await eventually(async () => receiver.received.length >= 400, 60_000, 200);
    const before = await victimLoad(5_000);
    const rssBefore = await peakRss(server.child.pid as number);

    // ---- the attack ----
    const outcomes = new Map<string, Map<number, number>>();
    const note = (kind: string, status: number) => {
      const byStatus = outcomes.get(kind) ?? new Map<number, number>();
      byStatus.set(status, (byStatus.get(status) ?? 0) + 1);
      outcomes.set(kind, byStatus);
    };
    const attackEnd = Date.now() + ATTACK_SECONDS * 1000;
    const loop = (kind: string, make: (i: number) => { key?: string; body: unknown }) => async () => {
      for (let i = 0; Date.now() < attackEnd; i++) {
        const { key, body } = make(i);
        try {
          const res = await post(key, body, AbortSignal.timeout(30_000));
          await res.arrayBuffer();
          note(kind, res.status);
        } catch {
          note(kind, 0);
        }
      }
    };
    const aliases = (n: number, field: string) => Array.from({ length: n }, (_, i) => `a${i}: ${field}`).join(' ');
    const smallBatch = Array.from({ length: 10 }, () => conversationEnded('p'));
    const fanOutBatch = Array.from({ length: 100 }, () => conversationEnded('x'));
    const deepPublish = `{"query":${JSON.stringify(PUBLISH)},"variables":{"input":{"agentId":"x","type":"CONVERSATION_ENDED","data":${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}}}}`;
    const heavyPage = `{ webhooks(first: 1) { edges { node { deliveries(first: 20) { edges { node { event { data } } } } } } } }`;
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
      loop('allowed: 20 events of 256 KiB per request', () => ({ key: attacker, body: { query: heavyPage } })),
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
          variables: { ids: Array(100).fill(bigEvents[0]) },
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
    // publishEvents(100) to the 20 webhooks of one agent every 5 s: 2,000 deliveries each.
    const fanOut = (async () => {
      while (Date.now() < attackEnd) {
        const res = await post(attacker, {
          query: 'mutation($inputs: [PublishEventInput!]!) { publishEvents(inputs: $inputs) { id } }',
          variables: { inputs: fanOutBatch },
        });
        await res.arrayBuffer();
        note('publishEvents(100) to 20 webhooks every 5 s', res.status);
        await sleep(5_000);
      }
    })();
    // 300 made-up keys at once, over and over; a key made during the flood must still work.
    const freshKeyStatuses: number[] = [];
    const madeUp = (async () => {
      while (Date.now() < attackEnd) {
        const flood = Array.from({ length: 300 }, () =>
          post(`chk_${randomBase62(40)}`, { query: '{ workspace { id } }' }).then(
            async (res) => {
              await res.arrayBuffer();
              note('300 made-up keys at once', res.status);
            },
            () => note('300 made-up keys at once', 0),
          ),
        );
        const fresh = (await createApiKey(drill.app.sql, victimWorkspace.id)).apiKey;
        const res = await post(fresh, { query: '{ workspace { id } }' });
        await res.arrayBuffer();
        freshKeyStatuses.push(res.status);
        await Promise.all(flood);
        await sleep(500);
      }
    })();
    // graphql-sse: a stream reserved and opened, never read, with 20 heavy queries posted into it.
    const unread = (async () => {
      const token = await (await fetch(url, { method: 'PUT', headers: { 'x-api-key': attacker } })).text();
      const headers = { 'x-api-key': attacker, 'x-graphql-event-stream-token': token };
      const stream = await fetch(url, { headers: { ...headers, accept: 'text/event-stream' } });
      for (let i = 0; i < 20; i++) {
        const res = await fetch(url, {
          method: 'POST',
          headers: { ...headers, 'content-type': 'application/json' },
          body: JSON.stringify({ query: heavyPage, extensions: { operationId: `heavy${i}` } }),
        });
        await res.arrayBuffer();
        note('graphql-sse stream never read, 20 heavy queries', res.status);
      }
      await stream.body?.cancel().catch(() => {});
    })();
    // 200 connections trickling their headers, and 30 subscriptions on one key (20 allowed).
    const trickling = Array.from({ length: 200 }, () => {
      const socket = net.connect(Number(new URL(base).port), '127.0.0.1');
      socket.on('error', () => {});
      socket.on('connect', () => socket.write('POST /graphql HTTP/1.1\r\nHost: x\r\n'));
      const timer = setInterval(() => socket.writable && socket.write('X'), 1000);
      socket.on('close', () => clearInterval(timer));
      return socket;
    });
    const streams = await Promise.all(
      Array.from({ length: 30 }, () =>
        subscribe(url, 'subscription { deliveryUpdates { id event { data } } }', { apiKey: attacker }),
      ),
    );

    // The live heap, sampled: what the process holds, as against the garbage its RSS may carry.
    let heapUsedMax = 0;
    const sampler = (async () => {
      while (Date.now() < attackEnd) {
        const text = await (await fetch(`${base}/metrics`)).text();
        heapUsedMax = Math.max(heapUsedMax, metric(text, 'nodejs_heap_size_used_bytes') / 1048576);
        await sleep(1000);
      }
    })();
    const [during] = await Promise.all([
      victimLoad(ATTACK_SECONDS * 1000),
      ...attacks.map((attack) => attack()),
      fanOut,
      madeUp,
      unread,
    ]);
    for (const socket of trickling) socket.destroy();
    await Promise.all(streams.map((s) => s.close()));

    // ---- what it came to ----
    const health = await fetch(`${base}/health`);
    expect(health.status).toBe(200);
    await sampler;
    const rssPeak = await peakRss(server.child.pid as number);
    const refusedStreams = streams.filter(
      (s) => s.events[0]?.errors?.[0]?.extensions?.code === 'TOO_MANY_SUBSCRIPTIONS',
    );
    const figures = {
      victimBefore: {
        requests: before.latencies.length,
        p50: percentile(before.latencies, 50),
        p99: percentile(before.latencies, 99),
      },
      victimDuring: {
        requests: during.latencies.length,
        p50: percentile(during.latencies, 50),
        p99: percentile(during.latencies, 99),
      },
      attack: Object.fromEntries([...outcomes].map(([kind, byStatus]) => [kind, Object.fromEntries(byStatus)])),
      subscriptionsRefused: refusedStreams.length,
      freshKeysDuringFlood: freshKeyStatuses,
      serverPeakRssMbBeforeAttack: Math.round(rssBefore),
      serverPeakRssMb: Math.round(rssPeak),
      serverLiveHeapMaxMb: Math.round(heapUsedMax),
    };
    report('hostile client', figures);

    expect(before.failures).toEqual([]);
    expect(during.failures).toEqual([]);
    // Nothing the attacker sent crashed the server or got a 5xx: each was answered, refused
    // (400), or, once the key had read its share of event data, rate limited (429).
    const allowed: Record<string, number[]> = {
      '300 made-up keys at once': [401, 503],
      'graphql-sse stream never read, 20 heavy queries': [202, 404],
    };
    for (const [kind, byStatus] of outcomes) {
      for (const status of byStatus.keys()) expect(allowed[kind] ?? [200, 400, 429], kind).toContain(status);
    }
    // Budgets charged per copy, per executed field, per count: the amplifying shapes never pass.
    expect(outcomes.get('nodes: one 256 KiB event × 100, 9 aliases')?.get(200)).toBeUndefined();
    expect(outcomes.get('nodes: url and headers × 100, 20 aliases')?.get(200)).toBeUndefined();
    expect(outcomes.get('20 aliased totalCount')?.get(200)).toBeUndefined();
    // The unread stream is closed once a response's worth waits in it: later posts find no stream.
    expect(outcomes.get('graphql-sse stream never read, 20 heavy queries')?.get(404)).toBeGreaterThan(0);
    // Fresh real keys are served through every flood of made-up ones.
    expect(freshKeyStatuses.length).toBeGreaterThan(0);
    expect(freshKeyStatuses.every((status) => status === 200)).toBe(true);
    // Events published by the aliased batches stay within the documented limit: 2,000 burst + 1,000/s.
    const [published] = await drill.app.sql<{ events: number }[]>`
      select count(*)::int as events from events where workspace_id = ${drill.workspaceId} and agent_id = 'p'`;
    expect(published?.events).toBeLessThanOrEqual(2_000 + 1_000 * (ATTACK_SECONDS + 2));
    expect(outcomes.get('nested, first omitted, 2 aliases')?.get(400)).toBeGreaterThan(0);
    expect(outcomes.get('nested, first omitted, 2 aliases')?.get(200)).toBeUndefined();
    expect(outcomes.get('nested ids only, 20 aliases')?.get(200)).toBeUndefined();
    expect(refusedStreams.length).toBe(10);
    expect(rssPeak).toBeLessThanOrEqual(300);
    const metricsText = await (await fetch(`${base}/metrics`)).text();
    expect(metricsText).not.toMatch(/Q\d+/);
  }, 180_000);
});
