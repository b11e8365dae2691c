import { decodeJwtUnverified, randomToken, s256CodeChallenge } from '@fpa/crypto';
import type { ValidatedDpopProof } from '@fpa/dpop';
import { OAuthError, type FixedClock } from '@fpa/oauth-core';
import type { AuthorizationCode } from '@fpa/session';
import type { AuthenticatedClient } from '../client-authenticator.service';
import type { GrantContext } from '../grant-handler';
import { FakeAudit, FakeCodes, FakeRefreshTokens, FakeRevocations, FakeSessions, FakeSigner, ISSUER, requestInfo, testClient, testClock, testConfig, testDetails, testSession, testPopBinder } from '../testing/fakes';
import { TokenIssuer } from '../token-issuer.service';
import { AuthorizationCodeGrant } from './authorization-code.grant';

const USER = '6f1c2a9e-0000-4000-8000-000000000001';
const KEY = 'jkt-of-the-challenge-key';
const proofBy = (jkt: string): ValidatedDpopProof => ({ jkt, jwk: {}, jti: randomToken(16), iat: 0, nonce: 'n', replayClaim: { key: `k-${jkt}`, ttlSeconds: 60 } });

describe('AuthorizationCodeGrant (FIPA-29, GEN-2, GEN-3)', () => {
  let clock: FixedClock;
  let codes: FakeCodes;
  let sessions: FakeSessions;
  let refreshTokens: FakeRefreshTokens;
  let revocations: FakeRevocations;
  let audit: FakeAudit;
  let grant: AuthorizationCodeGrant;
  const app = testClient({ id: 'app' });
  const publicClient: AuthenticatedClient = { client: app, method: 'none' };

  beforeEach(async () => {
    clock = testClock();
    sessions = new FakeSessions();
    refreshTokens = new FakeRefreshTokens();
    codes = new FakeCodes(sessions, refreshTokens);
    revocations = new FakeRevocations();
    audit = new FakeAudit();
    const config = testConfig();
    grant = new AuthorizationCodeGrant(config, clock, codes, refreshTokens, revocations, new TokenIssuer(config, clock, await FakeSigner.create()), audit, testDetails(), testPopBinder(clock));
  });

  /** A challenge session with a verified user and a code issued from it (S256 challenge, DPoP-bound). */
  function issued(overrides: Partial<AuthorizationCode> = {}): { code: string; verifier: string; authSession: string } {
    const verifier = randomToken(32);
    const session = sessions.add(
      testSession({ clientId: 'app', kind: 'challenge', user: { userId: USER, authTime: new Date(clock.nowMs() - 5000), amr: ['otp', 'email'], acr: 'urn:first-party-auth:acr:1fa', verified: ['email'] } }),
    );
    const code = codes.add({
      clientId: 'app',
      authSession: session.authSession,
      userId: USER,
      dpopJkt: KEY,
      codeChallenge: s256CodeChallenge(verifier),
      scope: `openid api.read auth_session:${session.authSession}`,
      resource: null,
      acr: 'urn:first-party-auth:acr:1fa',
      amr: ['otp', 'email'],
      authTime: new Date(clock.nowMs() - 5000),
      expiresAt: new Date(clock.nowMs() + 60_000),
      consumedAt: null,
      accessTokenJti: null,
      accessTokenExpiresAt: null,
      refreshFamilyId: null,
      redirectUri: null,
      authorizationDetails: null,
      ...overrides,
    });
    return { code, verifier, authSession: session.authSession };
  }

  const ctx = (form: Record<string, string>, options: { client?: AuthenticatedClient; jkt?: string | null } = {}): GrantContext => ({
    form,
    client: options.client ?? publicClient,
    dpop: options.jkt === null ? undefined : proofBy(options.jkt ?? KEY),
    request: requestInfo(),
  });
  const redeem = (code: string, verifier: string | undefined, options: { client?: AuthenticatedClient; jkt?: string | null; extra?: Record<string, string> } = {}) =>
    grant.handle(ctx({ code, ...(verifier === undefined ? {} : { code_verifier: verifier }), ...options.extra }, options));
  const rejectsWith = async (p: Promise<unknown>, code: string, reason?: string): Promise<void> => {
    await expect(p).rejects.toBeInstanceOf(OAuthError);
    await expect(p).rejects.toMatchObject(reason ? { code, reason } : { code });
  };

  it('redeems a code for user-bound, DPoP-bound tokens and records what it issued on the code', async () => {
    const { code, verifier, authSession } = issued();
    const result = await redeem(code, verifier);
    expect(result.issued).toEqual({ tokenType: 'DPoP' });
    expect(result.body).toMatchObject({ token_type: 'DPoP', auth_session: authSession, scope: `openid api.read auth_session:${authSession}`, refresh_token: expect.any(String) });
    const claims = decodeJwtUnverified(result.body.access_token as string).payload;
    expect(claims).toMatchObject({ iss: ISSUER, sub: USER, client_id: 'app', aud: `${ISSUER}/resources`, cnf: { jkt: KEY }, amr: ['otp', 'email'], acr: 'urn:first-party-auth:acr:1fa', email_verified: true });
    const stored = await codes.find(code);
    expect(stored).toMatchObject({ consumedAt: expect.any(Date), accessTokenJti: claims.jti, refreshFamilyId: expect.any(String) });
    expect((await refreshTokens.find(result.body.refresh_token as string))?.familyId).toBe(stored!.refreshFamilyId);
  });

  it('no refresh token for a client without the refresh_token grant', async () => {
    const { code, verifier } = issued();
    const result = await redeem(code, verifier, { client: { client: testClient({ id: 'app', grantTypes: ['authorization_code'] }), method: 'none' } });
    expect(result.body.refresh_token).toBeUndefined();
    expect((await codes.find(code))?.refreshFamilyId).toBeNull();
  });

  it('missing code or a redirect_uri is invalid_request; an unknown code is invalid_grant', async () => {
    await rejectsWith(grant.handle(ctx({})), 'invalid_request');
    const { code, verifier } = issued();
    await rejectsWith(redeem(code, verifier, { extra: { redirect_uri: 'https://app.example.com/cb' } }), 'invalid_request');
    await rejectsWith(redeem(randomToken(32), verifier), 'invalid_grant');
    expect((await codes.find(code))?.consumedAt).toBeNull();
  });

  it('RFC 6749 §4.1.3: a browser code is redeemed with exactly its redirect_uri; a wrong or missing one is invalid_grant and leaves it redeemable', async () => {
    const { code, verifier } = issued({ redirectUri: 'https://app.example.com/cb' });
    await rejectsWith(redeem(code, verifier), 'invalid_grant');
    await rejectsWith(redeem(code, verifier, { extra: { redirect_uri: 'https://app.example.com/cb/' } }), 'invalid_grant');
    expect((await codes.find(code))?.consumedAt).toBeNull();
    await expect(redeem(code, verifier, { extra: { redirect_uri: 'https://app.example.com/cb' } })).resolves.toMatchObject({ issued: { tokenType: 'DPoP' } });
  });

  describe('binding (FIPA-29/33, GEN-2): a failure is invalid_grant and leaves the code redeemable', () => {
    it.each([
      ['another client', { client: { client: testClient({ id: 'other-app' }), method: 'none' as const } }],
      ['another DPoP key', { jkt: 'someone-elses-key' }],
      ['no DPoP proof', { jkt: null }],
    ])('%s', async (_name, options) => {
      const { code, verifier } = issued();
      await rejectsWith(redeem(code, verifier, options), 'invalid_grant');
      await expect(redeem(code, verifier)).resolves.toMatchObject({ issued: { tokenType: 'DPoP' } });
    });

    it('GEN-2: no verifier, a wrong one, or a malformed one', async () => {
      const { code, verifier } = issued();
      await rejectsWith(redeem(code, undefined), 'invalid_grant');
      await rejectsWith(redeem(code, randomToken(32)), 'invalid_grant');
      await rejectsWith(redeem(code, 'short'), 'invalid_grant');
      await expect(redeem(code, verifier)).resolves.toMatchObject({ issued: { tokenType: 'DPoP' } });
    });

    it('RFC 9700: a verifier for a code issued without code_challenge is refused (downgrade)', async () => {
      const { code } = issued({ codeChallenge: null });
      await rejectsWith(redeem(code, randomToken(32)), 'invalid_grant');
      await expect(redeem(code, undefined)).resolves.toMatchObject({ issued: { tokenType: 'DPoP' } });
    });

    it('a device redeeming must be the device whose session the user attached to', async () => {
      const { code, verifier, authSession } = issued();
      const device = (s: string): AuthenticatedClient => ({ client: app, method: 'private_key_jwt', deviceSession: testSession({ clientId: 'app', authSession: s }) });
      await rejectsWith(redeem(code, verifier, { client: device(randomToken(32)) }), 'invalid_grant');
      await expect(redeem(code, verifier, { client: device(authSession) })).resolves.toMatchObject({ issued: { tokenType: 'DPoP' } });
    });
  });

  describe('GEN-3 reuse (issue 7, finding 7)', () => {
    const otherApp: AuthenticatedClient = { client: testClient({ id: 'other-app' }), method: 'none' };
    it.each<[string, { jkt: string; verifier: 'RIGHT' | 'WRONG' | undefined; client?: AuthenticatedClient }]>([
      ['another DPoP key, no verifier (the reported attack)', { jkt: 'stranger', verifier: undefined }],
      ['another DPoP key with the right verifier', { jkt: 'stranger', verifier: 'RIGHT' }],
      ['the right key, a wrong verifier', { jkt: KEY, verifier: 'WRONG' }],
      ['another client, right key and verifier', { jkt: KEY, verifier: 'RIGHT', client: otherApp }],
    ])('a stranger replaying a used code (%s) gets invalid_grant and revokes nothing', async (_name, replay) => {
      const { code, verifier } = issued();
      const first = await redeem(code, verifier);
      const replayVerifier = replay.verifier === 'RIGHT' ? verifier : replay.verifier === 'WRONG' ? randomToken(32) : undefined;
      const p = redeem(code, replayVerifier, { jkt: replay.jkt, client: replay.client });
      await rejectsWith(p, 'invalid_grant');
      await expect(p).rejects.not.toMatchObject({ reason: 'code_reuse' });
      expect(revocations.revoked).toEqual([]);
      expect((await refreshTokens.find(first.body.refresh_token as string))?.status).toBe('active');
      expect(audit.events.filter((e) => e.type === 'authorization_code.reuse_detected')).toEqual([]);
    });

    it('a replay that proves every binding is refused and revokes the access token and refresh family issued from the code', async () => {
      const { code, verifier } = issued();
      const first = await redeem(code, verifier);
      const jti = decodeJwtUnverified(first.body.access_token as string).payload.jti;
      await rejectsWith(redeem(code, verifier), 'invalid_grant', 'code_reuse');
      // The code's own record and the refresh family both name the access token (the real store ignores the duplicate).
      expect(new Set(revocations.revoked.map((r) => `${r.jti} ${r.reason}`))).toEqual(new Set([`${jti} code_reuse`]));
      expect((await refreshTokens.find(first.body.refresh_token as string))?.status).toBe('revoked');
      expect(audit.events).toEqual([expect.objectContaining({ type: 'authorization_code.reuse_detected', clientId: 'app', subject: USER })]);
    });

    it('losing the consume race writes no refresh token (the family starts with the consume) and revokes what the winner issued', async () => {
      const { code, verifier } = issued();
      // The winner consumes between this request's read of the code and its redeem.
      const read = codes.findWithSession.bind(codes);
      let winner: Awaited<ReturnType<typeof redeem>> | undefined;
      codes.findWithSession = async (v) => {
        const found = await read(v);
        codes.findWithSession = read;
        winner = await redeem(code, verifier);
        return found;
      };
      await rejectsWith(redeem(code, verifier), 'invalid_grant', 'code_reuse');
      expect((await refreshTokens.find(winner!.body.refresh_token as string))?.status).toBe('revoked');
      const families = new Set([...refreshTokens.byHash.values()].map((r) => r.familyId));
      expect(families).toEqual(new Set([(await codes.find(code))!.refreshFamilyId]));
      for (const f of families) expect(refreshTokens.family(f).every((r) => r.status === 'revoked')).toBe(true);
    });
  });

  it('an expired code is invalid_grant', async () => {
    const { code, verifier } = issued();
    clock.advance(61);
    await rejectsWith(redeem(code, verifier), 'invalid_grant');
    expect(revocations.revoked).toEqual([]);
  });

  it('a code whose session was revoked, expired, or belongs to another user now is invalid_grant', async () => {
    for (const change of [{ status: 'revoked' as const }, { expiresAt: new Date(clock.nowMs() - 1) }, { user: { userId: 'someone-else', authTime: new Date(), amr: [], acr: null, verified: [] } }]) {
      const { code, verifier, authSession } = issued();
      sessions.add({ ...(await sessions.find(authSession))!, ...change });
      await rejectsWith(redeem(code, verifier), 'invalid_grant');
    }
  });

  it('scope can narrow to what the code carried, never widen (RFC 6749 §6)', async () => {
    const { code, verifier, authSession } = issued({ scope: 'openid auth_session:x' });
    await rejectsWith(redeem(code, verifier, { extra: { scope: 'api.read' } }), 'invalid_scope');
    const result = await redeem(code, verifier, { extra: { scope: 'openid' } });
    expect(result.body.scope).toBe(`openid auth_session:${authSession}`);
  });

  describe('RFC 9396 authorization details (RAR-5, RAR-6, RAR-7)', () => {
    const rarApp: AuthenticatedClient = { client: testClient({ id: 'app', authorizationDetailsTypes: ['payment_initiation', 'account_information'] }), method: 'none' };
    const payment = { type: 'payment_initiation', instructedAmount: { currency: 'EUR', amount: '10.00' }, creditorName: 'Merchant A', creditorAccount: { iban: 'DE02120300000000202051' } };
    const balances = { type: 'account_information', actions: ['read_balances'] };

    it('RAR-6/RAR-7: the granted details in the response and the access token; the refresh token keeps the grant', async () => {
      const { code, verifier } = issued({ authorizationDetails: [payment, balances] });
      const result = await redeem(code, verifier, { client: rarApp });
      expect(result.body.authorization_details).toEqual([payment, balances]);
      expect(decodeJwtUnverified(result.body.access_token as string).payload.authorization_details).toEqual([payment, balances]);
      expect((await refreshTokens.find(result.body.refresh_token as string))?.authorizationDetails).toEqual([payment, balances]);
    });

    it('RAR-5: a token request narrows to a subset; the refresh token still holds the whole grant (RFC 9396 §6.1)', async () => {
      const { code, verifier } = issued({ authorizationDetails: [payment, balances] });
      const result = await redeem(code, verifier, { client: rarApp, extra: { authorization_details: JSON.stringify([balances]) } });
      expect(result.body.authorization_details).toEqual([balances]);
      expect(decodeJwtUnverified(result.body.access_token as string).payload.authorization_details).toEqual([balances]);
      expect((await refreshTokens.find(result.body.refresh_token as string))?.authorizationDetails).toEqual([payment, balances]);
    });

    it('RAR-5: broader or unknown details are invalid_authorization_details and leave the code redeemable', async () => {
      const { code, verifier } = issued({ authorizationDetails: [balances] });
      await rejectsWith(redeem(code, verifier, { client: rarApp, extra: { authorization_details: JSON.stringify([balances, payment]) } }), 'invalid_authorization_details');
      await rejectsWith(redeem(code, verifier, { client: rarApp, extra: { authorization_details: JSON.stringify([{ type: 'wire_transfer' }]) } }), 'invalid_authorization_details');
      expect((await codes.find(code))?.consumedAt).toBeNull();
      await expect(redeem(code, verifier, { client: rarApp })).resolves.toMatchObject({ body: { authorization_details: [balances] } });
    });

    it('no details granted: none in the response or the token, and asking for some is refused', async () => {
      const { code, verifier } = issued();
      await rejectsWith(redeem(code, verifier, { client: rarApp, extra: { authorization_details: JSON.stringify([balances]) } }), 'invalid_authorization_details');
      const result = await redeem(code, verifier, { client: rarApp });
      expect(result.body).not.toHaveProperty('authorization_details');
      expect(decodeJwtUnverified(result.body.access_token as string).payload).not.toHaveProperty('authorization_details');
    });
  });
});
