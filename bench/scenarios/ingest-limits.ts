import { createApiKey } from '../../src/auth/api-keys.js';
import { createWorkspace } from '../../src/workspaces/store.js';
import { type Bench, countingReceiver, record, webhook } from '../harness.js';
import { startServer } from '../processes.js';

/**
 * A voice platform's ingest with the limits left at their defaults: one backend key
 * publishes 900 events a second for 10 s (as `publishEvents` of 10, one call every 11 ms,
 * never waiting for an answer before sending the next), an API and a worker process
 * deliver them. Nothing may answer RATE_LIMITED below the default 1,000 events/s.
 */
export async function ingestLimitsScenario(bench: Bench) {
  const RATE = 900;
  const SECONDS = 10;
  const BATCH = 10;
  const receiver = await countingReceiver();
  const workspace = await createWorkspace(bench.sql, 'bench-ingest-limits');
  const { apiKey } = await createApiKey(bench.sql, workspace.id);
  await webhook(bench, workspace.id, 'ingest', receiver.url);
  // The defaults: no rate-limit variables at all.
  const {
    RATE_LIMIT_PER_SECOND: _m,
    PUBLISH_RATE_LIMIT_PER_SECOND: _p,
    FANOUT_RATE_LIMIT_PER_SECOND: _f,
    ...defaults
  } = bench.serverEnv;
  const api = await startServer({ ...defaults, ROLE: 'api' });
  const worker = await startServer({ ...defaults, ROLE: 'worker' });
  const body = JSON.stringify({
    query: 'mutation P($inputs: [PublishEventInput!]!) { publishEvents(inputs: $inputs) { id } }',
    variables: {
      inputs: Array.from({ length: BATCH }, () => ({
        agentId: 'ingest',
        type: 'CONVERSATION_ENDED',
        data: { transcript: 'x'.repeat(500) },
      })),
    },
  });
  const total = RATE * SECONDS;
  const arrived = receiver.expect(total);
  const codes = new Map<string, number>();
  const calls: Promise<void>[] = [];
  const started = performance.now();
  for (let i = 0; i < total / BATCH; i++) {
    // Paced against the clock, not against answers: a slow answer does not slow the sender.
    const due = started + (i * 1000 * BATCH) / RATE;
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, due - performance.now())));
    calls.push(
      fetch(`${api.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': apiKey },
        body,
      }).then(async (response) => {
        const answer = (await response.json()) as { errors?: { extensions?: { code?: string } }[] };
        for (const error of answer.errors ?? []) {
          const code = error.extensions?.code ?? 'UNKNOWN';
          codes.set(code, (codes.get(code) ?? 0) + 1);
        }
      }),
    );
  }
  const dispatchedFor = (performance.now() - started) / 1000;
  await Promise.all(calls);
  const answeredFor = (performance.now() - started) / 1000;
  const refused = codes.get('RATE_LIMITED') ?? 0;
  if (codes.size === 0) await arrived;
  const deliveredFor = (performance.now() - started) / 1000;
  await api.stop();
  await worker.stop();
  await receiver.close();
  await bench.sql`update webhooks set active = false where workspace_id = ${workspace.id}`;
  process.stdout.write(
    `    sent ${total} events in ${dispatchedFor.toFixed(1)} s, all answered after ${answeredFor.toFixed(1)} s (${Math.round(total / answeredFor)}/s accepted), delivered after ${deliveredFor.toFixed(1)} s; errors: ${JSON.stringify(Object.fromEntries(codes))}\n`,
  );
  record(
    {
      scenario: 'ingest at default limits',
      measured: `RATE_LIMITED answers, one key publishing ${RATE} events/s for ${SECONDS} s (publishEvents of ${BATCH}), then delivered`,
      figure: refused,
      baseline: total / BATCH,
      target: 'none below 1,000 events/s',
    },
    (_r, figure) => figure === 0 && codes.size === 0,
  );
}
