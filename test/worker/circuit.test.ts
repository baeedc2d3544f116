import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { startClusterGauges } from '../../src/worker/backlog-gauges.js';
import { createTestApp, type TestApp } from '../support/app.js';
import { conversationEnded, PUBLISH, REGISTER, validWebhook } from '../support/operations.js';
import { createReceiver, eventually } from '../support/receiver.js';

const HEALTH = `query Health($id: ID!) {
  webhook(id: $id) { health { state reason consecutiveFailures failingSince circuitOpenedAt nextProbeAt } }
}`;

type Health = {
  state: string;
  reason: string | null;
  consecutiveFailures: number;
  failingSince: string | null;
  circuitOpenedAt: string | null;
  nextProbeAt: string | null;
};

const PROBE_MS = 300;

async function circuitApp(env: Record<string, string> = {}) {
  const app = await createTestApp({
    CIRCUIT_BREAKER_FAILURES: '3',
    CIRCUIT_BREAKER_PROBE_INTERVAL: `${PROBE_MS}ms`,
    // Retries come due long before the probes may go: only the circuit holds them back.
    DELIVERY_RETRY_SCHEDULE: Array(20).fill('50ms').join(','),
    ...env,
  });
  const { apiKey } = await app.newWorkspace();
  const health = async (id: string) =>
    (await app.graphql(HEALTH, { apiKey, variables: { id } })).data?.webhook.health as Health;
  return { app, apiKey, health };
}

async function webhookWithEvents(app: TestApp, apiKey: string, url: string, events: number) {
  const res = await app.graphql(REGISTER, { apiKey, variables: { input: validWebhook({ url, agentId: 'flaky' }) } });
  const id = res.data?.registerWebhook.id as string;
  for (let i = 0; i < events; i++)
    await app.graphql(PUBLISH, { apiKey, variables: { input: conversationEnded('flaky') } });
  return id;
}

describe('circuit breaker', () => {
  it('opens after consecutive failures, then sends one probe at a time with a growing wait; a success closes it and nothing is lost', async () => {
    const { app, apiKey, health } = await circuitApp();
    let failing = true;
    const receiver = await createReceiver(() => (failing ? { status: 500, delayMs: 20 } : { status: 200 }));
    const id = await webhookWithEvents(app, apiKey, receiver.url, 6);
    expect((await health(id)).state).toBe('HEALTHY');

    app.startWorker();
    await eventually(async () => (await health(id)).state === 'FAILING', 5000);
    const open = await health(id);
    expect(open.reason).toMatch(/^\d+ consecutive attempts failed, the last with: HTTP 500$/);
    expect(open.consecutiveFailures).toBeGreaterThanOrEqual(3);
    expect(open.circuitOpenedAt).not.toBeNull();
    expect(Date.parse(open.nextProbeAt as string)).toBeGreaterThan(Date.parse(open.circuitOpenedAt as string));
    const registry = new Registry();
    const gauges = startClusterGauges(registry, app.sql, { intervalMs: 60_000, log: app.log });
    await gauges.stop();
    expect(await registry.metrics()).toMatch(/^webhooks_circuit_open\{scope="cluster"\} 1$/m);

    // While open: single probes, each after a longer wait (300, 600, 1200 ms), though
    // retries of six deliveries came due every 50 ms.
    const openedAt = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const probes = receiver.received.filter((r) => r.at >= openedAt).map((r) => r.at);
    expect(probes.length).toBeGreaterThanOrEqual(2);
    expect(probes.length).toBeLessThanOrEqual(4);
    const gaps = probes.slice(1).map((at, i) => at - (probes[i] as number));
    for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(PROBE_MS - 20);
    // Waiting for the circuit is not failing: every delivery is still pending.
    const states = await app.sql<{ status: string }[]>`select status from deliveries where webhook_id = ${id}`;
    expect(states.every((d) => d.status === 'pending')).toBe(true);

    failing = false;
    await eventually(async () => {
      const [row] = await app.sql`
        select count(*) filter (where status = 'succeeded')::int as ok, count(*)::int as n from deliveries where webhook_id = ${id}`;
      return row?.ok === 6 && row?.n === 6;
    }, 10_000);
    const closed = await health(id);
    expect(closed).toEqual({
      state: 'HEALTHY',
      reason: null,
      consecutiveFailures: 0,
      failingSince: null,
      circuitOpenedAt: null,
      nextProbeAt: null,
    });
  });

  it('counts timeouts as failures, and a fix of the URL gives the endpoint a fresh start', async () => {
    const { app, apiKey, health } = await circuitApp({ DELIVERY_TIMEOUT_MS: '200' });
    const hung = await createReceiver(() => ({ hang: true }));
    const id = await webhookWithEvents(app, apiKey, hung.url, 4);
    app.startWorker();
    await eventually(async () => (await health(id)).state === 'FAILING', 5000);
    expect((await health(id)).reason).toMatch(/the last with: timeout: no complete response within 200 ms$/);

    const fixed = await createReceiver();
    const update = await app.graphql(
      `mutation($id: ID!, $url: String!) { updateWebhook(id: $id, input: { url: $url }) { health { state } } }`,
      { apiKey, variables: { id, url: fixed.url } },
    );
    expect(update.data?.updateWebhook.health.state).toBe('HEALTHY');
    await fixed.waitFor(4, 5000);
  });

  it('a test event or a retry by hand probes at once, and its success closes the circuit', async () => {
    const { app, apiKey, health } = await circuitApp({ CIRCUIT_BREAKER_PROBE_INTERVAL: '1h' });
    let failing = true;
    const receiver = await createReceiver(() => (failing ? { status: 502 } : { status: 200 }));
    const id = await webhookWithEvents(app, apiKey, receiver.url, 3);
    app.startWorker();
    await eventually(async () => (await health(id)).state === 'FAILING', 5000);
    failing = false;
    const sent = await app.graphql(`mutation($id: ID!) { sendTestEvent(webhookId: $id) { id } }`, {
      apiKey,
      variables: { id },
    });
    expect(sent.errors).toBeUndefined();
    await eventually(async () => (await health(id)).state === 'HEALTHY', 5000);
    await eventually(async () => {
      const [row] = await app.sql`
        select count(*) filter (where status = 'succeeded')::int as ok from deliveries where webhook_id = ${id}`;
      return row?.ok === 4;
    }, 5000);
  });

  it('is shown as DEGRADED below the threshold', async () => {
    const { app, apiKey, health } = await circuitApp({ DELIVERY_RETRY_SCHEDULE: '1h' });
    const receiver = await createReceiver(() => ({ status: 503 }));
    const id = await webhookWithEvents(app, apiKey, receiver.url, 1);
    app.startWorker();
    await eventually(async () => (await health(id)).state === 'DEGRADED', 5000);
    expect(await health(id)).toMatchObject({ consecutiveFailures: 1, reason: null, nextProbeAt: null });
  });
});
