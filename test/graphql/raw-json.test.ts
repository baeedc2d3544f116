import { describe, expect, it } from 'vitest';
import { payloadData, payloadWithData } from '../../src/events/payload.js';
import { createStandIns, RawJson, stringifyWithRawJson } from '../../src/graphql/raw-json.js';
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

  it('reaches a library that serialises its own messages as a stand-in, put back in the bytes it writes', () => {
    const standIns = createStandIns();
    const encoder = new TextEncoder();
    const answer = { data: { event: { data: new RawJson(JSON.stringify(data)) }, forged: '\u0000x:0' } };
    const { bytes, standIn } = standIns.hold(answer);
    expect(bytes.toString()).toBe(stringifyWithRawJson(answer));
    // As graphql-sse writes a message: its own envelope, the answer stringified inside it.
    const message = `event: next\ndata: ${JSON.stringify({ id: 'op', payload: standIn })}\n\n`;
    expect(message.length).toBeLessThan(100);
    const restored = new TextDecoder().decode(standIns.restore(encoder.encode(message)));
    expect(restored).toBe(
      `event: next\ndata: ${JSON.stringify({ id: 'op', payload: JSON.parse(bytes.toString()) })}\n\n`,
    );
    // Put back once; a chunk without a stand-in (a ping, a string that spells one) passes as it is.
    for (const chunk of [message, ':\n\n', `data: ${JSON.stringify({ s: '\u0000x:0' })}`]) {
      expect(new TextDecoder().decode(standIns.restore(encoder.encode(chunk)))).toBe(chunk);
    }
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

    // Each message of a subscription, over server-sent events and over multipart.
    await app.graphql(REGISTER, { apiKey, variables: { input: validWebhook({ agentId: 'a2' }) } });
    const FEED = 'subscription { deliveryUpdates { event { data } } }';
    const stream = await subscribe(url, FEED, { apiKey });
    const multipart = await fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'multipart/mixed;subscriptionSpec="1.0"',
        'x-api-key': apiKey,
      },
      body: JSON.stringify({ query: FEED }),
    });
    const reader = (multipart.body as ReadableStream<Uint8Array>).getReader();
    try {
      await app.graphql(PUBLISH, { apiKey, variables: { input: conversationEnded('a2', data) } });
      await expect.poll(() => stream.events.length, { timeout: 10_000 }).toBeGreaterThan(0);
      expect(stream.events[0]?.data?.deliveryUpdates?.event?.data).toEqual(sent);
      // Parts are `{}` heartbeats and `{"payload": …}` results, each after a blank line.
      const payloads = () =>
        text
          .split('\r\n--graphql')
          .map((part) => part.slice(part.indexOf('\r\n\r\n') + 4))
          .filter((body) => body.startsWith('{"payload"'));
      let text = '';
      while (payloads().length === 0) text += new TextDecoder().decode((await reader.read()).value);
      const part = JSON.parse(payloads()[0] as string);
      expect(part.payload.data.deliveryUpdates.event.data).toEqual(sent);
    } finally {
      await reader.cancel();
      await stream.close();
    }
  });
});
