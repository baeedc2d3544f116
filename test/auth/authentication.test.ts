import { beforeAll, describe, expect, it } from 'vitest';
import { revokeApiKey } from '../../src/auth/api-keys.js';
import { createTestApp, type TestApp } from '../support/app.js';
import { REGISTER, validWebhook } from '../support/operations.js';
import { eventually } from '../support/receiver.js';

let app: TestApp;
beforeAll(async () => {
  app = await createTestApp();
});

const LIST_IDS = '{ webhooks { edges { node { id } } } }';

describe('authentication', () => {
  it('refuses an operation without X-API-Key with HTTP 401 UNAUTHENTICATED and no data', async () => {
    const res = await app.graphql(LIST_IDS);
    expect(res.status).toBe(401);
    expect(res.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect(res.data).toBeUndefined();
  });

  it('refuses an unknown key and a malformed one', async () => {
    for (const apiKey of ['chk_0000000000000000000000000000000000000000', 'not-a-key', 'x'.repeat(5000)]) {
      const res = await app.graphql(LIST_IDS, { apiKey });
      expect(res.status).toBe(401);
      expect(res.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
      expect(res.data).toBeUndefined();
    }
  });

  it('refuses a revoked key (once its revocation notice arrives), and writes nothing', async () => {
    const { apiKey, keyId, workspaceId } = await app.newWorkspace();
    expect((await app.graphql(LIST_IDS, { apiKey })).status).toBe(200);
    await revokeApiKey(app.sql, keyId);
    await eventually(async () => (await app.graphql(LIST_IDS, { apiKey })).status === 401, 10_000, 50);
    const res = await app.graphql(REGISTER, { apiKey, variables: { input: validWebhook() } });
    expect(res.status).toBe(401);
    expect(res.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    const [row] = await app.sql`select count(*)::int as n from webhooks where workspace_id = ${workspaceId}`;
    expect(row?.n).toBe(0);
  });

  it('lets introspection through without a key, so GraphiQL and codegen can read the schema', async () => {
    const res = await app.graphql('{ __schema { queryType { name } } __type(name: "Webhook") { name } }');
    expect(res.status).toBe(200);
    expect(res.data).toEqual({ __schema: { queryType: { name: 'Query' } }, __type: { name: 'Webhook' } });
  });

  it('does not let introspection carry a real field past the check', async () => {
    const res = await app.graphql('{ __typename webhooks { totalCount } }');
    expect(res.status).toBe(401);
  });

  it('stores API keys only as SHA-256 digests', async () => {
    const { apiKey, keyId } = await app.newWorkspace();
    expect(apiKey).toMatch(/^chk_[0-9A-Za-z]{40}$/);
    const [row] = await app.sql`select * from api_keys where id = ${keyId}`;
    expect(JSON.stringify(row)).not.toContain(apiKey);
    expect(JSON.stringify(row)).not.toContain(apiKey.slice(12));
  });
});
