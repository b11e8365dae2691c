import { ACR, acrPolicyFor, acrPolicyProblems, requestedAcrs } from './acr-policy';
import { assess, factorCount } from './assess';
import { event, PROFILES } from './fixtures';

const ALL = ['passkey', 'email_otp', 'sms_otp', 'totp'];
const policy = acrPolicyFor(null, ALL);
const methods = Object.values(PROFILES);
const NOW = 1_800_000_000_000;
const at = (secondsAgo: number): number => NOW - secondsAgo * 1000;

const run = (acr: string, events: ReturnType<typeof event>[], maxAgeSeconds?: number) => assess({ policy, requested: [acr], events, nowMs: NOW, maxAgeSeconds, methods });

describe('assess: what each built-in acr requires (README "Assurance")', () => {
  it('1fa: any one counted authentication', () => {
    expect(run(ACR.oneFactor, []).satisfied).toBeUndefined();
    for (const m of ['email_otp', 'sms_otp', 'passkey', 'totp'] as const) expect(run(ACR.oneFactor, [event(m, at(1))]).satisfied?.acr).toBe(ACR.oneFactor);
  });

  it('email / phone: the identifier verified', () => {
    expect(run(ACR.email, [event('email_otp', at(1))]).satisfied?.acr).toBe(ACR.email);
    expect(run(ACR.email, [event('sms_otp', at(1)), event('passkey', at(1), { uv: true })]).satisfied).toBeUndefined();
    expect(run(ACR.phone, [event('sms_otp', at(1))]).satisfied?.acr).toBe(ACR.phone);
  });

  it('mfa: two independent factors, or a passkey that verified the user — never a passkey without UV alone (finding 3)', () => {
    expect(run(ACR.mfa, [event('passkey', at(1))]).satisfied).toBeUndefined();
    expect(run(ACR.mfa, [event('passkey', at(1), { uv: true })]).satisfied?.amr).toEqual(['hwk', 'user', 'mfa']);
    expect(run(ACR.mfa, [event('email_otp', at(2)), event('totp', at(1))]).satisfied?.amr).toEqual(['otp', 'email', 'mfa']);
    expect(run(ACR.mfa, [event('email_otp', at(2)), event('sms_otp', at(1))]).satisfied).toBeDefined();
    expect(run(ACR.mfa, [event('email_otp', at(2)), event('passkey', at(1))]).satisfied).toBeDefined();
  });

  it('mfa: two events of one factor class are one factor', () => {
    expect(run(ACR.mfa, [event('email_otp', at(3)), event('email_otp', at(1))]).satisfied).toBeUndefined();
    expect(factorCount([event('totp', 1), event('totp', 2)])).toBe(1);
    expect(factorCount([event('passkey', 1, { uv: true }), event('passkey', 2)])).toBe(2);
  });

  it('phr: a phishing-resistant authentication, with or without UV', () => {
    expect(run(ACR.phr, [event('email_otp', at(2)), event('totp', at(1)), event('sms_otp', at(1))]).satisfied).toBeUndefined();
    expect(run(ACR.phr, [event('passkey', at(1))]).satisfied?.acr).toBe(ACR.phr);
  });

  it('uncounted events (a provisional credential) take no part', () => {
    expect(run(ACR.phr, [event('email_otp', at(2)), event('passkey', at(1), { counted: false })]).satisfied).toBeUndefined();
    expect(run(ACR.mfa, [event('email_otp', at(2)), event('totp', at(1), { counted: false })]).satisfied).toBeUndefined();
  });
});

describe('assess: acr, amr and auth_time describe the same events (finding 4)', () => {
  it('max_age: a passkey of any age does not lend hwk to a fresh e-mail code', () => {
    const events = [event('passkey', at(600), { uv: true }), event('email_otp', at(2))];
    expect(run(ACR.phr, events, 5).satisfied).toBeUndefined();
    const oneFactor = run(ACR.oneFactor, events, 5).satisfied!;
    expect(oneFactor.amr).toEqual(['otp', 'email']);
    expect(oneFactor.authTimeMs).toBe(at(2));
  });

  it('auth_time is the oldest of the satisfying events, amr exactly theirs', () => {
    const events = [event('sms_otp', at(300)), event('email_otp', at(100)), event('totp', at(10))];
    const s = run(ACR.mfa, events).satisfied!;
    // The freshest pair: e-mail at -100 s and TOTP at -10 s; the SMS is not part of it.
    expect(s.events.map((e) => e.method).sort()).toEqual(['email_otp', 'totp']);
    expect(s.authTimeMs).toBe(at(100));
    expect(s.amr).not.toContain('sms');
    expect(s.amr).toContain('mfa');
  });

  it('future events (clock skew between replicas aside) never count', () => {
    expect(run(ACR.oneFactor, [event('email_otp', NOW + 60_000)]).satisfied).toBeUndefined();
  });
});

