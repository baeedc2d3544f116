import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { beforeAll, describe, expect, it } from 'vitest';
import { resealSecrets } from '../../src/webhooks/encryption-keys.js';
import { decryptSecret, headersContext } from '../../src/webhooks/secrets.js';
import { rotateSecret } from '../../src/webhooks/store.js';
import { createTestApp, type TestApp } from '../support/app.js';
import { conversationEnded, PUBLISH, REGISTER, validWebhook } from '../support/operations.js';
import { runCommand } from '../support/processes.js';
import { createReceiver, eventually, type Received } from '../support/receiver.js';

/**
 * SECRET_ENCRYPTION_KEY: checked at start against the stored secrets, and rotated without
 * downtime (SECRET_ENCRYPTION_OLD_KEYS, then `reseal-secrets`). Real server and CLI processes.
 */
let app: TestApp;
/** The key the test app seals with (the "old" key once rotated), and the one rotated to. */
let keyA: string;
const keyB = randomBytes(32).toString('hex');

beforeAll(async () => {
  app = await createTestApp();
  keyA = app.secretKey.toString('hex');
});

const ROTATE = `mutation($id: ID!, $keep: Int) { rotateWebhookSecret(id: $id, expireCurrentInSeconds: $keep) { secret } }`;
const SERVER_READY = /GraphiQL at http:\/\/localhost:(\d+)\/graphql/;

function startServer(keys: { SECRET_ENCRYPTION_KEY: string; SECRET_ENCRYPTION_OLD_KEYS?: string }) {
  return app.spawnServer({ SECRET_ENCRYPTION_OLD_KEYS: '', ...keys }, SERVER_READY);
}

async function stop(server: ReturnType<typeof startServer>) {
  // Its signal handlers are in place once the worker has started.
  await server.waitFor(/delivery worker started/);
  server.signal('SIGTERM');
  expect(await server.exited).toBe(0);
}

const reseal = (env: Record<string, string>) =>
  runCommand(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'reseal-secrets', '--json'], {
    DATABASE_URL: app.db.url,
    SECRET_ENCRYPTION_OLD_KEYS: '',
    ...env,
  });

async function registerWebhook(apiKey: string, url: string, agentId: string) {
  const registered = await app.graphql(REGISTER, {
    apiKey,
    variables: { input: validWebhook({ url, agentId, headers: [{ name: 'Authorization', value: 'Bearer t0k' }] }) },
  });
  const webhook = registered.data?.registerWebhook as { id: string; secret: string };
  return webhook;
}

/** Each stored value of every webhook opens with `key` alone. */
async function everyValueOpensWith(key: Buffer): Promise<boolean> {
  const rows = await app.sql<
    { id: string; secretEncrypted: Buffer; headersEncrypted: Buffer | null; retiredSecrets: { sealed: string }[] }[]
  >`select id, secret_encrypted, headers_encrypted, retired_secrets from webhooks`;
  try {
    for (const row of rows) {
      decryptSecret(key, row.secretEncrypted, row.id);
      if (row.headersEncrypted) decryptSecret(key, row.headersEncrypted, headersContext(row.id));
      for (const retired of row.retiredSecrets) decryptSecret(key, Buffer.from(retired.sealed, 'base64'), row.id);
    }
    return rows.length > 0;
  } catch {
    return false;
  }
}

/** Every secret verifies the delivery (Standard Webhooks' own package), and the custom header came along. */
function expectSignedWithEach(delivery: Received | undefined, secrets: string[]) {
  const body = delivery?.body as string;
  for (const secret of secrets) {
    expect(new Webhook(secret).verify(body, delivery?.headers as Record<string, string>)).toEqual(JSON.parse(body));
  }
  expect(delivery?.headers.authorization).toBe('Bearer t0k');
}

describe('SECRET_ENCRYPTION_KEY at start', () => {
  it('a key that cannot open the stored secrets stops the server with one line naming it; kept as an old key, it starts', async () => {
    const { apiKey } = await app.newWorkspace();
    await registerWebhook(apiKey, 'http://127.0.0.1:9/hooks', 'agent-start');

    const wrong = startServer({ SECRET_ENCRYPTION_KEY: keyB });
    expect(await wrong.exited).toBe(1);
    const lines = wrong.output().trim().split('\n');
    expect(lines.filter((line) => line.includes('SECRET_ENCRYPTION_KEY'))).toEqual([
      expect.stringMatching(/^Invalid configuration: SECRET_ENCRYPTION_KEY cannot open the webhook secrets stored/),
    ]);
    // Neither key appears in what it printed.
    expect(wrong.output()).not.toContain(keyB);

    const rotating = startServer({ SECRET_ENCRYPTION_KEY: keyB, SECRET_ENCRYPTION_OLD_KEYS: keyA });
    await rotating.started;
    await stop(rotating);
  }, 60_000);
});

