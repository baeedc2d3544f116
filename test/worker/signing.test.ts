import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { generateSigningSecret } from '../../src/webhooks/secrets.js';
import { signatureHeader, webhookHeaders } from '../../src/worker/signing.js';

describe('Standard Webhooks signatures', () => {
  it('match the test vector published with the specification', () => {
    // From the Standard Webhooks specification's reference test suite.
    const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
    const header = signatureHeader([secret], 'msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, '{"test": 2432232314}');
    expect(header).toBe('v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=');
  });

  it('verify with the stock standardwebhooks library, and fail it when the body changes', () => {
    const secret = generateSigningSecret();
    const body = JSON.stringify({ id: 'evt_x', type: 'conversation_ended', data: { seconds: 42 } });
    const headers = webhookHeaders([secret], 'evt_x', body);
    expect(new Webhook(secret).verify(body, headers)).toEqual(JSON.parse(body));
    expect(() => new Webhook(secret).verify(body.replace('42', '43'), headers)).toThrow();
    expect(() => new Webhook(generateSigningSecret()).verify(body, headers)).toThrow();
  });

  it('carry one signature per valid secret, each verifying on its own', () => {
    const [current, previous] = [generateSigningSecret(), generateSigningSecret()];
    const body = '{"id":"evt_y"}';
    const headers = webhookHeaders([current, previous], 'evt_y', body);
    expect(headers['webhook-signature'].split(' ')).toHaveLength(2);
    expect(() => new Webhook(current).verify(body, headers)).not.toThrow();
    expect(() => new Webhook(previous).verify(body, headers)).not.toThrow();
  });
});
