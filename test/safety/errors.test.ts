import { beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../support/app.js';
import { LIST, REGISTER, validWebhook } from '../support/operations.js';

let app: TestApp;
let apiKey: string;
beforeAll(async () => {
  app = await createTestApp();
  ({ apiKey } = await app.newWorkspace());
});

describe('an unexpected failure', () => {
  it('answers a masked INTERNAL_SERVER_ERROR: no SQL, no stack, no constraint or table name, no secret', async () => {
    const registered = await app.graphql(REGISTER, { apiKey, variables: { input: validWebhook() } });
    const secret = registered.data?.registerWebhook.secret as string;
    // Break the database under the app: every webhook query now fails inside PostgreSQL.
    await app.sql`alter table webhooks rename to webhooks_gone`;
    try {
      for (const [query, variables] of [
        [LIST, {}],
        [REGISTER, { input: validWebhook() }],
      ] as const) {
        const res = await app.graphql(query, { apiKey, variables });
        // Everything but the GraphQL path (which names the field, e.g. "webhooks").
        const text = JSON.stringify(res.errors?.map(({ path: _path, ...rest }) => rest));
        expect(res.errors?.[0]).toMatchObject({
          message: 'Unexpected error.',
          extensions: { code: 'INTERNAL_SERVER_ERROR' },
        });
        expect(text).not.toMatch(/webhooks|relation|select|insert|stack|at \w+ \(|\.ts:|postgres/i);
        expect(text).not.toContain(secret);
      }
    } finally {
      await app.sql`alter table webhooks_gone rename to webhooks`;
    }
  });
});
