import { beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../support/app.js';
import { REGISTER, UPDATE, validWebhook } from '../support/operations.js';

let app: TestApp;
let apiKey: string;
let workspaceId: string;
beforeAll(async () => {
  app = await createTestApp({ ALLOW_PRIVATE_TARGETS: 'false' });
  ({ apiKey, workspaceId } = await app.newWorkspace());
});

const webhookCount = async () => {
  const [row] = await app.sql`select count(*)::int as n from webhooks where workspace_id = ${workspaceId}`;
  return row?.n as number;
};

/** Registers with `overrides` and returns the issues of the BAD_USER_INPUT answer, checking nothing was written. */
async function issuesFor(overrides: Record<string, unknown>) {
  const before = await webhookCount();
  const res = await app.graphql(REGISTER, { apiKey, variables: { input: validWebhook(overrides) } });
  expect(res.data).toBeNull();
  expect(res.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  expect(await webhookCount()).toBe(before);
  return res.errors?.[0]?.extensions?.issues as { path: string[]; message: string }[];
}

describe('registerWebhook input rules', () => {
  it('reports every problem at once, each naming its field, with a readable message', async () => {
    const res = await app.graphql(REGISTER, {
      apiKey,
      variables: { input: { name: '', agentId: 'a'.repeat(65), url: 'ftp://example.com', events: [] } },
    });
    const error = res.errors?.[0];
    expect(error?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(error?.message).toContain('input.url');
    expect(error?.message).not.toMatch(/unexpected/i);
    expect(error?.extensions?.issues).toEqual([
      { path: ['input', 'name'], message: 'must be 1 to 128 characters' },
      { path: ['input', 'agentId'], message: 'must be 1 to 64 characters' },
      { path: ['input', 'url'], message: 'must start with http:// or https://' },
      { path: ['input', 'events'], message: 'must name at least one event' },
    ]);
    expect(await webhookCount()).toBe(0);
  });

  it.each([
    ['a name of 129 characters', { name: 'n'.repeat(129) }, 'name'],
    ['a blank name', { name: '   ' }, 'name'],
    ['an empty agentId', { agentId: '' }, 'agentId'],
    ['a URL without a scheme', { url: 'example.com/hook' }, 'url'],
    ['a URL that only looks like one', { url: 'https://exa mple.com:99999/' }, 'url'],
    ['a URL over 2048 characters', { url: `https://example.com/${'a'.repeat(2040)}` }, 'url'],
    // Stored as UTF-8 it would come back as U+FFFD: another URL than the one sent.
    ['a URL with an unpaired surrogate', { url: 'https://example.com/a\ud800b' }, 'url'],
    ['a URL with credentials', { url: 'https://user:pass@example.com/hook' }, 'url'],
    ['a loopback literal', { url: 'http://127.0.0.1:8080/hook' }, 'url'],
    ['an octal loopback', { url: 'http://0177.0.0.1/hook' }, 'url'],
    ['a decimal loopback', { url: 'http://2130706433/hook' }, 'url'],
    ['localhost', { url: 'http://localhost:3000/hook' }, 'url'],
    ['a *.localhost name with a trailing dot', { url: 'http://api.localhost./hook' }, 'url'],
    ['a private address', { url: 'https://10.1.2.3/hook' }, 'url'],
    ['link-local metadata', { url: 'http://169.254.169.254/latest/meta-data' }, 'url'],
    ['IPv6 loopback', { url: 'http://[::1]/hook' }, 'url'],
    ['IPv4-mapped IPv6 loopback', { url: 'http://[::ffff:127.0.0.1]/hook' }, 'url'],
    ['an empty event list', { events: [] }, 'events'],
  ])('refuses %s', async (_label, overrides, field) => {
    const issues = await issuesFor(overrides);
    expect(issues.map((i) => i.path)).toEqual([['input', field]]);
    expect(issues[0]?.message).toBeTruthy();
  });

  it('accepts a URL of exactly 2048 characters and names of 1 and 128 characters', async () => {
    const url = `https://example.com/${'a'.repeat(2048 - 'https://example.com/'.length)}`;
    for (const input of [
      validWebhook({ url }),
      validWebhook({ name: 'n' }),
      validWebhook({ name: 'n'.repeat(128), agentId: 'a'.repeat(64) }),
    ]) {
      const res = await app.graphql(REGISTER, { apiKey, variables: { input } });
      expect(res.errors).toBeUndefined();
    }
  });

  it('refuses an unknown event type through GraphQL itself', async () => {
    const res = await app.graphql(REGISTER, {
      apiKey,
      variables: { input: validWebhook({ events: ['CALL_ANSWERED'] }) },
    });
    expect(res.status).toBe(400);
    expect(res.errors?.[0]?.message).toContain('"CALL_ANSWERED" does not exist in "WebhookEvent" enum');
    expect(res.errors?.[0]?.message).toContain('input.events[0]');
  });
});

describe('updateWebhook input rules', () => {
  it('applies the registration rules and refuses explicit nulls, all issues at once, changing nothing', async () => {
    const created = await app.graphql(REGISTER, { apiKey, variables: { input: validWebhook() } });
    const id = created.data?.registerWebhook.id;
    const res = await app.graphql(UPDATE, {
      apiKey,
      variables: { id, input: { name: null, url: 'nope', events: [] } },
    });
    expect(res.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    const issues = (res.errors?.[0]?.extensions?.issues ?? []) as { path: string[] }[];
    const paths = issues.map((i) => i.path.join('.'));
    expect(paths.sort()).toEqual(['input.events', 'input.name', 'input.url']);
    const [row] = await app.sql`select name, url from webhooks where id = ${id}`;
    expect(row).toEqual({ name: 'Call events - production', url: 'https://receiver.example.com/hooks' });
  });

  it('refuses moving a webhook to a private address', async () => {
    const created = await app.graphql(REGISTER, { apiKey, variables: { input: validWebhook() } });
    const id = created.data?.registerWebhook.id;
    const res = await app.graphql(UPDATE, { apiKey, variables: { id, input: { url: 'http://192.168.0.10/x' } } });
    expect(res.errors?.[0]?.extensions?.issues).toEqual([
      { path: ['input', 'url'], message: expect.stringContaining('non-public') },
    ]);
  });
});

describe('paging arguments', () => {
  it.each([0, 101, -5])('refuses first: %i, naming first', async (first) => {
    const res = await app.graphql('query($first: Int) { webhooks(first: $first) { totalCount } }', {
      apiKey,
      variables: { first },
    });
    expect(res.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(res.errors?.[0]?.extensions?.issues[0].path).toEqual(['first']);
  });

  it('refuses a cursor it did not issue, naming after', async () => {
    const res = await app.graphql('{ webhooks(after: "bogus") { totalCount } }', { apiKey });
    expect(res.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(res.errors?.[0]?.extensions?.issues[0].path).toEqual(['after']);
  });
});
