import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { createResolver, type LookupOutcome, type ResolverOptions } from '../../src/worker/resolver.js';
import { cleanup } from '../support/cleanup.js';
import { createNameServer } from '../support/name-server.js';
import { sleep } from '../support/receiver.js';

let nameServer: Awaited<ReturnType<typeof createNameServer>>;
beforeAll(async () => {
  // Names under ok.test answer 127.0.0.<n>; `ttl0.ok.test` with TTL 0, others 1 s.
  // Under missing.test: NXDOMAIN. Everything else: never an answer.
  nameServer = await createNameServer((name) => {
    if (name.endsWith('.ok.test')) return { a: ['127.0.0.9'], ttl: name.startsWith('ttl0.') ? 0 : 1 };
    if (name.endsWith('.missing.test')) return 'nxdomain';
    return 'silent';
  });
});

function resolverFor(options: Partial<ResolverOptions> = {}) {
  const outcomes: LookupOutcome[] = [];
  const resolver = createResolver({
    servers: [nameServer.address],
    timeoutMs: 400,
    lookupsPerWorkspace: 4,
    onLookup: (outcome) => outcomes.push(outcome),
    ...options,
  });
  cleanup(() => resolver.close());
  return { ...resolver, outcomes };
}

/** The rejection's message, or undefined if it resolved. */
const failure = (work: Promise<unknown>) =>
  work.then(
    () => undefined,
    (error: Error) => error.message,
  );

describe('resolving through the name server', () => {
  it('answers from the name server, then from the cache until the TTL runs out', async () => {
    const { resolve, outcomes } = resolverFor();
    expect(await resolve('a.ok.test')).toEqual([{ address: '127.0.0.9', family: 4 }]);
    expect(await resolve('A.OK.TEST.')).toEqual([{ address: '127.0.0.9', family: 4 }]);
    expect(nameServer.asked('a.ok.test')).toBe(1);
    await sleep(1100);
    await resolve('a.ok.test');
    expect(nameServer.asked('a.ok.test')).toBe(2);
    expect(outcomes).toEqual(['ok', 'cached', 'ok']);
  });

  it('asks again every time for a TTL of 0', async () => {
    const { resolve } = resolverFor();
    await resolve('ttl0.ok.test');
    await resolve('ttl0.ok.test');
    expect(nameServer.asked('ttl0.ok.test')).toBe(2);
  });

  it('sends one query for a name however many attempts ask at once', async () => {
    const { resolve } = resolverFor();
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) => resolve('shared.ok.test', { workspaceId: `w${i % 3}` })),
    );
    expect(answers.every((a) => a[0]?.address === '127.0.0.9')).toBe(true);
    expect(nameServer.asked('shared.ok.test')).toBe(1);
  });

  it('says "dns: name not found" for NXDOMAIN, and remembers it for a short while only', async () => {
    const { resolve, outcomes } = resolverFor({ notFoundTtlMs: 300 });
    expect(await failure(resolve('gone.missing.test'))).toBe('dns: name not found');
    expect(await failure(resolve('gone.missing.test'))).toBe('dns: name not found');
    expect(nameServer.asked('gone.missing.test')).toBe(1);
    await sleep(400);
    expect(await failure(resolve('gone.missing.test'))).toBe('dns: name not found');
    expect(nameServer.asked('gone.missing.test')).toBe(2);
    expect(outcomes).toEqual(['not_found', 'cached', 'not_found']);
  });

  it('gives up on a name server that never answers after its timeout, with "dns timeout"', async () => {
    const { resolve, outcomes } = resolverFor({ timeoutMs: 300 });
    const started = performance.now();
    expect(await failure(resolve('never.silent.test'))).toBe('dns timeout');
    const took = performance.now() - started;
    expect(took).toBeGreaterThanOrEqual(280);
    expect(took).toBeLessThan(1000);
    expect(outcomes).toEqual(['timeout']);
    // A timeout is not remembered: the next attempt asks again (once the query has ended too).
    await sleep(50);
    expect(await failure(resolve('never.silent.test'))).toBe('dns timeout');
    expect(nameServer.asked('never.silent.test')).toBe(2);
  });

  it("bounds one workspace's queries in flight; another workspace's lookups go on meanwhile", async () => {
    const { resolve } = resolverFor({ timeoutMs: 600, lookupsPerWorkspace: 3 });
    const started = performance.now();
    const silent = Array.from({ length: 30 }, (_, i) =>
      failure(resolve(`n${i}.bounded.silent.test`, { workspaceId: 'noisy' })),
    );
    await sleep(50);
    // Three queries (A and AAAA each) at the name server; the other 27 wait for a slot.
    const asked = () => nameServer.questions.filter((q) => q.name.endsWith('.bounded.silent.test')).length;
    expect(asked()).toBe(6);
    const quietStarted = performance.now();
    expect(await resolve('quiet.ok.test', { workspaceId: 'quiet' })).toHaveLength(1);
    expect(performance.now() - quietStarted).toBeLessThan(200);
    // Each waits no longer than its own timeout, in the queue or at the name server.
    expect(new Set(await Promise.all(silent))).toEqual(new Set(['dns timeout']));
    expect(performance.now() - started).toBeLessThan(1200);
    expect(asked()).toBe(6);
  });

  it('stops waiting when the attempt is cut short', async () => {
    const { resolve } = resolverFor({ timeoutMs: 5000 });
    const cut = new AbortController();
    const started = performance.now();
    const waiting = failure(resolve('cut.silent.test', { signal: cut.signal }));
    setTimeout(() => cut.abort(new Error('stopped')), 100);
    expect(await waiting).toBe('stopped');
    expect(performance.now() - started).toBeLessThan(1000);
  });
});

describe('without a name server', () => {
  it('takes literal IPs as they are, and localhost from the hosts file', async () => {
    const { resolve, outcomes } = resolverFor();
    expect(await resolve('203.0.113.7')).toEqual([{ address: '203.0.113.7', family: 4 }]);
    expect(await resolve('[2001:db8::1]')).toEqual([{ address: '2001:db8::1', family: 6 }]);
    expect((await resolve('localhost')).map((a) => a.address)).toContain('127.0.0.1');
    expect(nameServer.asked('localhost')).toBe(0);
    expect(outcomes).toEqual(['hosts']);
  });

  it('honours the hosts file first, and sees it change', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'hosts-'));
    const file = path.join(dir, 'hosts');
    await writeFile(file, '# operators pin names here\n10.1.2.3  receiver.internal  alias.internal # trailing\n');
    const { resolve } = resolverFor({ hostsFile: file, hostsRefreshMs: 100 });
    expect(await resolve('RECEIVER.internal')).toEqual([{ address: '10.1.2.3', family: 4 }]);
    expect(await resolve('alias.internal')).toEqual([{ address: '10.1.2.3', family: 4 }]);
    // Listed there, a name under ok.test never reaches the name server.
    await writeFile(file, '10.9.9.9 pinned.ok.test\n::1 receiver.internal\n');
    await sleep(150);
    await resolve('receiver.internal'); // sets the check off; the next lookup sees its result
    await sleep(50);
    expect(await resolve('receiver.internal')).toEqual([{ address: '::1', family: 6 }]);
    expect(await resolve('pinned.ok.test')).toEqual([{ address: '10.9.9.9', family: 4 }]);
    expect(nameServer.asked('pinned.ok.test')).toBe(0);
  });
});
