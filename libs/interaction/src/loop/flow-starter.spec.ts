import { AllowListNativeCallbackPolicy, AuthorizationDetailsRegistry, emptyAuthorizationRequest, EXAMPLE_DETAIL_TYPES, NativeCallbackTrust, PushedRequests } from '@fpa/authz-request';
import { MemoryStore } from '@fpa/store';
import type { ChallengeMethod } from '@fpa/challenge-kit';
import type { Client, ClientRegistry } from '@fpa/clients';
import { FixedClock, OAuthError } from '@fpa/oauth-core';
import type { Caller } from '../bindings/caller';
import type { FlowState } from '../flow/flow-state';
import type { ChallengeInput } from '../http/challenge-request';
import { NOW, otpMethod, testClient, testConfig, testSession } from '../testing/fakes';
import { FlowStarter } from './flow-starter';
import type { Turn } from './turn';

const CHALLENGE = 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM';
const client = testClient();
const clients = { find: async (id: string): Promise<Client | undefined> => (id === client.id ? client : undefined) } as unknown as ClientRegistry;
const store = new MemoryStore(() => NOW);
const pushedRequests = new PushedRequests(store, new FixedClock(NOW));
const starter = new FlowStarter(testConfig(), new FixedClock(NOW), clients, new AuthorizationDetailsRegistry(EXAMPLE_DETAIL_TYPES), pushedRequests, new NativeCallbackTrust([new AllowListNativeCallbackPolicy()]));
afterAll(() => store.close());

const caller = (overrides: Partial<Caller> = {}): Caller => ({ client, session: testSession(NOW), mode: 'public', jkt: 'jkt-1', created: false, ...overrides });
const device = (created = false): Caller => caller({ mode: 'device', created, session: testSession(NOW, { kind: 'device' }) });
const first = (input: ChallengeInput = {}): ChallengeInput => ({ response_type: 'code', code_challenge: CHALLENGE, code_challenge_method: 'S256', ...input });

async function refused(p: Promise<unknown>): Promise<OAuthError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(OAuthError);
    return e as OAuthError;
  }
  throw new Error('expected a refusal');
}

describe('FlowStarter.startsFlow: when a request is a new authorization request', () => {
  const existing = { flowId: 'f' } as FlowState;

  it('the request that created the session always starts one', () => {
    expect(starter.startsFlow(caller({ created: true }), {}, undefined)).toBe(true);
  });

  it.each(['scope', 'acr_values', 'max_age', 'code_challenge', 'resource'])('a follow-up carrying %s starts a new one, even with a flow in progress', (p) => {
    expect(starter.startsFlow(caller(), { [p]: 'x' }, existing)).toBe(true);
  });

  it.each(['email', 'phone', 'login_hint', 'challenge_type', 'response_type'])('a device request with %s and no flow starts one (seed 004: email= alone)', (p) => {
    expect(starter.startsFlow(device(), { [p]: 'x' }, undefined)).toBe(true);
  });

  it('the same parameters do not restart a flow in progress: they belong to it', () => {
    expect(starter.startsFlow(device(), { email: 'a@example.com', challenge_type: 'email_otp' }, existing)).toBe(false);
  });

  it('an empty follow-up, or one with only an answer, starts nothing (finding 5: no code without an authorization request)', () => {
    expect(starter.startsFlow(device(), {}, undefined)).toBe(false);
    expect(starter.startsFlow(caller(), { code: '123456', auth_session: 's' }, undefined)).toBe(false);
    expect(starter.startsFlow(caller(), {}, existing)).toBe(false);
  });
});

