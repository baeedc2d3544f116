import { describe, expect, it } from 'vitest';
import { createApiKey } from '../../src/auth/api-keys.js';
import { randomBase62 } from '../../src/lib/ids.js';
import { createTestApp } from '../support/app.js';
import { sleep } from '../support/receiver.js';

/**
 * Requests are counted at the door, before their body is read: per live API key, and per
 * client address for callers no key vouches for. Over a real socket, so the address is one.
 */
async function listening(env: Record<string, string>) {
  const app = await createTestApp(env);
  const url = await app.listen();
  const post = (key: string | undefined, body = JSON.stringify({ query: '{ workspace { id } }' })) =>
    fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(key ? { 'x-api-key': key } : {}) },
      body,
    });
  return { app, post, url };
}

/**
 * A key's first request looks it up (uncounted: it may be a fresh key in a flood); memory
 * then knows it live, once the process listens for revocations (which clears memory when
 * it starts), and counts its requests from then on.
 */
async function warmUp(post: (key: string) => Promise<Response>, apiKey: string) {
  expect((await post(apiKey)).status).toBe(200);
  await sleep(1_000);
  expect((await post(apiKey)).status).toBe(200);
}

const statuses = async (responses: Promise<Response>[]) => (await Promise.all(responses)).map((r) => r.status);

describe('requests counted at the door', () => {
  it('a live key past REQUEST_RATE_LIMIT gets 429 RATE_LIMITED with Retry-After, before its body is even parsed; other keys go on', async () => {
    const { app, post } = await listening({ REQUEST_RATE_LIMIT_PER_SECOND: '1', REQUEST_RATE_LIMIT_BURST: '3' });
    const { apiKey } = await app.newWorkspace();
    const other = await app.newWorkspace();
    await warmUp(post, apiKey);
    for (let i = 0; i < 3; i++) expect((await post(apiKey)).status).toBe(200);

    // Not JSON at all: had it been parsed it would be a 400. Held a second before it is answered.
    const started = performance.now();
    const refused = await post(apiKey, '{"query": ');
    expect(performance.now() - started).toBeGreaterThanOrEqual(900);
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    const body = await refused.json();
    expect(body.errors[0].extensions.code).toBe('RATE_LIMITED');
    expect(body.errors[0].message).toMatch(/1 requests per second per API key/);
    expect((await post(other.apiKey)).status).toBe(200);
  });

  it('a key that keeps knocking while refused stays refused: refusals are counted too', async () => {
    const { app, post } = await listening({ REQUEST_RATE_LIMIT_PER_SECOND: '1', REQUEST_RATE_LIMIT_BURST: '2' });
    const { apiKey } = await app.newWorkspace();
    await warmUp(post, apiKey);
    expect(await statuses([post(apiKey), post(apiKey)])).toEqual([200, 200]);
    // Three refusals put the key three requests in debt: 1.2 s later (1.2 requests earned)
    // it is still refused, where a limit that forgot refusals would let it through.
    expect(await statuses([post(apiKey), post(apiKey), post(apiKey)])).toEqual([429, 429, 429]);
    await sleep(1_200);
    expect((await post(apiKey)).status).toBe(429);
  });

  it('a request answered with errors and no data costs the key 50: a key refused over and over reaches its limit long before one served', async () => {
    const { app, post } = await listening({ REQUEST_RATE_LIMIT_PER_SECOND: '0.1', REQUEST_RATE_LIMIT_BURST: '100' });
    const { apiKey } = await app.newWorkspace();
    await warmUp(post, apiKey);
    // 99 left: two documents that do not validate cost 100; served, they would have cost 2.
    const invalid = JSON.stringify({ query: '{ noSuchField }' });
    for (const answer of await Promise.all([post(apiKey, invalid), post(apiKey, invalid)])) {
      expect((await answer.json()).errors[0].extensions.code).toBe('GRAPHQL_VALIDATION_FAILED');
    }
    expect((await post(apiKey)).status).toBe(429);

    const served = await app.newWorkspace();
    await warmUp(post, served.apiKey);
    expect(await statuses(Array.from({ length: 10 }, () => post(served.apiKey)))).toEqual(Array(10).fill(200));
  });

  it('callers without a live key are counted per address (ADDRESS_RATE_LIMIT): anonymous, made-up and dead keys alike; a fresh real key is not', async () => {
    const { app, post, url } = await listening({ ADDRESS_RATE_LIMIT_PER_SECOND: '0.1', ADDRESS_RATE_LIMIT_BURST: '3' });
    const live = await app.newWorkspace();
    const introspection = JSON.stringify({ query: '{ __typename }' });
    expect((await post(undefined, introspection)).status).toBe(200);
    expect((await post(`chk_${randomBase62(40)}`)).status).toBe(401);
    expect((await post('not-a-key')).status).toBe(401);

    const refused = await post(undefined, introspection);
    expect(refused.status).toBe(429);
    expect((await refused.json()).errors[0].message).toMatch(/per client address without a valid API key/);
    expect((await post(`chk_${randomBase62(40)}`)).status).toBe(429);
    // Session credentials that are no session token's shape are anonymous too.
    const junk: Record<string, string>[] = [{ authorization: 'Bearer x' }, { cookie: 'convo_hooks_session=x' }];
    for (const headers of junk) {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: introspection,
      });
      expect(res.status, JSON.stringify(headers)).toBe(429);
    }
    // Keys with a valid checksum pass to their lookup (its own bounded lane), and live keys to their own count.
    const fresh = (await createApiKey(app.sql, live.workspaceId)).apiKey;
    expect((await post(fresh)).status).toBe(200);
    expect((await post(live.apiKey)).status).toBe(200);
  });

  it('0 turns both off; in-process calls (no socket, no address) are never counted per address', async () => {
    const { app, post } = await listening({
      REQUEST_RATE_LIMIT_PER_SECOND: '0',
      REQUEST_RATE_LIMIT_BURST: '1',
      ADDRESS_RATE_LIMIT_PER_SECOND: '0',
      ADDRESS_RATE_LIMIT_BURST: '1',
    });
    const { apiKey } = await app.newWorkspace();
    expect(await statuses(Array.from({ length: 5 }, () => post(apiKey)))).toEqual([200, 200, 200, 200, 200]);
    expect(await statuses(Array.from({ length: 5 }, () => post(undefined)))).toEqual([401, 401, 401, 401, 401]);

    const inProcess = await createTestApp({ ADDRESS_RATE_LIMIT_PER_SECOND: '1', ADDRESS_RATE_LIMIT_BURST: '1' });
    const answers = await Promise.all(Array.from({ length: 5 }, () => inProcess.graphql('{ workspace { id } }')));
    expect(answers.map((a) => a.status)).toEqual([401, 401, 401, 401, 401]);
  });
});
