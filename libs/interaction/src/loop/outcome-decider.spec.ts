import { ACR } from '@fpa/assurance';
import { StoreKeys } from '@fpa/store';
import { Core } from '../testing/core';
import { NOW, otpMethod, passkeyMethod, totpMethod } from '../testing/fakes';
import { profileOf } from './session-facts.service';
import type { Turn } from './turn';

const CHALLENGE = 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM';

describe('OutcomeDecider and SessionFacts: code, need_more or redirect_to_web', () => {
  let core: Core;
  beforeEach(() => (core = new Core({ methods: [otpMethod('email_otp', 'email'), otpMethod('sms_otp', 'sms'), totpMethod(), passkeyMethod()] })));
  afterEach(async () => core.close());

  const session = (turn: Turn): string => turn.caller.session.authSession;
  const byEmail = (turn: Turn, userId: string, options: { ageSeconds?: number; flowId?: string | null; counted?: boolean } = {}): void =>
    core.users.recorded(session(turn), userId, {
      method: 'email_otp',
      at: new Date(NOW - (options.ageSeconds ?? 10) * 1000),
      flowId: options.flowId === undefined ? turn.flow.flowId : options.flowId,
      verifies: 'email',
      counted: options.counted ?? true,
    });

  describe('decide', () => {
    it('satisfied → a code carrying the acr, amr and auth_time of the event that satisfied it', async () => {
      const turn = await core.turn({ request: { acrValues: ACR.email } });
      const ann = core.users.addUser();
      byEmail(turn, ann.id, { ageSeconds: 42 });
      await expect(core.decider.decide(turn, 'method_required')).resolves.toMatchObject({ kind: 'code', authSession: session(turn) });
      expect(core.codes.issued).toEqual([expect.objectContaining({ userId: ann.id, acr: ACR.email, amr: ['otp', 'email'], authTime: new Date(NOW - 42_000) })]);
    });

    it('not satisfied → need_more with the methods that can still help, in policy order', async () => {
      const turn = await core.turn({ request: { acrValues: ACR.mfa } });
      byEmail(turn, core.users.addUser().id);
      await expect(core.decider.decide(turn, 'additional_method_required', { completed: 'email_otp' })).resolves.toEqual({
        kind: 'need_more',
        authSession: session(turn),
        status: 'additional_method_required',
        challenge: { completed: 'email_otp' },
        methods: ['sms_otp', 'totp', 'passkey'],
      });
      expect(core.codes.issued).toEqual([]);
    });

    it('an event older than max_age, or not counted, satisfies nothing', async () => {
      const turn = await core.turn({ request: { acrValues: ACR.email, maxAge: 60 } });
      const ann = core.users.addUser();
      byEmail(turn, ann.id, { ageSeconds: 61 });
      byEmail(turn, ann.id, { ageSeconds: 1, counted: false });
      await expect(core.decider.decide(turn, 'method_required')).resolves.toMatchObject({ kind: 'need_more', methods: ['email_otp'] });
    });
  });

  describe('needMore', () => {
    it('offers only methods that apply to the session now (totp and passkey need a user)', async () => {
      const turn = await core.turn({ request: { acrValues: ACR.oneFactor } });
      await expect(core.decider.needMore(turn, 'method_required')).resolves.toMatchObject({ kind: 'need_more', methods: ['email_otp', 'sms_otp'] });
    });

    it('no method can run and nothing is in progress → redirect_to_web with a pushed request bound to the flow (FIPA-21/22)', async () => {
      const turn = await core.turn({ request: { acrValues: ACR.phr, codeChallenge: CHALLENGE, loginHint: 'ann@example.com' } });
      const outcome = await core.decider.needMore(turn, 'method_required');
      expect(outcome).toEqual({ kind: 'redirect_to_web', authSession: session(turn), requestUri: expect.stringMatching(/^urn:ietf:params:oauth:request_uri:[\w-]{43}$/), expiresIn: 60 });
      const reference = (outcome as { requestUri: string }).requestUri.split(':').pop()!;
      // The flow's validated request itself (PAR semantics), the app's key and the session the browser continues.
      await expect(core.store.getJson(StoreKeys.pushedRequest(reference))).resolves.toMatchObject({
        request: { clientId: core.client.id, responseType: 'code', codeChallenge: CHALLENGE, acrValues: ACR.phr, loginHint: 'ann@example.com', dpopJkt: 'jkt-1' },
        authSession: session(turn),
      });
    });

    it('without a code_challenge there is nothing to push: redirect_to_web alone', async () => {
      const turn = await core.turn({ mode: 'device', request: { acrValues: ACR.phr } });
      await expect(core.decider.needMore(turn, 'method_required')).resolves.toEqual({ kind: 'redirect_to_web', authSession: session(turn) });
    });

    it('a challenge in progress keeps the flow native even when no method could start now', async () => {
      const turn = await core.turn({ request: { acrValues: ACR.phr }, active: core.active('email_otp') });
      await expect(core.decider.needMore(turn, 'invalid_code', { attempts_remaining: 2 })).resolves.toMatchObject({ kind: 'need_more', status: 'invalid_code', methods: [] });
    });

    it('a method whose every credential was enrolled in this flow is not offered; one from an earlier flow is', async () => {
      const turn = await core.turn({ request: { acrValues: ACR.phr } });
      const ann = core.users.addUser();
      byEmail(turn, ann.id);
      core.users.hold(ann.id, 'passkey', 'new-key', { enrolledFlow: turn.flow.flowId, provisional: true, basisRank: 1 });
      await expect(core.decider.needMore(turn, 'enrolled')).resolves.toMatchObject({ kind: 'need_more', methods: [] });

      core.users.hold(ann.id, 'passkey', 'old-key', { enrolledFlow: 'an-earlier-flow' });
      await expect(core.decider.needMore(turn, 'method_required')).resolves.toMatchObject({ kind: 'need_more', methods: ['passkey'] });
    });
  });

  describe('SessionFacts', () => {
    it('reads the events once per turn, newest first, with what each proved', async () => {
      const turn = await core.turn();
      const ann = core.users.addUser();
      byEmail(turn, ann.id, { ageSeconds: 100, flowId: null });
      core.users.recorded(session(turn), ann.id, { method: 'passkey', at: new Date(NOW - 5000), amr: ['hwk', 'user', 'mfa'], factors: 2, phishingResistant: true, credentialId: 'k', counted: false, flowId: 'f' });
      const read = jest.spyOn(core.users, 'sessionAuthentications');
      const events = await core.facts.events(turn);
      await core.facts.events(turn);
      expect(read).toHaveBeenCalledTimes(1);
      expect(events).toEqual([
        { method: 'passkey', amr: ['hwk', 'user', 'mfa'], atMs: NOW - 5000, factor: 'passkey', factors: 2, phishingResistant: true, credentialBound: true, counted: false, userId: ann.id, flowId: 'f' },
        { method: 'email_otp', amr: ['otp', 'email'], atMs: NOW - 100_000, factor: 'email_otp', factors: 1, phishingResistant: false, verifies: 'email', credentialBound: false, counted: true, userId: ann.id, flowId: null },
      ]);
    });

    it('a session created by this request has no events to read', async () => {
      const turn = await core.turn({ created: true });
      const read = jest.spyOn(core.users, 'sessionAuthentications');
      await expect(core.facts.events(turn)).resolves.toEqual([]);
      expect(read).not.toHaveBeenCalled();
    });

    it("the user is the session's own (an earlier code) before any event's", async () => {
      const bob = core.users.addUser();
      const turn = await core.turn({ session: { user: { userId: bob.id, authTime: new Date(NOW), amr: [], acr: null, verified: [] } } });
      byEmail(turn, core.users.addUser().id);
      await expect(core.facts.userId(turn)).resolves.toBe(bob.id);
      await expect(core.facts.user(turn)).resolves.toEqual(bob);
    });

    it('the view lists counted methods within max_age once each, and no secrets', async () => {
      const turn = await core.turn({ request: { maxAge: 60, loginHint: 'hint' } });
      const ann = core.users.addUser({ phone: '+447700900123' });
      byEmail(turn, ann.id, { ageSeconds: 5 });
      byEmail(turn, ann.id, { ageSeconds: 6 });
      byEmail(turn, ann.id, { ageSeconds: 61 });
      core.users.recorded(session(turn), ann.id, { method: 'totp', at: new Date(NOW - 1000), counted: false });
      core.users.recorded(session(turn), ann.id, { method: 'sms_otp', at: new Date(NOW - 2000) });
      await expect(core.facts.view(turn)).resolves.toEqual({
        authSession: session(turn),
        clientId: core.client.id,
        mode: 'public',
        user: { id: ann.id, email: ann.email, phone: '+447700900123' },
        verifiedMethods: ['sms_otp', 'email_otp'],
        loginHint: 'hint',
      });
    });

    it('profileOf: what a method proves at best, from its assurance declaration', () => {
      expect(profileOf(passkeyMethod())).toEqual({ id: 'passkey', amr: ['hwk', 'user'], factor: 'passkey', phishingResistant: true, multiFactorCapable: true });
      expect(profileOf({ ...otpMethod(), assurance: undefined })).toEqual({ id: 'email_otp', amr: ['otp', 'email'], factor: 'email_otp', phishingResistant: false, multiFactorCapable: false });
    });
  });
});
