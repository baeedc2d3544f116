import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import type { ClaimedDelivery } from '../../src/queue/claim.js';
import { encryptSecret, generateSigningSecret, sealHeaders } from '../../src/webhooks/secrets.js';
import { MAX_SIGNING_SECRETS } from '../../src/webhooks/store.js';
import { decideOutcome, prepareAttempt } from '../../src/worker/attempt.js';
import { createCustomHeaders } from '../../src/worker/custom-headers.js';
import { createOpenedSecrets } from '../../src/worker/opened-secrets.js';
import { type AttemptResult, createSender } from '../../src/worker/sender.js';
import { createSlots } from '../../src/worker/slots.js';
import { cleanup } from '../support/cleanup.js';

const secretKey = Buffer.alloc(32, 7);
const secret = generateSigningSecret();
const claim: ClaimedDelivery = {
  id: 'dlv_1',
  workspaceId: 'org_1',
  createdAt: new Date(0),
  claimToken: 'token',
  webhookId: 'wh_1',
  conversationId: null,
  eventId: 'evt_1',
  attemptCount: 0,
  dueAt: new Date(0),
  sendAt: null,
  url: 'https://example.com/hook',
  payload: '{"type":"conversation.ended"}',
  secretEncrypted: encryptSecret(secretKey, secret, 'wh_1'),
  retiredSecrets: [],
  traceparent: null,
  headersEncrypted: null,
  excludedFields: [],
  share: 1,
};
const policy = { schedule: [1000, 60_000], jitter: 0 };
const result = (overrides: Partial<AttemptResult>): AttemptResult => ({
  kind: 'success',
  ok: true,
  statusCode: 200,
  durationMs: 5,
  error: null,
  responseBody: null,
  ...overrides,
});

