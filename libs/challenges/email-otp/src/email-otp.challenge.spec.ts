import { loadConfig } from '@fpa/config';
import { OtpService } from '@fpa/challenge-kit';
import { describeChallengeMethodContract } from '@fpa/challenge-kit/testing';
import { FixedClock } from '@fpa/oauth-core';
import { EmailOtpChallenge } from './email-otp.challenge';

const config = loadConfig('standalone', { KEY_ENCRYPTION_KEY: Buffer.alloc(32, 3).toString('base64url') });

describeChallengeMethodContract('email_otp', () => {
  const clock = new FixedClock(1_800_000_000_000);
  const method = new EmailOtpChallenge(new OtpService(config), clock);
  const codeOf = (text: string): string => /code is (\d+)/.exec(text)![1];
  return {
    method,
    session: () => ({ authSession: 's', clientId: 'c', mode: 'public', user: undefined, verifiedMethods: [], loginHint: 'user@example.com' }),
    beginParams: () => ({}),
    correctAnswer: async (p) => ({ code: codeOf(p.delivery!.text) }),
    wrongAnswer: async (p) => ({ code: codeOf(p.delivery!.text) === '000000' ? '111111' : '000000' }),
    secrets: async (p) => [codeOf(p.delivery!.text)],
    advanceClock: (s) => clock.advance(s),
  };
});

describe('email_otp specifics', () => {
  const method = new EmailOtpChallenge(new OtpService(config), new FixedClock(1_800_000_000_000));
  it('normalises the address, masks it in the reply and needs an address', async () => {
    const step = await method.begin({ authSession: 's', clientId: 'c', mode: 'public', user: undefined, verifiedMethods: [], loginHint: undefined }, { email: ' Bob.Smith@Example.COM ' });
    expect(step).toMatchObject({ kind: 'prompt', state: { to: 'bob.smith@example.com' }, reply: { destination: 'b******h@example.com' }, delivery: { to: 'bob.smith@example.com' } });
    const none = await method.begin({ authSession: 's', clientId: 'c', mode: 'public', user: undefined, verifiedMethods: [], loginHint: undefined }, {});
    expect(none).toMatchObject({ kind: 'rejected', reason: 'invalid_input' });
  });
});
