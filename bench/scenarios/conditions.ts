import { publishEvent } from '../../src/events/publish.js';
import type { DataCondition } from '../../src/webhooks/conditions.js';
import { insertWebhook } from '../../src/webhooks/store.js';
import { createWorkspace } from '../../src/workspaces/store.js';
import { type Bench, median, REPEATS, record, settle } from '../harness.js';

/**
 * Conditions at fan-out: one event published to 1,000 webhooks that each hold three
 * conditions (all met, so every webhook still gets a delivery: the same rows written)
 * against 1,000 webhooks without any. The time of publishEvent itself (one transaction:
 * the event, the conditions evaluated in the fan-out statement, 1,000 deliveries), no worker.
 */
export async function conditionsScenario(bench: Bench) {
  const WEBHOOKS = 1_000;
  const PUBLISHES = 30;
  const conditions: DataCondition[] = [
    { path: 'analysis.sentiment', operator: 'IN', value: ['positive', 'neutral'] },
    { path: 'durationSeconds', operator: 'GT', value: 60 },
    { path: 'caller.country', operator: 'EXISTS', value: null },
  ];
  const data = {
    durationSeconds: 184,
    analysis: { sentiment: 'positive', score: 0.93 },
    caller: { country: 'FR' },
    transcript: 'x'.repeat(500),
  };
  const setUp = async (withConditions: boolean) => {
    const workspace = await createWorkspace(bench.sql, `bench-conditions-${withConditions}`);
    for (let i = 0; i < WEBHOOKS; i += 100) {
      await Promise.all(
        Array.from({ length: 100 }, () =>
          insertWebhook(bench.sql, bench.secretKey, {
            workspaceId: workspace.id,
            name: 'bench',
            agentId: 'agent',
            url: 'https://example.com/hooks',
            events: ['conversation_ended'],
            active: true,
            rateLimitPerSecond: null,
            conditions: withConditions ? conditions : [],
          }),
        ),
      );
    }
    return workspace.id;
  };
  const withId = await setUp(true);
  const withoutId = await setUp(false);
  /** Ms of one publish (its own fan-out of 1,000). */
  const publishMs = async (workspaceId: string) => {
    const t = performance.now();
    const { webhooks } = await publishEvent(bench.sql, {
      workspaceId,
      agentId: 'agent',
      type: 'conversation_ended',
      data,
    });
    if (webhooks !== WEBHOOKS) throw new Error(`fanned out to ${webhooks} webhooks, not ${WEBHOOKS}`);
    return performance.now() - t;
  };
  const withConditions: number[] = [];
  const without: number[] = [];
  for (let run = 0; run <= REPEATS; run++) {
    await settle(bench);
    // Interleaved, one of each in turn, so the machine's noise (others share it) falls on both alike.
    const times = { with: [] as number[], without: [] as number[] };
    for (let i = 0; i < PUBLISHES; i++) {
      times.without.push(await publishMs(withoutId));
      times.with.push(await publishMs(withId));
    }
    // The first round warms both up, and is not counted.
    if (run === 0) continue;
    without.push(median(times.without));
    withConditions.push(median(times.with));
  }
  await bench.sql`update webhooks set active = false where workspace_id in (${withId}, ${withoutId})`;
  process.stdout.write(
    `    ms per publish to ${WEBHOOKS}: with conditions ${withConditions.map((x) => x.toFixed(1)).join(', ')}; without ${without.map((x) => x.toFixed(1)).join(', ')}\n`,
  );
  record(
    {
      scenario: 'conditions',
      measured: `ms per publishEvent fanning out to ${WEBHOOKS} webhooks with 3 conditions each (median of ${PUBLISHES})`,
      figure: Number(median(withConditions).toFixed(1)),
      baseline: Number(median(without).toFixed(1)),
      target: '≤ 1.5× the same without conditions',
    },
    (ratio) => ratio <= 1.5,
  );
}
