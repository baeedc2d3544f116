import { promises as dns, type LookupAddress, type RecordWithTtl } from 'node:dns';
import { isIP } from 'node:net';
import { createLru } from '../lib/lru.js';
import { isLocalhostName } from '../webhooks/targets.js';
import { createHostsFile, normalName } from './hosts-file.js';

/** How a lookup ended, for metrics: `cached` covers answers and "not found" alike. */
export type LookupOutcome = 'ok' | 'cached' | 'hosts' | 'timeout' | 'not_found' | 'error';

/** A name that did not resolve; its message is what the attempt log shows. */
export class DnsError extends Error {
  constructor(
    readonly outcome: 'timeout' | 'not_found' | 'error',
    message: string,
  ) {
    super(message);
  }
}

export type ResolverOptions = {
  /** Name servers as `ip`, `ip:port` or `[ipv6]:port` (default: the system's). */
  servers?: string[];
  /** The most one lookup may take, its wait for a slot included. */
  timeoutMs: number;
  /** Queries one workspace may have at a name server at once; more wait (within their timeout). */
  lookupsPerWorkspace: number;
  hostsFile?: string;
  /** How often the hosts file is looked at for changes (default 5 s). */
  hostsRefreshMs?: number;
  /** Names remembered, answers and "not found" together (default 10,000). */
  cacheSize?: number;
  /** How long "not found" (NXDOMAIN, or no address of either family) is remembered (default 5 s). */
  notFoundTtlMs?: number;
  /** Told each lookup's outcome and how long it took. */
  onLookup?: (outcome: LookupOutcome, seconds: number) => void;
};

type Answer = { addresses: LookupAddress[]; ttlMs: number } | { error: DnsError };
type Entry = { answer: Answer; expiresAt: number };

/** The longest an answer is kept, whatever its TTL says: a moved receiver is seen within this. */
const MAX_TTL_MS = 3_600_000;
/**
 * Once one family has answered with addresses, the other gets this much longer (RFC 8305's
 * resolution delay): a name server silent for AAAA must not cost a name its full timeout.
 */
const OTHER_FAMILY_GRACE_MS = 50;
const NOT_FOUND_CODES = new Set(['ENOTFOUND', 'ENODATA', 'ENONAME']);
const LOOPBACK: LookupAddress[] = [
  { address: '127.0.0.1', family: 4 },
  { address: '::1', family: 6 },
];

/**
 * Resolves receivers' host names without the libuv thread pool: dns.lookup (getaddrinfo)
 * holds one of its four threads per lookup until the system resolver gives up, even after
 * the attempt was aborted, so one tenant's silent name server stalled every delivery.
 * Here: the hosts file first, then c-ares queries (A and AAAA) with a timeout, answers
 * cached by their TTL (bounded), "not found" for a few seconds, one query per name at a
 * time however many attempts ask, and a bound on each workspace's queries in flight.
 */
export function createResolver(options: ResolverOptions) {
  const resolver = new dns.Resolver({ timeout: options.timeoutMs, tries: 1 });
  if (options.servers) resolver.setServers(options.servers);
  const hosts = createHostsFile(options.hostsFile ?? '/etc/hosts', options.hostsRefreshMs);
  const notFoundTtlMs = options.notFoundTtlMs ?? 5_000;
  const cache = createLru<string, Entry>({ maxEntries: options.cacheSize ?? 10_000 });
  const queries = new Map<string, Promise<Answer>>();
  const slots = createWorkspaceSlots(options.lookupsPerWorkspace);
  const report = (outcome: LookupOutcome, startedAt: number) =>
    options.onLookup?.(outcome, (performance.now() - startedAt) / 1000);

  function cached(name: string): Answer | undefined {
    const entry = cache.get(name);
    if (!entry) return undefined;
    if (entry.expiresAt > Date.now()) return entry.answer;
    cache.delete(name);
    return undefined;
  }

  function remember(name: string, answer: Answer) {
    const ttlMs = 'addresses' in answer ? answer.ttlMs : answer.error.outcome === 'not_found' ? notFoundTtlMs : 0;
    if (ttlMs <= 0) return;
    cache.set(name, { answer, expiresAt: Date.now() + ttlMs });
  }

  /** A and AAAA at once; ends within the timeout, with what has come by then. */
  function ask(name: string): Promise<Answer> {
    return new Promise((resolve) => {
      const answers: PromiseSettledResult<RecordWithTtl[]>[] = [];
      let settled = false;
      const finish = () => {
        if (settled) return;
        settled = true;
        clearTimeout(timeout);
        clearTimeout(grace);
        resolve(answerFrom(answers));
      };
      const timeout = setTimeout(finish, options.timeoutMs);
      let grace: NodeJS.Timeout | undefined;
      const heard = (answer: PromiseSettledResult<RecordWithTtl[]>) => {
        answers.push(answer);
        if (answers.length === 2) finish();
        else if (answer.status === 'fulfilled') grace = setTimeout(finish, OTHER_FAMILY_GRACE_MS);
      };
      for (const query of [resolver.resolve4(name, { ttl: true }), resolver.resolve6(name, { ttl: true })]) {
        query.then(
          (value) => heard({ status: 'fulfilled', value }),
          (reason: unknown) => heard({ status: 'rejected', reason }),
        );
      }
    });
  }

  /** Joins the query for `name` under way, or starts one in a slot of the workspace. */
  async function answerFor(name: string, workspaceId: string | undefined, gaveUp: AbortSignal): Promise<Answer> {
    const shared = queries.get(name);
    if (shared) return shared;
    // Not shared while it waits for its slot: another workspace never waits on this one's.
    const release = workspaceId === undefined ? () => {} : await slots.take(workspaceId, gaveUp);
    const known = cached(name) ?? queries.get(name);
    if (known || gaveUp.aborted) {
      release();
      return known ?? Promise.reject(gaveUp.reason);
    }
    // The slot is held until the query ends (within the timeout), whoever stopped waiting for it.
    const query = ask(name)
      .then((answer) => {
        remember(name, answer);
        return answer;
      })
      .finally(() => {
        queries.delete(name);
        release();
      });
    queries.set(name, query);
    return query;
  }

  /**
   * The addresses of `hostname`: a literal IP as it is, then the hosts file (and `localhost`,
   * RFC 6761), the cache, a name server. Rejects with a DnsError, or with `signal`'s reason.
   * `workspaceId`: whose slots a query takes (none: not bounded, for connections whose
   * attempt already resolved the name).
   */
  async function resolve(
    hostname: string,
    { workspaceId, signal }: { workspaceId?: string; signal?: AbortSignal } = {},
  ): Promise<LookupAddress[]> {
    const name = normalName(hostname.replace(/^\[|\]$/g, ''));
    const family = isIP(name);
    if (family !== 0) return [{ address: name, family }];
    const startedAt = performance.now();
    await hosts.loaded;
    const listed = hosts.lookup(name) ?? (isLocalhostName(name) ? LOOPBACK : undefined);
    if (listed) {
      report('hosts', startedAt);
      return listed;
    }
    const known = cached(name);
    if (known) {
      report('cached', startedAt);
      return addressesOf(known);
    }
    const gaveUp = new AbortController();
    const timer = setTimeout(() => gaveUp.abort(timedOut()), options.timeoutMs);
    const cancel = () => gaveUp.abort(signal?.reason);
    if (signal?.aborted) cancel();
    signal?.addEventListener('abort', cancel);
    let answer: Answer;
    try {
      answer = await untilAborted(answerFor(name, workspaceId, gaveUp.signal), gaveUp.signal);
    } catch (error) {
      // Its own timeout; an attempt cut short (a stop) is not a lookup's outcome.
      if (error instanceof DnsError) report(error.outcome, startedAt);
      throw error;
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', cancel);
    }
    report('addresses' in answer ? 'ok' : answer.error.outcome, startedAt);
    return addressesOf(answer);
  }

  return {
    resolve,
    /** Ends the queries under way (they fail as `dns error: ECANCELLED`). */
    close: () => resolver.cancel(),
  };
}

