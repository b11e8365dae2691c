import { DEFAULT_RECOVERY } from './acr-policy';
import { decideEnrolment, decideRecovery, provisionalUse } from './enrolment';
import { credentialRank } from './events';
import { event, PROFILES } from './fixtures';

const PASSKEY = credentialRank(PROFILES.passkey);
const TOTP = credentialRank(PROFILES.totp);

describe('decideEnrolment (finding 1)', () => {
  it('needs a fresh authentication at all', () => {
    expect(decideEnrolment([], [], PASSKEY)).toEqual({ allowed: false, reason: 'no_fresh_authentication', needRank: 1 });
  });

  it("an account's first credential: any fresh factor; stronger than it, so provisional", () => {
    expect(decideEnrolment([], [event('email_otp', 1)], PASSKEY)).toEqual({ allowed: true, basisRank: 1, provisional: true });
    expect(decideEnrolment([], [event('email_otp', 1)], TOTP)).toEqual({ allowed: true, basisRank: 1, provisional: true });
  });

  it('a user who holds a passkey enrols another only after a fresh passkey (not an e-mail code, not TOTP)', () => {
    const held = [{ rank: PASSKEY }];
    expect(decideEnrolment(held, [event('email_otp', 1)], PASSKEY)).toMatchObject({ allowed: false, reason: 'weaker_than_held', needRank: 3 });
    expect(decideEnrolment(held, [event('email_otp', 1), event('totp', 2)], TOTP)).toMatchObject({ allowed: false, reason: 'weaker_than_held' });
    expect(decideEnrolment(held, [event('passkey', 1)], PASSKEY)).toEqual({ allowed: true, basisRank: 3, provisional: false });
    expect(decideEnrolment(held, [event('passkey', 1, { uv: true })], TOTP)).toEqual({ allowed: true, basisRank: 4, provisional: false });
  });

  it('a provisional credential holds the bar at what enrolled it', () => {
    expect(decideEnrolment([{ rank: 1 }], [event('email_otp', 1)], PASSKEY)).toMatchObject({ allowed: true, provisional: true });
  });
});

describe('decideRecovery', () => {
  it('by default every identifier of the account must be fresh; the replacement is provisional', () => {
    expect(decideRecovery(DEFAULT_RECOVERY, ['email', 'phone'], [event('email_otp', 1)])).toMatchObject({ allowed: false });
    expect(decideRecovery(DEFAULT_RECOVERY, ['email', 'phone'], [event('email_otp', 1), event('sms_otp', 2)])).toEqual({ allowed: true, basisRank: 1, provisional: true });
    expect(decideRecovery(DEFAULT_RECOVERY, ['email'], [event('email_otp', 1)])).toMatchObject({ allowed: true });
  });

  it('a client may require more, or turn recovery off', () => {
    expect(decideRecovery({ ...DEFAULT_RECOVERY, requires: { factors: 2 } }, ['email'], [event('email_otp', 1)])).toMatchObject({ allowed: false });
    expect(decideRecovery({ ...DEFAULT_RECOVERY, enabled: false }, ['email'], [event('email_otp', 1)])).toMatchObject({ allowed: false });
  });
});

describe('provisionalUse', () => {
  const cred = { provisional: true, enrolledFlow: 'f1', trustedAfterMs: null };
  it('nothing counts in the flow that enrolled it, provisional or not', () => {
    expect(provisionalUse(cred, 'f1', 0)).toEqual({ counted: false, promote: false });
    expect(provisionalUse({ ...cred, provisional: false }, 'f1', 0)).toEqual({ counted: false, promote: false });
  });
  it('a later flow promotes it', () => {
    expect(provisionalUse(cred, 'f2', 0)).toEqual({ counted: true, promote: true });
    expect(provisionalUse({ ...cred, provisional: false }, 'f2', 0)).toEqual({ counted: true, promote: false });
  });
  it('not before a recovery hold ends', () => {
    expect(provisionalUse({ ...cred, trustedAfterMs: 1000 }, 'f2', 999)).toEqual({ counted: false, promote: false });
    expect(provisionalUse({ ...cred, trustedAfterMs: 1000 }, 'f2', 1000)).toEqual({ counted: true, promote: true });
  });
});
