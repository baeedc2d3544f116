import { Webhook as Verifier } from 'standardwebhooks';
import { beforeAll, describe, expect, it } from 'vitest';
import { MAX_SIGNING_SECRETS } from '../../src/webhooks/store.js';
import { createTestApp, type TestApp } from '../support/app.js';
import { conversationEnded, PUBLISH, REGISTER, validWebhook } from '../support/operations.js';
import { createReceiver, type Received, sleep } from '../support/receiver.js';

let app: TestApp;
beforeAll(async () => {
  app = await createTestApp();
  app.startWorker();
});

const ROTATE = `mutation($id: ID!, $keep: Int) { rotateWebhookSecret(id: $id, expireCurrentInSeconds: $keep) { secret } }`;

/** A webhook on a real receiver, and a way to rotate its secret and to receive its next delivery. */
async function rotatingWebhook(agentId: string) {
  const { apiKey } = await app.newWorkspace();
  const receiver = await createReceiver();
  const res = await app.graphql(REGISTER, {
    apiKey,
    variables: { input: validWebhook({ url: receiver.url, agentId }) },
  });
  expect(res.errors).toBeUndefined();
  const { id, secret } = (res.data as { registerWebhook: { id: string; secret: string } }).registerWebhook;
  return {
    first: secret,
    async rotate(keep: number): Promise<string> {
      const rotated = await app.graphql(ROTATE, { apiKey, variables: { id, keep } });
      expect(rotated.errors).toBeUndefined();
      return rotated.data?.rotateWebhookSecret.secret as string;
    },
    async next(): Promise<Received> {
      const count = receiver.received.length;
      const published = await app.graphql(PUBLISH, { apiKey, variables: { input: conversationEnded(agentId) } });
      expect(published.errors).toBeUndefined();
      await receiver.waitFor(count + 1, 15_000);
      return receiver.received[count] as Received;
    },
  };
}

/** Which of `secrets` the stock standardwebhooks library accepts the delivery with. */
function verifiedBy(delivery: Received, secrets: string[]): boolean[] {
  return secrets.map((secret) => {
    try {
      new Verifier(secret).verify(delivery.body, delivery.headers as Record<string, string>);
      return true;
    } catch {
      return false;
    }
  });
}

describe('rotateWebhookSecret, again within the overlap', () => {
  it('keeps every earlier secret signing until its own expiry: s1, s2 and s3 all verify', async () => {
    const hook = await rotatingWebhook('twice');
    const s1 = hook.first;
    const s2 = await hook.rotate(3600);
    const s3 = await hook.rotate(3600);
    const delivery = await hook.next();
    expect(String(delivery.headers['webhook-signature']).split(' ')).toHaveLength(3);
    expect(verifiedBy(delivery, [s1, s2, s3])).toEqual([true, true, true]);
  });

  it('at 0 stops only the current secret: s2 stops at once, s1 keeps the hour it was promised', async () => {
    const hook = await rotatingWebhook('then-zero');
    const s1 = hook.first;
    const s2 = await hook.rotate(3600);
    const s3 = await hook.rotate(0);
    expect(verifiedBy(await hook.next(), [s1, s2, s3])).toEqual([true, false, true]);
  });

  it('a secret with a shorter overlap stops at its own expiry while a later one goes on', async () => {
    const hook = await rotatingWebhook('staggered');
    const s1 = hook.first;
    const s2 = await hook.rotate(2);
    const s3 = await hook.rotate(3600);
    expect(verifiedBy(await hook.next(), [s1, s2, s3])).toEqual([true, true, true]);
    await sleep(2500);
    expect(verifiedBy(await hook.next(), [s1, s2, s3])).toEqual([false, true, true]);
  });

  it(`signs with at most ${MAX_SIGNING_SECRETS} secrets at once, the newest`, async () => {
    const hook = await rotatingWebhook('many');
    const secrets = [hook.first];
    for (let i = 0; i < MAX_SIGNING_SECRETS + 1; i++) secrets.push(await hook.rotate(3600));
    const delivery = await hook.next();
    expect(String(delivery.headers['webhook-signature']).split(' ')).toHaveLength(MAX_SIGNING_SECRETS);
    const expected = secrets.map((_, i) => i >= secrets.length - MAX_SIGNING_SECRETS);
    expect(verifiedBy(delivery, secrets)).toEqual(expected);
  });
});