describe('FlowStarter.newFlow: the validated parameters of the request', () => {
  it('keeps the request, binds the flow to the caller key and session, with a fresh flowId each time', async () => {
    const c = caller();
    const flow = await starter.newFlow(c, first({ scope: 'openid', acr_values: 'urn:first-party-auth:acr:email', max_age: '300', login_hint: 'ann@example.com', resource: 'https://api.example.com' }));
    expect(flow).toEqual({
      flowId: expect.stringMatching(/^[A-Za-z0-9_-]{20,}$/),
      authSession: c.session.authSession,
      clientId: client.id,
      mode: 'public',
      dpopJkt: 'jkt-1',
      request: emptyAuthorizationRequest(client.id, { scopes: ['openid'], acrValues: 'urn:first-party-auth:acr:email', maxAge: 300, codeChallenge: CHALLENGE, loginHint: 'ann@example.com', resource: 'https://api.example.com' }),
      active: undefined,
      createdAt: NOW,
    });
    expect((await starter.newFlow(c, first())).flowId).not.toBe(flow.flowId);
  });

  it('grants every allowed scope when none is asked for, and refuses one the client may not have', async () => {
    expect((await starter.newFlow(caller(), first())).request.scopes).toEqual(['openid', 'api.read']);
    expect((await refused(starter.newFlow(caller(), first({ scope: 'admin' })))).code).toBe('invalid_scope');
    expect((await refused(starter.newFlow(caller(), first({ resource: 'https://evil.example' })))).code).toBe('invalid_target');
  });

  it('takes login_hint, else email, else phone as the hint', async () => {
    expect((await starter.newFlow(device(), { email: 'ann@example.com', phone: '+447700900123' })).request.loginHint).toBe('ann@example.com');
    expect((await starter.newFlow(device(), { phone: '+447700900123' })).request.loginHint).toBe('+447700900123');
  });

  describe('PKCE (RFC 7636, RFC 9700 §2.1.1)', () => {
    it('a public client must send an S256 code_challenge', async () => {
      expect((await refused(starter.newFlow(caller(), { response_type: 'code' }))).description).toMatch(/code_challenge/);
    });
    it('a device may omit it (it authenticates at /token)', async () => {
      expect((await starter.newFlow(device(), {})).request.codeChallenge).toBeUndefined();
    });
    it.each([
      ['plain', { code_challenge_method: 'plain' }],
      ['no method (plain by default)', { code_challenge_method: undefined }],
      ['not 43 base64url characters', { code_challenge: `${CHALLENGE}A` }],
      ['not base64url', { code_challenge: CHALLENGE.replace('-', '+') }],
    ])('refuses a challenge that is %s', async (_name, overrides) => {
      const input = Object.fromEntries(Object.entries(first(overrides as ChallengeInput)).filter(([, v]) => v !== undefined)) as ChallengeInput;
      expect((await refused(starter.newFlow(device(), input))).code).toBe('invalid_request');
    });
  });

  it('response_type, when sent, must be code (FIPA-10)', async () => {
    expect((await refused(starter.newFlow(device(), { response_type: 'token' }))).description).toMatch(/response_type/);
    await expect(starter.newFlow(device(), { response_type: 'code' })).resolves.toBeDefined();
  });

  it.each(['-1', '1.5', '1e3', 'ten', '1234567890'])('max_age=%s is refused: whole seconds only', async (v) => {
    expect((await refused(starter.newFlow(device(), { max_age: v }))).description).toMatch(/max_age/);
  });

  it('max_age=0 is kept (only an authentication of this very moment counts)', async () => {
    expect((await starter.newFlow(device(), { max_age: '0' })).request.maxAge).toBe(0);
  });

  it('refuses parameters of the wrong type or length', async () => {
    expect((await refused(starter.newFlow(device(), { scope: ['openid'] }))).code).toBe('invalid_request');
    expect((await refused(starter.newFlow(device(), { login_hint: `${'a'.repeat(320)}@x` }))).code).toBe('invalid_request');
  });
});

describe('FlowStarter.newFlow with a pushed request_uri (PAR-10, FIPA-22)', () => {
  const pushed = (dpopJkt?: string) => pushedRequests.push({ request: emptyAuthorizationRequest(client.id, { codeChallenge: CHALLENGE, redirectUri: 'https://app.example.com/cb', dpopJkt }) }, 60);

  it('the pushed request is the flow’s request (its redirect URI dropped: native codes are answered)', async () => {
    const { requestUri } = await pushed('jkt-1');
    const flow = await starter.newFlow(caller(), { request_uri: requestUri, client_id: client.id });
    expect(flow.request).toEqual(emptyAuthorizationRequest(client.id, { codeChallenge: CHALLENGE, dpopJkt: 'jkt-1' }));
    expect((await refused(starter.newFlow(caller(), { request_uri: requestUri }))).code).toBe('invalid_request');
  });

  it('DPOP-31: a request pushed with another DPoP key is invalid_dpop_proof, and still there for the right key', async () => {
    const { requestUri } = await pushed('jkt-1');
    expect((await refused(starter.newFlow(caller({ jkt: 'jkt-2' }), { request_uri: requestUri }))).code).toBe('invalid_dpop_proof');
    await expect(starter.newFlow(caller(), { request_uri: requestUri })).resolves.toMatchObject({ request: { dpopJkt: 'jkt-1' } });
  });

  it('a request_uri carries only client_id (and auth_session): its parameters were pushed', async () => {
    const { requestUri } = await pushed();
    expect((await refused(starter.newFlow(caller(), { request_uri: requestUri, scope: 'openid' }))).code).toBe('invalid_request');
  });

  it('FED-11: for a federated caller (the end user’s app) the pushed key binds the code, not the session: the app’s own key is the flow’s', async () => {
    const { requestUri } = await pushed('jkt-as1');
    const flow = await starter.newFlow(caller({ mode: 'federated', jkt: 'jkt-app' }), { request_uri: requestUri, client_id: client.id });
    expect(flow).toMatchObject({ mode: 'federated', dpopJkt: 'jkt-app', request: { dpopJkt: 'jkt-as1', codeChallenge: CHALLENGE } });
  });

  it('FED-11: a federated caller’s request must be pushed', async () => {
    expect((await refused(starter.newFlow(caller({ mode: 'federated' }), first()))).code).toBe('invalid_request');
  });

  it('FED-14: a handoff caller starts with the handed-over request and the flow remembers the handoff', async () => {
    const request = emptyAuthorizationRequest('as1', { codeChallenge: CHALLENGE, nativeCallbackUri: 'https://app.example.com/cb' });
    const handoff = { authSession: 'federated-1', nativeCallbackUri: 'https://app.example.com/cb' };
    await expect(starter.newFlow(device(false), {})).resolves.not.toHaveProperty('handoff');
    await expect(starter.newFlow({ ...device(false), startWith: request, handoff }, {})).resolves.toMatchObject({ request, handoff, mode: 'device' });
  });
});