describe('prepare', () => {
  it('signs so that a Standard Webhooks library verifies it; with the previous secret too while it is honoured', () => {
    const request = prepareAttempt(claim, secretKey);
    expect(new Webhook(secret).verify(request.body, request.headers)).toEqual(JSON.parse(claim.payload));

    const previous = generateSigningSecret();
    const retired = (expiresAt: number) => ({
      sealed: encryptSecret(secretKey, previous, 'wh_1').toString('base64'),
      expiresAt: new Date(expiresAt).toISOString(),
    });
    const rotated = { ...claim, retiredSecrets: [retired(Date.now() + 60_000)] };
    const both = prepareAttempt(rotated, secretKey);
    expect(both.headers['webhook-signature']?.split(' ')).toHaveLength(2);
    expect(() => new Webhook(previous).verify(both.body, both.headers)).not.toThrow();
    const expired = prepareAttempt({ ...rotated, retiredSecrets: [retired(Date.now() - 1)] }, secretKey);
    expect(expired.headers['webhook-signature']?.split(' ')).toHaveLength(1);
    // However many are stored, at most MAX_SIGNING_SECRETS sign.
    const many = prepareAttempt({ ...claim, retiredSecrets: Array(9).fill(retired(Date.now() + 60_000)) }, secretKey);
    expect(many.headers['webhook-signature']?.split(' ')).toHaveLength(MAX_SIGNING_SECRETS);
  });

  it("adds the webhook's custom headers, which never override ours; the worker's cache follows a change", () => {
    const sealed = sealHeaders(
      secretKey,
      [
        { name: 'Authorization', value: 'Bearer abc' },
        // Refused by the input rules; a row written around them still cannot replace a signature.
        { name: 'Webhook-Signature', value: 'v1,forged' },
      ],
      'wh_1',
    );
    const cache = createCustomHeaders(secretKey);
    const request = prepareAttempt({ ...claim, headersEncrypted: sealed }, secretKey, Date.now(), cache);
    expect(request.headers.authorization).toBe('Bearer abc');
    expect(request.headers['webhook-signature']).not.toContain('forged');
    expect(new Webhook(secret).verify(request.body, request.headers)).toEqual(JSON.parse(claim.payload));

    const changed = sealHeaders(secretKey, [{ name: 'Authorization', value: 'Bearer new' }], 'wh_1');
    expect(prepareAttempt({ ...claim, headersEncrypted: changed }, secretKey, Date.now(), cache).headers).toMatchObject(
      {
        authorization: 'Bearer new',
      },
    );
    expect(prepareAttempt(claim, secretKey, Date.now(), cache).headers.authorization).toBeUndefined();
    // Sealed for another webhook: does not open (its secret does).
    const elsewhere = { ...claim, webhookId: 'wh_2', secretEncrypted: encryptSecret(secretKey, secret, 'wh_2') };
    expect(() => prepareAttempt(elsewhere, secretKey)).not.toThrow();
    expect(() => prepareAttempt({ ...elsewhere, headersEncrypted: changed }, secretKey)).toThrow();
  });

  it("signs with the worker's opened secret, and follows a rotation (a new sealed secret)", () => {
    const openSecret = createOpenedSecrets(secretKey);
    const first = prepareAttempt(claim, secretKey, Date.now(), undefined, openSecret);
    expect(new Webhook(secret).verify(first.body, first.headers)).toEqual(JSON.parse(claim.payload));
    const rotated = generateSigningSecret();
    const next = prepareAttempt(
      { ...claim, secretEncrypted: encryptSecret(secretKey, rotated, 'wh_1') },
      secretKey,
      Date.now(),
      undefined,
      openSecret,
    );
    expect(new Webhook(rotated).verify(next.body, next.headers)).toEqual(JSON.parse(claim.payload));
    expect(() => new Webhook(secret).verify(next.body, next.headers)).toThrow();
    // Sealed for another webhook: still does not open, cache or not.
    expect(() =>
      prepareAttempt({ ...claim, webhookId: 'wh_2' }, secretKey, Date.now(), undefined, openSecret),
    ).toThrow();
  });

  it('throws for a secret sealed under another key (the worker puts the delivery off), and opens it with that key kept as an old one', () => {
    const newKey = Buffer.alloc(32, 8);
    expect(() => prepareAttempt(claim, newKey)).toThrow();
    const request = prepareAttempt(claim, [newKey, secretKey]);
    expect(new Webhook(secret).verify(request.body, request.headers)).toEqual(JSON.parse(request.body));
  });
});

describe('decide', () => {
  const at = new Date(1_000_000);
  it('a 2xx succeeds', () => {
    expect(decideOutcome(claim, at, result({}), policy, 0)).toMatchObject({ status: 'succeeded', nextAttemptAt: null });
  });
  it('a failure retries on the schedule, or after Retry-After kept within it', () => {
    const failed = result({ kind: 'http_error', ok: false, statusCode: 500, error: 'HTTP 500' });
    expect(decideOutcome(claim, at, failed, policy, 0).nextAttemptAt).toEqual(new Date(1000));
    const slowDown = { ...failed, statusCode: 429, retryAfterMs: 3_600_000 };
    expect(decideOutcome(claim, at, slowDown, policy, 0).nextAttemptAt).toEqual(new Date(60_000));
  });
  it('fails for good when the schedule is spent, or at once on 410 Gone (which turns the webhook off)', () => {
    const failed = result({ kind: 'timeout', ok: false, statusCode: null, error: 'timeout' });
    expect(decideOutcome({ ...claim, attemptCount: 2 }, at, failed, policy, 0)).toMatchObject({
      status: 'failed',
      gone: false,
    });
    const gone = result({ kind: 'http_error', ok: false, statusCode: 410 });
    expect(decideOutcome(claim, at, gone, policy, 0)).toMatchObject({ status: 'failed', gone: true });
  });
});

