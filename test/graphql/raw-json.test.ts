import { describe, expect, it } from 'vitest';
import { payloadData, payloadWithData } from '../../src/events/payload.js';
import { RawJson, stringifyWithRawJson } from '../../src/graphql/raw-json.js';
import { createTestApp } from '../support/app.js';
import { conversationEnded, PUBLISH, REGISTER, validWebhook } from '../support/operations.js';
import { subscribe } from '../support/sse.js';

const head = {
  id: 'evt_1',
  type: 'conversation_ended',
  createdAt: new Date('2026-01-02T03:04:05.000Z'),
  workspaceId: 'ws_1',
  // Strings before data that spell its key, escaped as JSON escapes them.
  agentId: 'a,"data":{"x":1}',
  conversationId: '\\",\\"data\\":',
};
const data = { text: 'é \u2028 "quoted" \\ </script>', n: [1, 2.5, -0, 1e21], nested: { deep: [{ a: null }] } };

describe('raw JSON answers', () => {
  it('finds the data in a stored payload, whatever the strings before it spell', () => {
    const payload = payloadWithData(head, JSON.stringify(data));
    expect(payloadData(payload)).toBe(JSON.stringify(data));
    expect(JSON.parse(payloadData(payload))).toEqual(JSON.parse(payload).data);
  });

  it('writes the same text JSON.stringify would, with the raw texts spliced in their places', () => {
    const text = JSON.stringify(data);
    const answer = { data: { a: new RawJson(text), list: [new RawJson('1'), new RawJson('null'), 'x'], b: 'after' } };
    const parsed = { data: { a: data, list: [1, null, 'x'], b: 'after' } };
    expect(stringifyWithRawJson(answer)).toBe(JSON.stringify(parsed));
    // Without raw values it is JSON.stringify.
    expect(stringifyWithRawJson(parsed)).toBe(JSON.stringify(parsed));
  });

  it('leaves a string that spells a placeholder as a string', () => {
    const forged = { a: '\u0000x:0', b: '"\\u0000x:0"', c: new RawJson('{"real":true}') };
    expect(JSON.parse(stringifyWithRawJson(forged))).toEqual({ a: '\u0000x:0', b: '"\\u0000x:0"', c: { real: true } });
  });

  it('is parsed by any other serialiser', () => {
    expect(JSON.stringify({ d: new RawJson('{"k":[1,"two"]}') })).toBe('{"d":{"k":[1,"two"]}}');
  });

  it('answers an event’s data as published, over HTTP and in a subscription', async () => {
    const app = await createTestApp();
    const { apiKey } = await app.newWorkspace();
    const url = await app.listen();
    app.startWorker();
    const sent = JSON.parse(JSON.stringify(data));
    const published = await app.graphql(PUBLISH, { apiKey, variables: { input: conversationEnded('a1', data) } });
    expect(published.errors).toBeUndefined();
    const id: string = published.data?.publishEvent.id;
    const read = await app.graphql('query($id: ID!) { node(id: $id) { ... on Event { data } } }', {
      apiKey,
      variables: { id },
    });
    expect(read.data).toEqual({ node: { data: sent } });

    // A subscription's message is written by another serialiser: the data arrives parsed there too.
    await app.graphql(REGISTER, { apiKey, variables: { input: validWebhook({ agentId: 'a2' }) } });
    const stream = await subscribe(url, 'subscription { deliveryUpdates { event { data } } }', { apiKey });
    try {
      await app.graphql(PUBLISH, { apiKey, variables: { input: conversationEnded('a2', data) } });
      await expect.poll(() => stream.events.length, { timeout: 10_000 }).toBeGreaterThan(0);
      expect(stream.events[0]?.data?.deliveryUpdates?.event?.data).toEqual(sent);
    } finally {
      await stream.close();
    }
  });
});
