import { publishEvents } from '../../src/events/publish.js';
import { createWorkspace } from '../../src/workspaces/store.js';
import { type Bench, countingReceiver, median, REPEATS, record, server, settle, webhook } from '../harness.js';

/**
 * One webhook receiving 600 concurrent conversations of 10 events each (published
 * interleaved, as calls overlap): drain throughput with ordering CONVERSATION (one
 * delivery per conversation at a time) against the same backlog unordered.
 */
export async function orderingScenario(bench: Bench) {
  const CONVERSATIONS = 600;
  const EVENTS_EACH = 10;
  const TOTAL = CONVERSATIONS * EVENTS_EACH;
  const receiver = await countingReceiver();

  const run = async (ordering: 'none' | 'conversation') => {
    const workspace = await createWorkspace(bench.sql, `bench-ordering-${ordering}`);
    const hook = await webhook(bench, workspace.id, 'ordered', receiver.url);
    await bench.sql`update webhooks set ordering = ${ordering} where id = ${hook.id}`;
    // Interleaved as calls overlap: each conversation's next event after every one's last.
    // A setup, not what is timed: publishEvents of 100 (one per conversation) at a time.
    for (let seq = 0; seq < EVENTS_EACH; seq++) {
      for (let c = 0; c < CONVERSATIONS; c += 100) {
        await publishEvents(
          bench.sql,
          Array.from({ length: 100 }, (_, j) => ({
            workspaceId: workspace.id,
            agentId: 'ordered',
            conversationId: `call-${c + j}`,
            type: 'conversation_ended' as const,
            data: { seq, transcript: 'x'.repeat(500) },
          })),
        );
      }
    }
    await settle(bench);
    const arrived = receiver.expect(TOTAL);
    const worker = await server(bench, 'worker');
    await arrived;
    const rate = TOTAL / ((performance.now() - receiver.firstAt()) / 1000);
    await worker.stop();
    await bench.sql`update webhooks set active = false where id = ${hook.id}`;
    return rate;
  };

  const ordered: number[] = [];
  const unordered: number[] = [];
  for (let i = 0; i < REPEATS; i++) {
    unordered.push(await run('none'));
    ordered.push(await run('conversation'));
  }
  await receiver.close();
  process.stdout.write(
    `    ordered ${ordered.map(Math.round).join(', ')}/s; unordered ${unordered.map(Math.round).join(', ')}/s\n`,
  );
  record(
    {
      scenario: 'ordering',
      measured: 'deliveries/s, one webhook, 600 conversations × 10 events, ordering CONVERSATION',
      figure: Math.round(median(ordered)),
      baseline: Math.round(median(unordered)),
      target: '≥ 0.8× unordered (NONE)',
    },
    (ratio) => ratio >= 0.8,
  );
}
