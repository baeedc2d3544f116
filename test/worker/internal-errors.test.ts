import { Webhook } from 'standardwebhooks';
import { beforeAll, describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/lib/metrics.js';
import { createTestApp, type TestApp } from '../support/app.js';
import { conversationEnded, PUBLISH, REGISTER, validWebhook } from '../support/operations.js';
import { createReceiver, eventually } from '../support/receiver.js';

/**
 * A failure of ours at run time (here: a webhook's stored secret that no longer opens, as a
 * wrong key or a damaged row would leave it) is not the endpoint's failure. Run against a real
 * worker process with a circuit breaker and a disable rule that would trip within the test.
 */
let app: TestApp;

beforeAll(async () => {
  app = await createTestApp();
});

const HEALTH = `query($id: ID!) {
  webhook(id: $id) {
    active disabledReason health { state }
    deliveries(first: 5) { edges { node { status attemptCount attempts { statusCode error } } } }
  }
}`;

describe('a failure of ours at run time', () => {
  it('puts the delivery off without an attempt: the endpoint stays HEALTHY, the error is counted, and after repair it is delivered', async () => {
    const { apiKey } = await app.newWorkspace();
    const receiver = await createReceiver();
    const registered = await app.graphql(REGISTER, {
      apiKey,
      variables: { input: validWebhook({ url: receiver.url, agentId: 'agent-ours' }) },
    });
    const webhook = registered.data?.registerWebhook as { id: string; secret: string };
    const { id, secret } = webhook;

    const worker = app.spawnServer(
      {
        ROLE: 'worker',
        DELIVERY_INTERNAL_RETRY_DELAY: '200ms',
        // Were these failures counted, two would open the circuit, and a second of them turn the webhook off.
        CIRCUIT_BREAKER_FAILURES: '2',
        DELIVERY_DISABLE_AFTER: '1s',
        DELIVERY_RETRY_SCHEDULE: '100ms,100ms',
      },
      /metrics at http:\/\/localhost:(\d+)\//,
    );
    const [, port] = await worker.started;
    // Damaged once the worker runs (at start its key check would refuse it): one flipped bit in
    // the authentication tag, and AES-GCM refuses to open the secret.
    const [row] = await app.sql<{ secretEncrypted: Buffer }[]>`select secret_encrypted from webhooks where id = ${id}`;
    const sealed = row?.secretEncrypted as Buffer;
    const damaged = Buffer.from(sealed);
    damaged[damaged.length - 1] = (damaged[damaged.length - 1] as number) ^ 1;
    await app.sql`update webhooks set secret_encrypted = ${damaged} where id = ${id}`;
    const internalErrors = async () => {
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      return Number(/^webhook_delivery_internal_errors_total\{stage="prepare"\} (\d+)/m.exec(text)?.[1] ?? 0);
    };

    await app.graphql(PUBLISH, { apiKey, variables: { input: conversationEnded('agent-ours') } });
    // Put off again and again, for longer than the disable rule's second.
    await eventually(async () => (await internalErrors()) >= 6, 20_000, 100);

    const during = await app.graphql(HEALTH, { apiKey, variables: { id } });
    expect(during.errors).toBeUndefined();
    expect(during.data?.webhook).toMatchObject({ active: true, disabledReason: null, health: { state: 'HEALTHY' } });
    expect(during.data?.webhook.deliveries.edges).toEqual([
      { node: { status: 'PENDING', attemptCount: 0, attempts: [] } },
    ]);
    expect(receiver.received).toHaveLength(0);
    const [health] = await app.sql<{ consecutiveFailures: number; failingSince: Date | null }[]>`
      select consecutive_failures, failing_since from webhooks where id = ${id}`;
    expect(health).toEqual({ consecutiveFailures: 0, failingSince: null });
    // Logged for the operator, without the secret.
    expect(worker.output()).toContain('cannot prepare delivery');
    expect(worker.output()).not.toContain(secret);

    // Repaired (the right key back, the row restored): delivered at the next try, signed as ever.
    await app.sql`update webhooks set secret_encrypted = ${sealed} where id = ${id}`;
    await receiver.waitFor(1, 10_000);
    const [delivery] = receiver.received;
    expect(new Webhook(secret).verify(delivery?.body as string, delivery?.headers as Record<string, string>)).toEqual(
      JSON.parse(delivery?.body as string),
    );
    const after = await eventually(async () => {
      const response = await app.graphql(HEALTH, { apiKey, variables: { id } });
      const node = response.data?.webhook.deliveries.edges[0]?.node;
      return node?.status === 'SUCCEEDED' && response.data?.webhook;
    });
    expect(after.deliveries.edges[0].node).toEqual({
      status: 'SUCCEEDED',
      attemptCount: 1,
      attempts: [{ statusCode: 200, error: null }],
    });
    expect(after.health.state).toBe('HEALTHY');

    worker.signal('SIGTERM');
    expect(await worker.exited).toBe(0);
  }, 60_000);

  it('a database error while recording the outcome is retried and counted, and never lands on the endpoint', async () => {
    const { apiKey } = await app.newWorkspace();
    const receiver = await createReceiver();
    const registered = await app.graphql(REGISTER, {
      apiKey,
      variables: { input: validWebhook({ url: receiver.url, agentId: 'agent-record' }) },
    });
    const webhook = registered.data?.registerWebhook as { id: string };
    const id = webhook.id;
    // The database refuses this webhook's attempt rows for now.
    const table = `refuse_${id.toLowerCase()}`;
    await app.sql.unsafe(`
      create function ${table}() returns trigger language plpgsql as $$
        begin if exists (select 1 from deliveries where id = new.delivery_id and webhook_id = '${id}')
          then raise exception 'injected: recording failed'; end if; return new; end $$;
      create trigger ${table} before insert on delivery_attempts for each row execute function ${table}();`);
    const metrics = createMetrics();
    const worker = app.startWorker({ metrics });
    const recordErrors = async () =>
      (await metrics.internalErrors.get()).values.find((v) => v.labels.stage === 'record')?.value ?? 0;
    try {
      await app.graphql(PUBLISH, { apiKey, variables: { input: conversationEnded('agent-record') } });
      await receiver.waitFor(1);
      await eventually(async () => (await recordErrors()) >= 2, 10_000, 50);
      const during = await app.graphql(HEALTH, { apiKey, variables: { id } });
      expect(during.data?.webhook.health.state).toBe('HEALTHY');
      expect(during.data?.webhook.deliveries.edges[0].node).toMatchObject({ status: 'PENDING', attempts: [] });
    } finally {
      await app.sql.unsafe(`drop trigger ${table} on delivery_attempts; drop function ${table}();`);
    }
    // Written at the next retry: one attempt, the endpoint's own 200.
    const after = await eventually(async () => {
      const response = await app.graphql(HEALTH, { apiKey, variables: { id } });
      const node = response.data?.webhook.deliveries.edges[0]?.node;
      return node?.status === 'SUCCEEDED' && response.data?.webhook;
    });
    expect(after.deliveries.edges[0].node).toEqual({
      status: 'SUCCEEDED',
      attemptCount: 1,
      attempts: [{ statusCode: 200, error: null }],
    });
    expect(after.health.state).toBe('HEALTHY');
    expect(receiver.received).toHaveLength(1);
    await worker.stop(1000);
  });
});