describe('slots', () => {
  it('count attempts in flight by webhook, with its workspace, and forget what is given back', () => {
    const slots = createSlots({ total: 3, perWorkspace: 2, perWebhook: 2 });
    slots.take({ webhookId: 'a', workspaceId: 'x' });
    slots.take({ webhookId: 'a', workspaceId: 'x' });
    slots.take({ webhookId: 'b', workspaceId: 'x' });
    expect(slots.free()).toBe(0);
    expect([...slots.inFlight]).toEqual([
      ['a', { workspaceId: 'x', count: 2 }],
      ['b', { workspaceId: 'x', count: 1 }],
    ]);
    slots.give({ webhookId: 'a', workspaceId: 'x' });
    slots.give({ webhookId: 'a', workspaceId: 'x' });
    expect([...slots.inFlight.keys()]).toEqual(['b']);
    slots.give({ webhookId: 'b', workspaceId: 'x' });
    expect(slots.inFlight.size).toBe(0);
    expect(slots.free()).toBe(3);
  });

  it("set aside up to a quarter of a workspace's share: still held, no longer counted against the workspace", () => {
    const slots = createSlots({ total: 20, perWorkspace: 8, perWebhook: 4 });
    for (const webhookId of ['a', 'b', 'c']) slots.take({ webhookId, workspaceId: 'x' });
    slots.take({ webhookId: 'd', workspaceId: 'y' });
    expect(slots.setAside({ webhookId: 'a', workspaceId: 'x' })).toBe(true);
    expect(slots.setAside({ webhookId: 'b', workspaceId: 'x' })).toBe(true);
    // Two is a quarter of 8: c stays counted; another workspace has its own two.
    expect(slots.setAside({ webhookId: 'c', workspaceId: 'x' })).toBe(false);
    expect(slots.setAside({ webhookId: 'd', workspaceId: 'y' })).toBe(true);
    expect(slots.ofWorkspace('x')).toBe(1);
    expect(slots.size()).toBe(4);
    expect(slots.inFlight.get('a')).toEqual({ workspaceId: 'x', count: 1, aside: 1 });
    // A set-aside attempt that ends frees its place aside for the next.
    slots.give({ webhookId: 'a', workspaceId: 'x' }, true);
    expect(slots.ofWorkspace('x')).toBe(1);
    expect(slots.setAside({ webhookId: 'c', workspaceId: 'x' })).toBe(true);
    expect(slots.ofWorkspace('x')).toBe(0);
    slots.give({ webhookId: 'b', workspaceId: 'x' }, true);
    slots.give({ webhookId: 'c', workspaceId: 'x' }, true);
    slots.give({ webhookId: 'd', workspaceId: 'y' }, true);
    expect(slots.size()).toBe(0);
    expect(slots.inFlight.size).toBe(0);
  });
});

describe('send', () => {
  /** An endpoint that never answers (closed when the test ends). */
  async function hung() {
    const open = new Set<import('node:http').ServerResponse>();
    const server = createServer((req, res) => {
      req.resume();
      open.add(res);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanup(async () => {
      for (const res of open) res.destroy();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    });
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  }

  it("times out on its own signal, and a caller's abort cuts it short with the caller's reason, not as a timeout", async () => {
    const url = await hung();
    const sender = createSender({ timeoutMs: 200, allowPrivateTargets: true });
    cleanup(() => sender.close());
    const timedOut = new AbortController();
    const late = await sender.send(url, {}, '{}', timedOut);
    expect(late).toMatchObject({ kind: 'timeout', ok: false, error: 'timeout: no complete response within 200 ms' });
    expect((timedOut.signal.reason as Error).name).toBe('TimeoutError');

    const slow = createSender({ timeoutMs: 60_000, allowPrivateTargets: true });
    cleanup(() => slow.close());
    const cut = new AbortController();
    const stopped = new Error('stopped');
    const sending = slow.send(url, {}, '{}', cut);
    setTimeout(() => cut.abort(stopped), 100);
    expect((await sending).kind).not.toBe('timeout');
    expect(cut.signal.reason).toBe(stopped);
  });
});