describe('rotating SECRET_ENCRYPTION_KEY', () => {
  it('deliveries verify before, during and after; reseal-secrets re-seals everything once; then the old key can go', async () => {
    const { apiKey } = await app.newWorkspace();
    const receiver = await createReceiver();
    const agentId = 'agent-rotate';
    const { id, secret: first } = await registerWebhook(apiKey, receiver.url, agentId);
    // A retired secret still signing: sealed under the old key too.
    const rotated = await app.graphql(ROTATE, { apiKey, variables: { id, keep: 3600 } });
    const second = rotated.data?.rotateWebhookSecret.secret as string;
    const publish = () => app.graphql(PUBLISH, { apiKey, variables: { input: conversationEnded(agentId) } });

    // Before: the old key is the current one.
    const before = startServer({ SECRET_ENCRYPTION_KEY: keyA });
    await before.started;
    await publish();
    await receiver.waitFor(1);
    expectSignedWithEach(receiver.received[0], [first, second]);
    await stop(before);

    // During: the new key seals, the old one still opens (secrets, retired secrets, headers).
    const during = startServer({ SECRET_ENCRYPTION_KEY: keyB, SECRET_ENCRYPTION_OLD_KEYS: keyA });
    const [, port] = await during.started;
    const api = `http://127.0.0.1:${port}/graphql`;
    const viaServer = (query: string, variables: Record<string, unknown>) =>
      fetch(api, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': apiKey },
        body: JSON.stringify({ query, variables }),
      }).then((r) => r.json() as Promise<{ data: Record<string, any> }>);
    await publish();
    await receiver.waitFor(2);
    expectSignedWithEach(receiver.received[1], [first, second]);
    const read = await viaServer(`query($id: ID!) { webhook(id: $id) { headers { name value } } }`, { id });
    expect(read.data.webhook.headers).toEqual([{ name: 'Authorization', value: 'Bearer t0k' }]);
    const added = await viaServer(REGISTER, {
      input: validWebhook({ url: `${receiver.url}?added`, agentId: 'agent-added' }),
    });
    const [row] = await app.sql<{ secretEncrypted: Buffer }[]>`
      select secret_encrypted from webhooks where id = ${added.data.registerWebhook.id}`;
    expect(decryptSecret(Buffer.from(keyB, 'hex'), row?.secretEncrypted as Buffer, added.data.registerWebhook.id)).toBe(
      added.data.registerWebhook.secret,
    );
    expect(await everyValueOpensWith(Buffer.from(keyB, 'hex'))).toBe(false);

    // Without the old key the values it sealed cannot be re-sealed: named, left as they are, exit 1.
    const missingKey = await reseal({ SECRET_ENCRYPTION_KEY: keyB });
    expect(missingKey.code).toBe(1);
    expect(JSON.parse(missingKey.stdout).error).toMatch(
      new RegExp(
        `^Re-sealed 0 of \\d+ webhooks .*\\b${id}\\b.*add the key they were sealed with to SECRET_ENCRYPTION_OLD_KEYS`,
      ),
    );
    expect(await everyValueOpensWith(Buffer.from(keyB, 'hex'))).toBe(false);

    // Re-sealed while that server runs; a second run finds nothing left to do.
    const once = await reseal({ SECRET_ENCRYPTION_KEY: keyB, SECRET_ENCRYPTION_OLD_KEYS: keyA });
    expect(once.code).toBe(0);
    const [{ count }] = (await app.sql`select count(*)::int as count from webhooks`) as unknown as [{ count: number }];
    // Every webhook but the one the new key sealed: this file's others were all sealed with the old key.
    expect(JSON.parse(once.stdout)).toEqual({ webhooks: count, resealed: count - 1 });
    expect(await everyValueOpensWith(Buffer.from(keyB, 'hex'))).toBe(true);
    const twice = await reseal({ SECRET_ENCRYPTION_KEY: keyB, SECRET_ENCRYPTION_OLD_KEYS: keyA });
    expect(JSON.parse(twice.stdout)).toEqual({ webhooks: count, resealed: 0 });
    await publish();
    await receiver.waitFor(3);
    expectSignedWithEach(receiver.received[2], [first, second]);
    await stop(during);

    // After: the old key dropped, the server starts and delivers; the old key alone no longer opens anything.
    const after = startServer({ SECRET_ENCRYPTION_KEY: keyB });
    await after.started;
    await publish();
    await receiver.waitFor(4);
    expectSignedWithEach(receiver.received[3], [first, second]);
    await stop(after);
    const stale = startServer({ SECRET_ENCRYPTION_KEY: keyA });
    expect(await stale.exited).toBe(1);
  }, 120_000);

  it('a rotation that lands while a webhook is being re-sealed is kept, not overwritten with the old secret', async () => {
    const { apiKey, workspaceId } = await app.newWorkspace();
    const { id } = await registerWebhook(apiKey, 'http://127.0.0.1:9/hooks', 'agent-race');
    const newKey = Buffer.from(keyB, 'hex');
    // The rotation's transaction holds the row: the re-seal reads the old value, then waits on the lock to write.
    const rotation = await app.sql.reserve();
    try {
      await rotation`begin`;
      await rotation`select id from webhooks where id = ${id} for update`;
      // One webhook per batch: the paging goes past this one and on through the others.
      const resealing = resealSecrets(app.sql, [newKey, app.secretKey], 1);
      await eventually(async () => {
        const [waiting] = await app.sql`
          select 1 from pg_stat_activity where query like '%webhooks.reseal %' and wait_event_type = 'Lock'`;
        return waiting;
      });
      const rotated = await rotateSecret(rotation, newKey, workspaceId, id, 0);
      await rotation`commit`;
      const report = await resealing;
      const [{ count }] = (await app.sql`select count(*)::int as count from webhooks`) as unknown as [
        { count: number },
      ];
      expect(report.webhooks).toBe(count);
      expect(report.unopenable).toEqual([]);
      const [row] = await app.sql<
        { secretEncrypted: Buffer }[]
      >`select secret_encrypted from webhooks where id = ${id}`;
      expect(decryptSecret(newKey, row?.secretEncrypted as Buffer, id)).toBe(rotated?.secret);
    } finally {
      rotation.release();
    }
  });
});
