import { Webhook as Verifier } from 'standardwebhooks';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { createPayloadShapes, withoutFields } from '../../src/worker/excluded-fields.js';
import { createTestApp, type TestApp } from '../support/app.js';
import { PUBLISH, UPDATE, validWebhook } from '../support/operations.js';
import { createReceiver, sleep } from '../support/receiver.js';

/** Fields kept out of what a webhook receives: never sent, signed over what is sent, kept in the stored event. */
let app: TestApp;
beforeAll(async () => {
  app = await createTestApp();
  app.startWorker();
});

const REGISTER_WITH = `mutation Register($input: RegisterWebhookInput!) {
  registerWebhook(input: $input) { id secret excludedFields }
}`;

const PHONE = '+33 6 12 34 56 78';
const CARD = '4111 1111 1111 1111';
const DATA = {
  durationSeconds: 184,
  transcript: [`my card is ${CARD}`, 'thanks'],
  caller: { phone: PHONE, country: 'FR' },
  analysis: { sentiment: 'positive', summary: { text: `called from ${PHONE}`, language: 'en' } },
};

describe('excluded fields', () => {
  it('never reach the receiver, and the Standard Webhooks signature verifies over what it got', async () => {
    const { apiKey, workspaceId } = await app.newWorkspace();
    const masked = await createReceiver();
    const whole = await createReceiver();
    const excludedFields = ['transcript', 'caller.phone', 'analysis.summary.text', 'not.there', 'durationSeconds.x'];
    const registered = await app.graphql(REGISTER_WITH, {
      apiKey,
      variables: { input: validWebhook({ url: masked.url, agentId: 'agent-x', excludedFields }) },
    });
    expect(registered.data?.registerWebhook.excludedFields).toEqual(excludedFields);
    const secret = registered.data?.registerWebhook.secret as string;
    await app.graphql(REGISTER_WITH, {
      apiKey,
      variables: { input: validWebhook({ url: whole.url, agentId: 'agent-x' }) },
    });

    const published = await app.graphql(PUBLISH, {
      apiKey,
      variables: { input: { agentId: 'agent-x', type: 'CONVERSATION_ENDED', data: DATA } },
    });
    const event = published.data?.publishEvent;
    await Promise.all([masked.waitFor(1), whole.waitFor(1)]);

    const [request] = masked.received;
    expect(request?.body).not.toContain(PHONE);
    expect(request?.body).not.toContain(CARD);
    const verified = new Verifier(secret).verify(request?.body as string, request?.headers as Record<string, string>);
    expect(verified).toEqual({
      id: event.id,
      type: 'conversation_ended',
      timestamp: event.createdAt,
      workspaceId,
      agentId: 'agent-x',
      data: {
        durationSeconds: 184,
        caller: { country: 'FR' },
        analysis: { sentiment: 'positive', summary: { language: 'en' } },
      },
    });
    // Another webhook, and the stored event, keep everything.
    expect(JSON.parse(whole.received[0]?.body as string).data).toEqual(DATA);
    const stored = await app.graphql(`query($id: ID!) { event(id: $id) { data } }`, {
      apiKey,
      variables: { id: event.id },
    });
    expect(stored.data?.event.data).toEqual(DATA);
  });

  it('changed by updateWebhook apply to the next attempts; [] sends everything again', async () => {
    const { apiKey } = await app.newWorkspace();
    const receiver = await createReceiver();
    const registered = await app.graphql(REGISTER_WITH, {
      apiKey,
      variables: { input: validWebhook({ url: receiver.url, agentId: 'agent-u' }) },
    });
    const id = registered.data?.registerWebhook.id;
    const publish = () =>
      app.graphql(PUBLISH, {
        apiKey,
        variables: { input: { agentId: 'agent-u', type: 'CONVERSATION_ENDED', data: DATA } },
      });
    await app.graphql(UPDATE, { apiKey, variables: { id, input: { excludedFields: ['caller', 'transcript'] } } });
    await publish();
    await receiver.waitFor(1);
    await app.graphql(UPDATE, { apiKey, variables: { id, input: { excludedFields: [] } } });
    await publish();
    await receiver.waitFor(2);
    await sleep(100);
    expect(receiver.received.map((r) => Object.keys(JSON.parse(r.body).data))).toEqual([
      ['durationSeconds', 'analysis'],
      ['durationSeconds', 'transcript', 'caller', 'analysis'],
    ]);
  });
});

describe('the cut payload', () => {
  const payload = JSON.stringify({ id: 'evt_1', type: 'conversation_ended', data: DATA });

  it('is the payload byte for byte when nothing is excluded', () => {
    expect(withoutFields(payload, [])).toBe(payload);
  });

  it('is serialised once per event and set of fields, whatever their order, across webhooks', () => {
    const shapes = createPayloadShapes();
    const stringify = vi.spyOn(JSON, 'stringify');
    try {
      const bodies = [
        shapes('evt_1', payload, ['transcript', 'caller.phone']),
        shapes('evt_1', payload, ['caller.phone', 'transcript']),
        shapes('evt_1', payload, ['transcript', 'caller.phone']),
      ];
      expect(stringify).toHaveBeenCalledTimes(1);
      expect(new Set(bodies).size).toBe(1);
      shapes('evt_1', payload, ['transcript']);
      shapes('evt_2', payload, ['transcript']);
      expect(stringify).toHaveBeenCalledTimes(3);
    } finally {
      stringify.mockRestore();
    }
  });

  it('forgets the oldest bodies beyond its bound', () => {
    const shapes = createPayloadShapes(payload.length * 2);
    const parse = vi.spyOn(JSON, 'parse');
    try {
      for (const id of ['evt_1', 'evt_2', 'evt_3', 'evt_1']) shapes(id, payload, ['transcript']);
      expect(parse).toHaveBeenCalledTimes(4);
      shapes('evt_1', payload, ['transcript']);
      expect(parse).toHaveBeenCalledTimes(4);
    } finally {
      parse.mockRestore();
    }
  });
});
