import { describe, expect, it } from 'vitest';
import { type PublishedFacts, type Tracing, withPublishSpans } from '../../src/telemetry/tracing.js';

/** A Tracing that records what happens to each publish span it opens. */
function recordingTracing() {
  const spans: { type: string; workspaceId: string; ended?: PublishedFacts; failed?: unknown }[] = [];
  const tracing = {
    startPublish(event: { type: string; workspaceId: string }) {
      const span: (typeof spans)[number] = { ...event };
      spans.push(span);
      return {
        traceparent: `tp-${spans.length}`,
        end(facts: PublishedFacts) {
          span.ended = facts;
        },
        fail(error: unknown) {
          span.failed = error;
        },
      };
    },
  } as unknown as Tracing;
  return { tracing, spans };
}

describe('publish spans', () => {
  it('a span per event: each traceparent goes to its own event, and each span records its own result', async () => {
    const { tracing, spans } = recordingTracing();
    const result = await withPublishSpans(
      tracing,
      'ws_1',
      ['conversation_started', 'conversation_ended'],
      async (traceparents) => traceparents.map((tp, i) => ({ id: `evt_${i}`, tp })),
      (events) => events.map(({ id }) => ({ eventId: id, webhooks: 2, replayed: false })),
    );
    expect(result).toEqual([
      { id: 'evt_0', tp: 'tp-1' },
      { id: 'evt_1', tp: 'tp-2' },
    ]);
    expect(spans).toEqual([
      { type: 'conversation_started', workspaceId: 'ws_1', ended: { eventId: 'evt_0', webhooks: 2, replayed: false } },
      { type: 'conversation_ended', workspaceId: 'ws_1', ended: { eventId: 'evt_1', webhooks: 2, replayed: false } },
    ]);
  });

  it('a failed publish marks every span failed and throws the error on', async () => {
    const { tracing, spans } = recordingTracing();
    const error = new Error('conflict');
    await expect(
      withPublishSpans(
        tracing,
        'ws_1',
        ['a', 'b'],
        async () => Promise.reject(error),
        () => [],
      ),
    ).rejects.toBe(error);
    expect(spans.map((span) => [span.failed, span.ended])).toEqual([
      [error, undefined],
      [error, undefined],
    ]);
  });

  it('without tracing the publish runs with no traceparents', async () => {
    const seen = await withPublishSpans(
      undefined,
      'ws_1',
      ['a'],
      async (traceparents) => traceparents,
      () => [],
    );
    expect(seen).toEqual([undefined]);
  });
});