describe('assess: open methods are those that can still help', () => {
  it('nothing yet: mfa can be reached by every method; phr only by a passkey', () => {
    expect(run(ACR.mfa, []).open).toEqual(ALL);
    expect(run(ACR.phr, []).open).toEqual(['passkey']);
    expect(run(ACR.email, []).open).toEqual(['email_otp']);
  });

  it('after an e-mail code, mfa needs another class: e-mail itself is no longer offered', () => {
    expect(run(ACR.mfa, [event('email_otp', at(1))]).open).toEqual(['passkey', 'sms_otp', 'totp']);
  });

  it('several requested acrs: the union, in the policy order', () => {
    const a = assess({ policy, requested: [ACR.phr, ACR.phone], events: [], nowMs: NOW, methods });
    expect(a.open).toEqual(['passkey', 'sms_otp']);
  });

  it('a client policy narrows what is offered', () => {
    const narrow = acrPolicyFor({ methods: ['email_otp', 'totp'] }, ALL);
    expect(assess({ policy: narrow, requested: [ACR.mfa], events: [], nowMs: NOW, methods }).open).toEqual(['email_otp', 'totp']);
    expect(assess({ policy: narrow, requested: [ACR.phr], events: [], nowMs: NOW, methods }).open).toEqual([]);
  });

  it('FED-16: for a federating client’s callers only explicitly listed methods (none by default), never recovery', () => {
    expect(acrPolicyFor(null, ALL, { federated: true })).toMatchObject({ methods: [], recovery: { enabled: false } });
    expect(acrPolicyFor({ recovery: { enabled: true } }, ALL, { federated: true }).recovery.enabled).toBe(false);
    expect(acrPolicyFor({ methods: ['email_otp', 'unknown'] }, ALL, { federated: true }).methods).toEqual(['email_otp']);
    // First-party callers are unchanged: every enabled method, recovery on.
    expect(acrPolicyFor(null, ALL)).toMatchObject({ methods: [...ALL], recovery: { enabled: true } });
  });

  it('web_methods: what the browser offers (FIPA-21: a request the app cannot complete natively can be completed there)', () => {
    const raw = { methods: ['sms_otp'], web_methods: ['email_otp', 'passkey'] };
    expect(acrPolicyProblems(raw)).toEqual([]);
    expect(acrPolicyProblems({ web_methods: 'passkey' })).toEqual(['challenge_policy.web_methods must be a list of method ids']);
    expect(assess({ policy: acrPolicyFor(raw, ALL), requested: [ACR.phr], events: [], nowMs: NOW, methods }).open).toEqual([]);
    expect(assess({ policy: acrPolicyFor(raw, ALL, { browser: true }), requested: [ACR.phr], events: [], nowMs: NOW, methods }).open).toEqual(['passkey']);
    // Without web_methods the browser offers what the app does.
    expect(acrPolicyFor({ methods: ['sms_otp'] }, ALL, { browser: true }).methods).toEqual(['sms_otp']);
  });
});

describe('client policies', () => {
  it("issue 3's method-set shape still works, with the same meaning", () => {
    const p = acrPolicyFor({ acr: { 'urn:example:strong': [['email_otp', 'totp']] } }, ALL);
    const strong = (events: ReturnType<typeof event>[]) => assess({ policy: p, requested: ['urn:example:strong'], events, nowMs: NOW, methods }).satisfied;
    expect(strong([event('email_otp', at(2)), event('totp', at(1))])).toBeDefined();
    expect(strong([event('email_otp', at(2)), event('sms_otp', at(1))])).toBeUndefined();
  });

  it('rules over proofs: factors, phishing resistance, verified identifiers, amr', () => {
    const p = acrPolicyFor({ acr: { 'urn:example:bank': { factors: 2, phishing_resistant: true, verified: ['phone'], amr: ['hwk'] } } }, ALL);
    const bank = (events: ReturnType<typeof event>[]) => assess({ policy: p, requested: ['urn:example:bank'], events, nowMs: NOW, methods }).satisfied;
    expect(bank([event('passkey', at(1), { uv: true })])).toBeUndefined();
    expect(bank([event('passkey', at(2)), event('sms_otp', at(1))])?.amr).toEqual(['hwk', 'user', 'otp', 'sms', 'mfa']);
  });

  it('refuses malformed policies with a reason for each problem', () => {
    expect(acrPolicyProblems({ acr: { x: [] } })).toHaveLength(1);
    expect(acrPolicyProblems({ acr: { x: { factors: 9 } } })[0]).toMatch(/factors/);
    expect(acrPolicyProblems({ acr: { x: {} } })[0]).toMatch(/require something/);
    expect(acrPolicyProblems({ recovery: { hold_seconds: -1 } })[0]).toMatch(/hold_seconds/);
    expect(acrPolicyProblems({ nope: 1 })[0]).toMatch(/unknown/);
    expect(acrPolicyProblems({ acr: { x: [['email_otp']] }, recovery: { enabled: false, requires: { verified: ['email', 'phone'] } } })).toEqual([]);
    expect(() => acrPolicyFor({ acr: 3 }, ALL)).toThrow();
  });

  it('acr_values: unknown values, including Object.prototype names, are invalid_request (finding 6)', () => {
    for (const v of ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'urn:nope']) {
      expect(() => requestedAcrs(policy, v)).toThrow(expect.objectContaining({ code: 'invalid_request' }));
    }
    expect(requestedAcrs(policy, undefined)).toEqual([ACR.oneFactor]);
    expect(requestedAcrs(policy, `${ACR.phr}  ${ACR.mfa} ${ACR.phr}`)).toEqual([ACR.phr, ACR.mfa]);
  });
});

describe('assess: max_age and the request itself', () => {
  it('authentications since the request began count even with max_age=0; older ones need max_age', () => {
    const requestedAtMs = NOW - 30_000;
    const events = [event('email_otp', NOW - 10_000)];
    expect(assess({ policy, requested: [ACR.oneFactor], events, nowMs: NOW, maxAgeSeconds: 0, requestedAtMs, methods }).satisfied).toBeDefined();
    expect(assess({ policy, requested: [ACR.oneFactor], events, nowMs: NOW, maxAgeSeconds: 0, requestedAtMs: NOW - 5_000, methods }).satisfied).toBeUndefined();
    expect(assess({ policy, requested: [ACR.oneFactor], events, nowMs: NOW, maxAgeSeconds: 0, methods }).satisfied).toBeUndefined();
  });
});