describe('FlowStarter.newFlow: native_callback_uri at the native endpoint (FED-3/FED-4)', () => {
  it('is trusted through NativeCallbackTrust before the flow exists: the allow-list, exact match', async () => {
    const trusted = testClient({ nativeCallbackUris: ['https://app.example.com/native'] });
    await expect(starter.newFlow(caller({ client: trusted }), first({ native_callback_uri: 'https://app.example.com/native' }))).resolves.toMatchObject({ request: { nativeCallbackUri: 'https://app.example.com/native' } });
    const e = await refused(starter.newFlow(caller({ client: trusted }), first({ native_callback_uri: 'https://app.example.com/other' })));
    expect(e).toMatchObject({ code: 'invalid_request', message: expect.stringMatching(/native_callback_uri/) });
  });
});

describe('FlowStarter.infer: the method a request without challenge_type begins', () => {
  const methods = new Map<string, ChallengeMethod>([
    ['email_otp', otpMethod('email_otp', 'email')],
    ['sms_otp', otpMethod('sms_otp', 'sms')],
  ]);
  const turn = (loginHint: string | undefined, started = true): Turn => ({ started, flow: { request: { loginHint } } }) as Turn;
  const open = (ids: string[]) => async (): Promise<readonly string[]> => ids;

  it('email= picks email_otp and phone= picks sms_otp, when registered', async () => {
    await expect(starter.infer({ email: 'a@example.com' }, turn(undefined), methods, open([]))).resolves.toBe('email_otp');
    await expect(starter.infer({ phone: '+447700900123' }, turn(undefined), methods, open([]))).resolves.toBe('sms_otp');
    await expect(starter.infer({ email: 'a@example.com' }, turn(undefined), new Map(), open([]))).resolves.toBeUndefined();
  });

  it('a login_hint picks the OTP method it fits only while that method can still help the acr', async () => {
    await expect(starter.infer({}, turn('Ann@Example.com'), methods, open(['email_otp', 'sms_otp']))).resolves.toBe('email_otp');
    await expect(starter.infer({}, turn('+44 7700 900123'), methods, open(['email_otp', 'sms_otp']))).resolves.toBe('sms_otp');
    await expect(starter.infer({}, turn('Ann@Example.com'), methods, open(['sms_otp']))).resolves.toBeUndefined();
    await expect(starter.infer({}, turn('not an address'), methods, open(['email_otp', 'sms_otp']))).resolves.toBeUndefined();
    // Only the request that starts the flow: a follow-up's emptiness never re-sends a code.
    await expect(starter.infer({}, turn('Ann@Example.com', false), methods, open(['email_otp', 'sms_otp']))).resolves.toBeUndefined();
    await expect(starter.infer({}, turn(undefined), methods, open(['email_otp']))).resolves.toBeUndefined();
  });
});

describe('FlowStarter.callerFor: whom a resume acts for', () => {
  const flow = { clientId: client.id, mode: 'device', dpopJkt: 'jkt-of-the-flow' } as FlowState;

  it("takes the flow's own client, mode and key, never the request's", async () => {
    const session = testSession(NOW, { kind: 'device' });
    await expect(starter.callerFor(session, flow)).resolves.toEqual({ client, session, mode: 'device', jkt: 'jkt-of-the-flow', created: false });
  });

  it('refuses when the client is gone or is not the flow’s', async () => {
    await expect(starter.callerFor(testSession(NOW, { clientId: 'gone' }), flow)).rejects.toMatchObject({ code: 'invalid_session' });
    await expect(starter.callerFor(testSession(NOW), { ...flow, clientId: 'other-app' })).rejects.toMatchObject({ code: 'invalid_session' });
  });
});
