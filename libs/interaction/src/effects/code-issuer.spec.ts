import { FlowConflict } from '../flow/flow-state';
import { ACR, type Satisfaction } from '@fpa/assurance';
import type { User } from '@fpa/users';
import { Core } from '../testing/core';
import { NOW, otpMethod, testSession } from '../testing/fakes';
import type { Turn } from '../loop/turn';

const CHALLENGE = 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM';
const satisfied: Satisfaction = { acr: ACR.email, amr: ['otp', 'email'], authTimeMs: NOW - 30_000, events: [] };

describe('CodeIssuer: a code for a satisfied request (FIPA-15/16, finding 4 and 5)', () => {
  let core: Core;
  let ann: User;
  beforeEach(() => {
    core = new Core({ methods: [otpMethod()], env: { SESSION_IDLE_TTL_SECONDS: '3600' } });
    ann = core.users.addUser({ email: 'ann@example.com', phone: '+447700900123', phoneVerified: true });
  });
  afterEach(async () => core.close());

  const session = (turn: Turn): string => turn.caller.session.authSession;
  const signedIn = (turn: Turn, flowId: string | null): void =>
    core.users.recorded(session(turn), ann.id, { method: 'email_otp', at: new Date(NOW - 30_000), flowId, verifies: 'email' });

  it('binds the code to the client, session, DPoP key, PKCE challenge, scope and resource, with the acr/amr/auth_time it was given', async () => {
    const turn = await core.turn({ request: { scopes: ['openid', 'api.read'], codeChallenge: CHALLENGE, resource: 'https://api.example.com' } });
    signedIn(turn, turn.flow.flowId);
    const outcome = await core.issuer.issue(turn, satisfied);
    expect(outcome).toEqual({ kind: 'code', authSession: session(turn), authorizationCode: core.codes.issued[0].code });
    expect(core.codes.issued[0]).toMatchObject({
      clientId: core.client.id,
      authSession: session(turn),
      userId: ann.id,
      dpopJkt: 'jkt-1',
      codeChallenge: CHALLENGE,
      scope: 'openid api.read',
      resource: 'https://api.example.com',
      acr: ACR.email,
      amr: ['otp', 'email'],
      authTime: new Date(NOW - 30_000),
      verified: ['email', 'phone'],
      now: new Date(NOW),
    });
    expect(core.audit.events).toEqual([expect.objectContaining({ type: 'challenge.code_issued', subject: ann.id, details: { acr: ACR.email, amr: ['otp', 'email'], interacted: true, mode: 'public' } })]);
  });

  it('FED-11 / RFC 9449 §10: a federated flow’s code is bound to the pushed dpop_jkt (the federating client’s key), not the app’s session key; none pushed, none bound', async () => {
    const pushedKey = 'A'.repeat(43);
    const turn = await core.turn({ mode: 'federated', request: { codeChallenge: CHALLENGE, dpopJkt: pushedKey } });
    signedIn(turn, turn.flow.flowId);
    await core.issuer.issue(turn, satisfied);
    expect(core.codes.issued[0]).toMatchObject({ clientId: core.client.id, authSession: session(turn), dpopJkt: pushedKey, codeChallenge: CHALLENGE });
    const bare = await core.turn({ mode: 'federated', request: { codeChallenge: CHALLENGE } });
    signedIn(bare, bare.flow.flowId);
    await core.issuer.issue(bare, satisfied);
    expect(core.codes.issued[1].dpopJkt).toBeNull();
  });

  it('FED-14/FED-15: a handoff’s code goes to the federating client (its request, its federated session, its key and PKCE) and the answer names native_callback_uri', async () => {
    const federated = core.sessions.add(testSession(NOW, { authSession: 'federated-1', clientId: 'as1', kind: 'federated' }));
    const turn = await core.turn({ mode: 'device', request: { clientId: 'as1', codeChallenge: CHALLENGE, dpopJkt: 'B'.repeat(43) }, handoff: { authSession: federated.authSession, nativeCallbackUri: 'https://app.as1.example/cb' } });
    signedIn(turn, turn.flow.flowId);
    const outcome = await core.issuer.issue(turn, satisfied);
    expect(outcome).toEqual({ kind: 'code', authSession: session(turn), authorizationCode: core.codes.issued[0].code, nativeCallbackUri: 'https://app.as1.example/cb' });
    expect(core.codes.issued[0]).toMatchObject({ clientId: 'as1', authSession: 'federated-1', dpopJkt: 'B'.repeat(43), codeChallenge: CHALLENGE, userId: ann.id });
    expect(core.audit.events[0]).toMatchObject({ clientId: 'as1', authSession: 'federated-1', details: { handoffBy: core.client.id } });
  });

  it('a device flow without PKCE or resource stores nulls, not undefined', async () => {
    const turn = await core.turn({ mode: 'device' });
    signedIn(turn, turn.flow.flowId);
    await core.issuer.issue(turn, satisfied);
    expect(core.codes.issued[0]).toMatchObject({ codeChallenge: null, resource: null });
  });

  it('extends the session by SESSION_IDLE_TTL_SECONDS when the user authenticated in this flow', async () => {
    const turn = await core.turn();
    signedIn(turn, turn.flow.flowId);
    await core.issuer.issue(turn, satisfied);
    expect(core.codes.issued[0].extendUntil).toEqual(new Date(NOW + 3600_000));
    expect(core.sessions.byId.get(session(turn))?.expiresAt).toEqual(new Date(NOW + 3600_000));
  });

  it('extends nothing when only earlier flows authenticated (finding 5: no sliding without the user)', async () => {
    const turn = await core.turn();
    const before = core.sessions.byId.get(session(turn))!.expiresAt;
    signedIn(turn, 'an-earlier-flow');
    signedIn(turn, null);
    await core.issuer.issue(turn, satisfied);
    expect(core.codes.issued[0].extendUntil).toBeNull();
    expect(core.sessions.byId.get(session(turn))?.expiresAt).toEqual(before);
    expect(core.audit.events[0].details).toMatchObject({ interacted: false });
  });

  it.each([
    ['expired', { expiresAt: new Date(NOW) }],
    ['past its absolute lifetime', { absoluteExpiresAt: new Date(NOW - 1) }],
    ['revoked', { status: 'revoked' as const }],
  ])('a session that is %s cannot be updated: invalid_session, no code (the dead session keeps no flow either)', async (_name, overrides) => {
    const turn = await core.turn({ session: overrides });
    signedIn(turn, turn.flow.flowId);
    await expect(core.issuer.issue(turn, satisfied)).rejects.toMatchObject({ code: 'invalid_session' });
    expect(core.codes.issued).toEqual([]);
  });

  it("a session attached to another user is invalid_session", async () => {
    const bob = core.users.addUser();
    const turn = await core.turn({ session: { user: { userId: bob.id, authTime: new Date(NOW), amr: [], acr: null, verified: [] } } });
    turn.user = ann; // as if this request had identified Ann
    await expect(core.issuer.issue(turn, satisfied)).rejects.toMatchObject({ code: 'invalid_session' });
  });

  it("completes the flow at the turn's version", async () => {
    const turn = await core.turn();
    signedIn(turn, turn.flow.flowId);
    await core.flows.save({ ...turn.flow, active: undefined }, turn.version).then((v) => (turn.version = v));
    await core.issuer.issue(turn, satisfied);
    await expect(core.flows.load(session(turn))).resolves.toBeUndefined();
  });

  it('one code per flow: when another request moved the flow meanwhile, no code — the turn is retried (FlowConflict)', async () => {
    const turn = await core.turn();
    signedIn(turn, turn.flow.flowId);
    await core.flows.save({ ...turn.flow, flowId: 'newer' }, turn.version);
    await expect(core.issuer.issue(turn, satisfied)).rejects.toBeInstanceOf(FlowConflict);
    expect(core.codes.issued).toEqual([]);
    expect((await core.stored(session(turn)))?.flowId).toBe('newer');
  });

  it('satisfied without a user is a server_error (a bug upstream, never a code)', async () => {
    const turn = await core.turn();
    await expect(core.issuer.issue(turn, satisfied)).rejects.toMatchObject({ code: 'server_error' });
    expect(core.codes.issued).toEqual([]);
  });
});