export type Resolver = ReturnType<typeof createResolver>;

function addressesOf(answer: Answer): LookupAddress[] {
  if ('error' in answer) throw answer.error;
  return answer.addresses;
}

const timedOut = () => new DnsError('timeout', 'dns timeout');

/** What the two families' queries came to: addresses if either gave any, else why not. */
function answerFrom(answers: PromiseSettledResult<RecordWithTtl[]>[]): Answer {
  const records = answers.flatMap((a) => (a.status === 'fulfilled' ? a.value : []));
  if (records.length > 0) {
    return {
      addresses: records.map((r) => ({ address: r.address, family: isIP(r.address) })),
      ttlMs: Math.min(MAX_TTL_MS, ...records.map((r) => r.ttl * 1000)),
    };
  }
  const codes = answers.map((a) => (a.status === 'rejected' ? (a.reason as { code?: string }).code : 'ENODATA'));
  if (codes.length < 2 || codes.includes('ETIMEOUT')) return { error: timedOut() };
  if (codes.every((code) => code && NOT_FOUND_CODES.has(code)))
    return { error: new DnsError('not_found', 'dns: name not found') };
  const code = codes.find((c) => c && !NOT_FOUND_CODES.has(c));
  return { error: new DnsError('error', code ? `dns error: ${code}` : 'dns error') };
}

/** `work`, or the signal's reason once it aborts. */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const abort = () => reject(signal.reason);
    signal.addEventListener('abort', abort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', abort));
  });
}

/** At most `limit` at once per workspace; the next in line gets a slot as one is given back. */
function createWorkspaceSlots(limit: number) {
  const byWorkspace = new Map<string, { taken: number; waiting: (() => void)[] }>();

  function release(workspaceId: string) {
    const slots = byWorkspace.get(workspaceId);
    if (!slots) return;
    const next = slots.waiting.shift();
    if (next) return next();
    slots.taken--;
    if (slots.taken === 0) byWorkspace.delete(workspaceId);
  }

  /** Resolves with the function that gives the slot back; rejects if `signal` aborts first. */
  async function take(workspaceId: string, signal: AbortSignal): Promise<() => void> {
    const slots = byWorkspace.get(workspaceId) ?? { taken: 0, waiting: [] };
    byWorkspace.set(workspaceId, slots);
    const given = () => once(() => release(workspaceId));
    if (slots.taken < limit) {
      slots.taken++;
      return given();
    }
    const waiting = slots.waiting;
    await new Promise<void>((resolve, reject) => {
      const turn = () => {
        signal.removeEventListener('abort', abort);
        resolve();
      };
      const abort = () => {
        waiting.splice(waiting.indexOf(turn), 1);
        reject(signal.reason);
      };
      if (signal.aborted) return reject(signal.reason);
      signal.addEventListener('abort', abort, { once: true });
      waiting.push(turn);
    });
    return given();
  }

  return { take };
}

function once(run: () => void): () => void {
  let done = false;
  return () => {
    if (!done) {
      done = true;
      run();
    }
  };
}
