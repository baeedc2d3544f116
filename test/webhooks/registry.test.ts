import { beforeAll, describe, expect, it } from 'vitest';
import { decryptSecret } from '../../src/webhooks/secrets.js';
import { createTestApp, type TestApp } from '../support/app.js';
import { DELETE, GET, LIST, REGISTER, UPDATE, validWebhook } from '../support/operations.js';

let app: TestApp;
let apiKey: string;
let workspaceId: string;
beforeAll(async () => {
  app = await createTestApp();
  ({ apiKey, workspaceId } = await app.newWorkspace());
});

const register = async (overrides: Record<string, unknown> = {}) => {
  const res = await app.graphql(REGISTER, { apiKey, variables: { input: validWebhook(overrides) } });
  expect(res.errors).toBeUndefined();
  return res.data?.registerWebhook;
};

describe('registerWebhook', () => {
  it('returns the new webhook with its fields, ids of the documented shape, and a whsec_ secret of 32 random bytes', async () => {
    const webhook = await register();
    expect(webhook).toMatchObject({
      workspaceId,
      name: 'Call events - production',
      agentId: 'D5D0p7TUs66TTAEAx',
      url: 'https://receiver.example.com/hooks',
      events: ['CONVERSATION_STARTED', 'CONVERSATION_ENDED'],
      active: true,
      disabledReason: null,
    });
    expect(webhook.id).toMatch(/^wh_[0-9A-Za-z]{16}$/);
    expect(workspaceId).toMatch(/^org_[0-9A-Za-z]{16}$/);
    expect(webhook.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(Buffer.from(webhook.secret.slice(6), 'base64')).toHaveLength(32);
    expect(new Date(webhook.createdAt).getTime()).toBeGreaterThan(Date.now() - 60_000);
    expect(webhook.updatedAt).toBe(webhook.createdAt);
  });

  it('collapses repeated events into a set and honours active: false', async () => {
    const webhook = await register({
      events: ['CONVERSATION_ENDED', 'CONVERSATION_ENDED', 'CONVERSATION_ANALYSED'],
      active: false,
    });
    expect(webhook.events).toEqual(['CONVERSATION_ENDED', 'CONVERSATION_ANALYSED']);
    expect(webhook.active).toBe(false);
  });

  it('gives every webhook its own secret, stored encrypted (never as plain text)', async () => {
    const a = await register();
    const b = await register();
    expect(a.secret).not.toBe(b.secret);
    const [row] = await app.sql`select * from webhooks where id = ${a.id}`;
    const sealed = row?.secretEncrypted as Buffer;
    expect(JSON.stringify(row)).not.toContain(a.secret.slice(6, 30));
    expect(decryptSecret(app.secretKey, sealed, a.id)).toBe(a.secret);
    expect(() => decryptSecret(app.secretKey, sealed, b.id)).toThrow();
  });
});

describe('the secret is shown once', () => {
  it('is null on every read path: webhook, webhooks, updateWebhook', async () => {
    const { id, secret } = await register();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);

    const read = await app.graphql(GET, { apiKey, variables: { id } });
    expect(read.data?.webhook.id).toBe(id);
    expect(read.data?.webhook.secret).toBeNull();

    const list = await app.graphql(LIST, { apiKey, variables: { first: 100 } });
    const nodes = list.data?.webhooks.edges.map((e: any) => e.node);
    expect(nodes.length).toBeGreaterThan(0);
    for (const node of nodes) expect(node.secret).toBeNull();

    const updated = await app.graphql(UPDATE, { apiKey, variables: { id, input: { name: 'renamed' } } });
    expect(updated.data?.updateWebhook.name).toBe('renamed');
    expect(updated.data?.updateWebhook.secret).toBeNull();
  });

  it('never appears anywhere in a read response, whatever is selected', async () => {
    const { id, secret } = await register();
    const res = await app.graphql(`{ webhook(id: "${id}") { secret id } webhooks { edges { node { secret } } } }`, {
      apiKey,
    });
    expect(JSON.stringify(res)).not.toContain(secret);
  });
});

describe('webhook(id)', () => {
  it('returns null for an id that does not exist, and for a malformed one', async () => {
    for (const id of ['wh_0000000000000000', 'nope', '']) {
      const res = await app.graphql(GET, { apiKey, variables: { id } });
      expect(res.errors).toBeUndefined();
      expect(res.data?.webhook).toBeNull();
    }
  });
});

describe('updateWebhook', () => {
  it('changes only the fields given and moves updatedAt', async () => {
    const before = await register({ active: true });
    const res = await app.graphql(UPDATE, {
      apiKey,
      variables: { id: before.id, input: { url: 'https://new.example.com/x', events: ['CONVERSATION_ANALYSED'] } },
    });
    const after = res.data?.updateWebhook;
    expect(after).toMatchObject({
      id: before.id,
      name: before.name,
      agentId: before.agentId,
      url: 'https://new.example.com/x',
      events: ['CONVERSATION_ANALYSED'],
      active: true,
      createdAt: before.createdAt,
    });
    expect(new Date(after.updatedAt).getTime()).toBeGreaterThan(new Date(before.updatedAt).getTime());
  });

  it('pauses and resumes; resuming clears the reason the system turned it off', async () => {
    const { id } = await register();
    await app.sql`update webhooks set active = false, disabled_reason = 'endpoint answered 410 Gone' where id = ${id}`;
    const paused = await app.graphql(GET, { apiKey, variables: { id } });
    expect(paused.data?.webhook).toMatchObject({ active: false, disabledReason: 'endpoint answered 410 Gone' });
    const resumed = await app.graphql(UPDATE, { apiKey, variables: { id, input: { active: true } } });
    expect(resumed.data?.updateWebhook).toMatchObject({ active: true, disabledReason: null });
  });

  it('answers NOT_FOUND for an unknown id', async () => {
    const res = await app.graphql(UPDATE, { apiKey, variables: { id: 'wh_0000000000000000', input: { name: 'x' } } });
    expect(res.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    expect(res.errors?.[0]?.message).toBe('No webhook with id "wh_0000000000000000" in this workspace');
    expect(res.data).toBeNull();
    // A made-up id is echoed in part: the message does not grow with what was sent.
    const long = await app.graphql(UPDATE, { apiKey, variables: { id: 'x'.repeat(100_000), input: { name: 'x' } } });
    expect(long.errors?.[0]?.message).toBe(`No webhook with id "${'x'.repeat(64)}…" in this workspace`);
  });
});

describe('deleteWebhook', () => {
  it('returns the id, after which the webhook is gone', async () => {
    const { id } = await register();
    const res = await app.graphql(DELETE, { apiKey, variables: { id } });
    expect(res.data?.deleteWebhook).toBe(id);
    expect((await app.graphql(GET, { apiKey, variables: { id } })).data?.webhook).toBeNull();
    const again = await app.graphql(DELETE, { apiKey, variables: { id } });
    expect(again.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
  });
});
