import { loadConfig } from '@fpa/config';
import { OtpService, type AuthSessionView } from '@fpa/challenge-kit';
import { describeChallengeMethodContract } from '@fpa/challenge-kit/testing';
import { FixedClock } from '@fpa/oauth-core';
import { SmsOtpChallenge } from './sms-otp.challenge';

const config = loadConfig('standalone', { KEY_ENCRYPTION_KEY: Buffer.alloc(32, 3).toString('base64url') });
const codeOf = (text: string): string => /code is (\d+)/.exec(text)![1];
const session = (over: Partial<AuthSessionView> = {}): AuthSessionView => ({ authSession: 's', clientId: 'c', mode: 'public', user: undefined, verifiedMethods: [], loginHint: undefined, ...over });

describeChallengeMethodContract('sms_otp', () => {
  const clock = new FixedClock(1_800_000_000_000);
  const method = new SmsOtpChallenge(new OtpService(config), clock);
  return {
    method,
    session: () => session({ loginHint: '+44 7700 900123' }),
    beginParams: () => ({}),
    correctAnswer: async (p) => ({ code: codeOf(p.delivery!.text) }),
    wrongAnswer: async (p) => ({ code: codeOf(p.delivery!.text) === '000000' ? '111111' : '000000' }),
    secrets: async (p) => [codeOf(p.delivery!.text)],
    advanceClock: (s) => clock.advance(s),
  };
});

describe('sms_otp specifics', () => {
  const clock = new FixedClock(1_800_000_000_000);
  const method = new SmsOtpChallenge(new OtpService(config), clock);

  it('declares RFC 8176 sms + otp and its parameters', () => {
    expect(method.id).toBe('sms_otp');
    expect([...method.amr]).toEqual(['sms', 'otp']);
    expect([...method.parameters]).toEqual(['phone', 'login_hint', 'code']);
  });

  it('normalises the number to E.164, masks it in the reply and hands the core an SMS to deliver', async () => {
    const step = await method.begin(session(), { phone: ' +44 (7700) 900-123 ' });
    expect(step).toMatchObject({
      kind: 'prompt',
      state: { to: '+447700900123' },
      reply: { status: 'code_sent', destination: '+44******0123', code_length: 6 },
      expiresInSeconds: 300,
      delivery: { channel: 'sms', to: '+447700900123' },
    });
    if (step.kind !== 'prompt') throw new Error('prompt expected');
    expect(step.delivery!.text).toMatch(/code is \d{6}\b/);
    expect(step.delivery).not.toHaveProperty('subject');
  });

  it('takes the phone parameter first, then login_hint, then the session user’s phone', async () => {
    const user = { id: 'u', email: null, phone: '+15551234567' };
    await expect(method.begin(session({ loginHint: '+33612345678', user }), { phone: '+4915112345678' })).resolves.toMatchObject({ state: { to: '+4915112345678' } });
    await expect(method.begin(session({ loginHint: '+33612345678', user }), {})).resolves.toMatchObject({ state: { to: '+33612345678' } });
    await expect(method.begin(session({ user }), {})).resolves.toMatchObject({ state: { to: '+15551234567' } });
  });

  it('refuses a missing or malformed number as invalid_input (the core answers invalid_request)', async () => {
    for (const [s, params] of [
      [session(), {}],
      [session(), { phone: '07700 900123' }],
      [session(), { phone: '+0123456789' }],
      [session(), { phone: '+1 555' }],
      [session(), { phone: 'tel:+447700900123' }],
      [session({ loginHint: 'alice@example.com' }), {}],
      [session({ user: { id: 'u', email: 'a@example.com', phone: null } }), {}],
    ] as const) {
      await expect(method.begin(s, params)).resolves.toMatchObject({ kind: 'rejected', reason: 'invalid_input' });
    }
  });

  it('a verified answer names the phone as subject and verified value', async () => {
    const step = await method.begin(session(), { phone: '+447700900123' });
    if (step.kind !== 'prompt') throw new Error('prompt expected');
    const state = JSON.parse(JSON.stringify(step.state)) as typeof step.state;
    await expect(method.answer(session(), state, { code: ` ${codeOf(step.delivery!.text)} ` })).resolves.toEqual({
      kind: 'verified',
      subject: { type: 'phone', value: '+447700900123' },
      amr: ['sms', 'otp'],
      verifiedValue: '+447700900123',
    });
  });

  it('each begin issues a fresh code: an earlier code does not answer a later challenge', async () => {
    const first = await method.begin(session(), { phone: '+447700900123' });
    const second = await method.begin(session(), { phone: '+447700900123' });
    if (first.kind !== 'prompt' || second.kind !== 'prompt') throw new Error('prompt expected');
    const a = codeOf(first.delivery!.text);
    const b = codeOf(second.delivery!.text);
    if (a !== b) await expect(method.answer(session(), second.state, { code: a })).resolves.toMatchObject({ kind: 'rejected', reason: 'invalid_code' });
    expect(second.state.salt).not.toBe(first.state.salt);
  });
});
