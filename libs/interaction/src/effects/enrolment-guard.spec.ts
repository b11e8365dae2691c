import type { User } from '@fpa/users';
import { Core } from '../testing/core';
import { NOW, otpMethod, passkeyMethod, totpMethod } from '../testing/fakes';
import type { Turn } from '../loop/turn';

const email = otpMethod('email_otp', 'email');
const sms = otpMethod('sms_otp', 'sms');
const totp = totpMethod();
const passkey = passkeyMethod();

/** Issue 7 finding 1: the enrolment rule as the core applies it, over the session's events and the user's credentials. */
describe('EnrolmentGuard', () => {
  let core: Core;
  let ann: User;
  beforeEach(() => {
    core = new Core({ methods: [email, sms, totp, passkey] });
    ann = core.users.addUser({ email: 'ann@example.com' });
  });
  afterEach(async () => core.close());

  const session = (turn: Turn): string => turn.caller.session.authSession;
  const by = (turn: Turn, method: 'email_otp' | 'sms_otp' | 'totp' | 'passkey', o: { ageSeconds?: number; userId?: string; counted?: boolean; factors?: 1 | 2 } = {}): void =>
    core.users.recorded(session(turn), o.userId ?? ann.id, {
      method,
      at: new Date(NOW - (o.ageSeconds ?? 10) * 1000),
      flowId: turn.flow.flowId,
      phishingResistant: method === 'passkey',
      credentialId: method === 'totp' || method === 'passkey' ? `${method}-cred` : null,
      verifies: method === 'email_otp' ? 'email' : method === 'sms_otp' ? 'phone' : null,
      counted: o.counted ?? true,
      factors: o.factors ?? 1,
    });

  it('needs a user this session verified', async () => {
    const turn = await core.turn();
    await expect(core.enrolment.decide(turn, totp, 'authentication')).rejects.toMatchObject({ code: 'invalid_request' });
  });

  it('a first credential needs any fresh authentication, and is provisional when stronger than it', async () => {
    const turn = await core.turn();
    by(turn, 'email_otp');
    await expect(core.enrolment.decide(turn, passkey, 'authentication')).resolves.toEqual({ allowed: true, basisRank: 1, provisional: true, userId: ann.id });
  });

  it('a passkey holder cannot enrol on an e-mail code; a fresh passkey allows it', async () => {
    const turn = await core.turn();
    core.users.hold(ann.id, 'passkey', 'ann-key');
    by(turn, 'email_otp');
    await expect(core.enrolment.decide(turn, totp, 'authentication')).resolves.toMatchObject({ allowed: false, reason: 'weaker_than_held', needRank: 3 });
    by(turn, 'passkey');
    turn.events = undefined;
    await expect(core.enrolment.decide(turn, totp, 'authentication')).resolves.toMatchObject({ allowed: true, basisRank: 3, provisional: false });
  });

  it('a provisional credential raises the bar only to what enrolled it', async () => {
    const turn = await core.turn();
    core.users.hold(ann.id, 'passkey', 'provisional-key', { provisional: true, basisRank: 1 });
    by(turn, 'email_otp');
    await expect(core.enrolment.decide(turn, totp, 'authentication')).resolves.toMatchObject({ allowed: true });
  });

  it.each([
    ['older than ENROLMENT_MAX_AGE_SECONDS', { ageSeconds: 301 }],
    ['not counted (a provisional credential)', { counted: false }],
  ])('ignores an authentication %s', async (_name, o) => {
    const turn = await core.turn();
    by(turn, 'email_otp', o);
    await expect(core.enrolment.decide(turn, totp, 'authentication')).resolves.toMatchObject({ allowed: false, reason: 'no_fresh_authentication' });
  });

  it('recovery needs every identifier the account verified, fresh', async () => {
    ann = core.users.addUser({ ...ann, phone: '+447700900123', phoneVerified: true });
    const turn = await core.turn();
    core.users.hold(ann.id, 'passkey', 'lost-key');
    by(turn, 'email_otp');
    await expect(core.enrolment.decide(turn, passkey, 'recovery')).resolves.toMatchObject({ allowed: false });
    by(turn, 'sms_otp');
    turn.events = undefined;
    await expect(core.enrolment.decide(turn, passkey, 'recovery')).resolves.toMatchObject({ allowed: true, provisional: true });
  });

  it("recovery is refused when the client's policy turns it off", async () => {
    core = new Core({ methods: [email, passkey], client: { challengePolicy: { recovery: { enabled: false } } } });
    ann = core.users.addUser({ email: 'ann@example.com' });
    const turn = await core.turn();
    by(turn, 'email_otp');
    await expect(core.enrolment.decide(turn, passkey, 'recovery')).resolves.toMatchObject({ allowed: false });
  });
});
