import { decodeJwtUnverified, randomToken } from '@fpa/crypto';
import type { ValidatedDpopProof } from '@fpa/dpop';
import { OAuthError, type FixedClock } from '@fpa/oauth-core';
import type { DeviceSession } from '@fpa/session';
import type { AuthenticatedClient } from '../client-authenticator.service';
import { counted, FakeAudit, FakeRefreshTokens, FakeRevocations, FakeSessions, FakeSigner, requestInfo, testClient, testClock, testConfig, testDetails, testMetrics, testSession, testPopBinder } from '../testing/fakes';
import type { TokenMetrics } from '../token.metrics';
import { TokenIssuer } from '../token-issuer.service';
import { RefreshTokenGrant } from './refresh-token.grant';

const KEY = 'jkt-of-the-dpop-key';
const proofBy = (jkt: string): ValidatedDpopProof => ({ jkt, jwk: {}, jti: randomToken(16), iat: 0, nonce: 'n', replayClaim: { key: `k-${jkt}`, ttlSeconds: 60 } });

describe('RefreshTokenGrant (RFC 6749 §6, RFC 9700 §4.14, DPOP-18)', () => {
  let clock: FixedClock;
  let sessions: FakeSessions;
  let refreshTokens: FakeRefreshTokens;
  let revocations: FakeRevocations;
  let audit: FakeAudit;
  let metrics: TokenMetrics;
  let grant: RefreshTokenGrant;
  let session: DeviceSession;
  const client = testClient();
  const byIdOnly: AuthenticatedClient = { client, method: 'none' };

  beforeEach(async () => {
    clock = testClock();
    sessions = new FakeSessions();
    refreshTokens = new FakeRefreshTokens();
    revocations = new FakeRevocations();
    audit = new FakeAudit();
    metrics = testMetrics().token;
    const config = testConfig();
    grant = new RefreshTokenGrant(clock, new TokenIssuer(config, clock, await FakeSigner.create()), refreshTokens, revocations, sessions, audit, metrics, testDetails(), testPopBinder(clock));
    session = sessions.add(testSession());
  });

  /** A refresh token as client_credentials would have issued it. */
  const issue = (overrides: { jkt?: string | null; clientId?: string; authSession?: string; authorizationDetails?: Record<string, unknown>[] } = {}): Promise<string> =>
    refreshTokens.issue(
      {
        clientId: overrides.clientId ?? client.id,
        authSession: overrides.authSession ?? session.authSession,
        subject: client.id,
        jkt: overrides.jkt === undefined ? KEY : overrides.jkt,
        scope: `openid api.read auth_session:${session.authSession}`,
        audience: 'https://api.example.com',
        accessTokenJti: randomToken(16),
        accessTokenExpiresAt: new Date(clock.nowMs() + 600_000),
        authorizationDetails: overrides.authorizationDetails ?? null,
      },
      new Date(clock.nowMs()),
      new Date(clock.nowMs() + 86_400_000),
    );

  const refresh = (token: string | undefined, options: { jkt?: string | null; auth?: AuthenticatedClient; scope?: string; details?: unknown[] } = {}) =>
    grant.handle({
      form: { ...(token === undefined ? {} : { refresh_token: token }), ...(options.scope ? { scope: options.scope } : {}), ...(options.details ? { authorization_details: JSON.stringify(options.details) } : {}) },
      client: options.auth ?? byIdOnly,
      dpop: options.jkt === null ? undefined : proofBy(options.jkt ?? KEY),
      request: requestInfo(),
    });
  const rejectsWith = async (p: Promise<unknown>, code: string, reason?: string): Promise<void> => {
    await expect(p).rejects.toBeInstanceOf(OAuthError);
    await expect(p).rejects.toMatchObject(reason ? { code, reason } : { code });
  };

  it('rotates: a new refresh token in the same family, the old one rotated, an access token bound to the same key and audience', async () => {
    const old = await issue();
    const result = await refresh(old);
    const next = result.body.refresh_token as string;
    expect(next).toEqual(expect.any(String));
    expect(next).not.toBe(old);
    const [before, after] = [(await refreshTokens.find(old))!, (await refreshTokens.find(next))!];
    expect(before.status).toBe('rotated');
    expect(after).toMatchObject({ status: 'active', familyId: before.familyId, parentId: before.id, jkt: KEY });
    const claims = decodeJwtUnverified(result.body.access_token as string).payload;
    expect(claims).toMatchObject({ aud: 'https://api.example.com', cnf: { jkt: KEY }, auth_session: session.authSession, jti: after.accessTokenJti });
    expect(result.issued).toEqual({ tokenType: 'DPoP' });
  });

  it('carries the session’s current user (a step-up since issuance shows up)', async () => {
    const old = await issue();
    sessions.add({ ...session, user: { userId: 'user-1', authTime: new Date(clock.nowMs()), amr: ['hwk'], acr: 'urn:first-party-auth:acr:phr', verified: [] } });
    const claims = decodeJwtUnverified((await refresh(old)).body.access_token as string).payload;
    expect(claims).toMatchObject({ sub: 'user-1', amr: ['hwk'], acr: 'urn:first-party-auth:acr:phr' });
  });

  it('missing → invalid_request; unknown or another client’s → invalid_grant', async () => {
    await rejectsWith(refresh(undefined), 'invalid_request');
    await rejectsWith(refresh(randomToken(32)), 'invalid_grant');
    const foreign = await issue({ clientId: 'other-app' });
    await rejectsWith(refresh(foreign), 'invalid_grant');
    expect((await refreshTokens.find(foreign))?.status).toBe('active');
  });

  describe('DPOP-18: a bound token needs a proof by its key — checked before reuse detection', () => {
    it('another key or no proof → invalid_grant, and the token still works with its key', async () => {
      const token = await issue();
      await rejectsWith(refresh(token, { jkt: 'another-key' }), 'invalid_grant', 'refresh_key_mismatch');
      await rejectsWith(refresh(token, { jkt: null }), 'invalid_grant', 'refresh_key_mismatch');
      await expect(refresh(token)).resolves.toMatchObject({ issued: { tokenType: 'DPoP' } });
    });

    it('a rotated token presented without its key revokes nothing (a thief without the key cannot end the session)', async () => {
      const old = await issue();
      const current = (await refresh(old)).body.refresh_token as string;
      await rejectsWith(refresh(old, { jkt: 'thief-key' }), 'invalid_grant', 'refresh_key_mismatch');
      expect(revocations.revoked).toEqual([]);
      expect((await refreshTokens.find(current))?.status).toBe('active');
      expect(await counted(metrics.refreshReuse)).toBe(0);
    });
  });

  it('reuse of a rotated token with its key revokes the family and its access tokens, counts it and audits it', async () => {
    const old = await issue();
    const first = await refresh(old);
    const current = first.body.refresh_token as string;
    await rejectsWith(refresh(old), 'invalid_grant', 'refresh_reuse');
    expect((await refreshTokens.find(current))?.status).toBe('revoked');
    const jtis = revocations.revoked.map((r) => r.jti);
    expect(jtis).toContain(decodeJwtUnverified(first.body.access_token as string).payload.jti);
    expect(revocations.revoked.every((r) => r.reason === 'refresh_token_reuse')).toBe(true);
    expect(await counted(metrics.refreshReuse)).toBe(1);
    expect(audit.events).toEqual([expect.objectContaining({ type: 'refresh_token.reuse_detected', authSession: session.authSession })]);
    await rejectsWith(refresh(current), 'invalid_grant');
  });

  it('losing a rotation race is reuse too', async () => {
    const old = await issue();
    const rotate = refreshTokens.rotate.bind(refreshTokens);
    refreshTokens.rotate = async () => undefined;
    await rejectsWith(refresh(old), 'invalid_grant', 'refresh_reuse');
    refreshTokens.rotate = rotate;
    expect((await refreshTokens.find(old))?.status).toBe('revoked');
  });

  it('a revoked or expired token is invalid_grant', async () => {
    const revoked = await issue();
    await refreshTokens.revokeFamily((await refreshTokens.find(revoked))!.familyId, 'test', new Date(clock.nowMs()));
    await rejectsWith(refresh(revoked), 'invalid_grant');
    const expiring = await issue();
    clock.advance(86_401);
    await rejectsWith(refresh(expiring), 'invalid_grant');
  });

  it('an unbound token of a public client needs the device assertion of its own session', async () => {
    const unbound = await issue({ jkt: null });
    await rejectsWith(refresh(unbound, { jkt: null }), 'invalid_grant');
    const otherDevice: AuthenticatedClient = { client, method: 'private_key_jwt', deviceSession: testSession() };
    await rejectsWith(refresh(unbound, { jkt: null, auth: otherDevice }), 'invalid_grant');
    const ownDevice: AuthenticatedClient = { client, method: 'private_key_jwt', deviceSession: session };
    const result = await refresh(unbound, { jkt: null, auth: ownDevice });
    expect(result.body.token_type).toBe('Bearer');
  });

  it('a revoked or expired device session ends refreshing', async () => {
    const token = await issue();
    sessions.add({ ...session, expiresAt: new Date(clock.nowMs() - 1) });
    await rejectsWith(refresh(token), 'invalid_grant');
    sessions.add({ ...session, status: 'revoked' });
    await rejectsWith(refresh(token), 'invalid_grant');
    expect((await refreshTokens.find(token))?.status).toBe('active');
  });

  it('scope can narrow, not widen', async () => {
    const token = await issue();
    await rejectsWith(refresh(token, { scope: 'admin' }), 'invalid_scope');
    expect((await refresh(token, { scope: 'openid' })).body.scope).toBe(`openid auth_session:${session.authSession}`);
  });

  describe('RFC 9396 authorization details (RAR-5, RAR-6)', () => {
    const rarClient: AuthenticatedClient = { client: testClient({ authorizationDetailsTypes: ['account_information'] }), method: 'none' };
    const balances = { type: 'account_information', actions: ['read_balances'] };
    const accounts = { type: 'account_information', actions: ['list_accounts'] };

    it('a refresh issues the grant’s details, or the subset it names; the rotated token keeps the whole grant', async () => {
      const old = await issue({ authorizationDetails: [balances, accounts] });
      const narrowed = await refresh(old, { auth: rarClient, details: [accounts] });
      expect(narrowed.body.authorization_details).toEqual([accounts]);
      expect(decodeJwtUnverified(narrowed.body.access_token as string).payload.authorization_details).toEqual([accounts]);
      const next = narrowed.body.refresh_token as string;
      expect((await refreshTokens.find(next))?.authorizationDetails).toEqual([balances, accounts]);
      const whole = await refresh(next, { auth: rarClient });
      expect(whole.body.authorization_details).toEqual([balances, accounts]);
    });

    it('RAR-5: broader details are invalid_authorization_details, and the refresh token is not rotated', async () => {
      const old = await issue({ authorizationDetails: [accounts] });
      await rejectsWith(refresh(old, { auth: rarClient, details: [accounts, balances] }), 'invalid_authorization_details');
      expect((await refreshTokens.find(old))?.status).toBe('active');
      const plain = await issue();
      await rejectsWith(refresh(plain, { auth: rarClient, details: [accounts] }), 'invalid_authorization_details');
      await expect(refresh(plain, { auth: rarClient })).resolves.not.toHaveProperty('body.authorization_details');
    });
  });
});
