import { decodeJwtUnverified, generateClientKeyPair, generateResourceServerPopKey, randomToken, s256CodeChallenge, type ClientKeyPair, type JWK } from '@fpa/crypto';
import type { ValidatedDpopProof } from '@fpa/dpop';
import { OAuthError, type FixedClock } from '@fpa/oauth-core';
import type { AuthenticatedClient } from '../client-authenticator.service';
import { FakeAudit, FakeCodes, FakePopKeys, FakeRefreshTokens, FakeRevocations, FakeSessions, FakeSigner, requestInfo, testClient, testClock, testConfig, testDetails, testMetrics, testPopBinder, testSession } from '../testing/fakes';
import { TokenIssuer } from '../token-issuer.service';
import { AuthorizationCodeGrant } from './authorization-code.grant';
import { ClientCredentialsGrant } from './client-credentials.grant';
import { RefreshTokenGrant } from './refresh-token.grant';

/** Issue 12: PoP tokens from every grant that issues access tokens (seed 001 (C)/(D), ACE-3, ACE-5). */
describe('PoP tokens from the grants', () => {
  const API = 'https://api.example.com';
  const USER = '6f1c2a9e-0000-4000-8000-000000000001';
  let clock: FixedClock;
  let key: ClientKeyPair;
  let rs: { publicJwk: JWK };
  let codes: FakeCodes;
  let sessions: FakeSessions;
  let refreshTokens: FakeRefreshTokens;
  let popKeys: FakePopKeys;
  let codeGrant: AuthorizationCodeGrant;
  let ccGrant: ClientCredentialsGrant;
  let refreshGrant: RefreshTokenGrant;
  const app = testClient({ id: 'app', resources: [API] });
  const publicClient: AuthenticatedClient = { client: app, method: 'none' };
  const proofBy = (jkt: string): ValidatedDpopProof => ({ jkt, jwk: {}, jti: randomToken(16), iat: 0, nonce: 'n', replayClaim: { key: `k-${jkt}`, ttlSeconds: 60 } });
  const claimsOf = (body: Record<string, unknown>) => decodeJwtUnverified(body.access_token as string).payload as Record<string, unknown>;

  beforeEach(async () => {
    clock = testClock();
    key = await generateClientKeyPair();
    rs = await generateResourceServerPopKey();
    sessions = new FakeSessions();
    refreshTokens = new FakeRefreshTokens();
    codes = new FakeCodes(sessions, refreshTokens);
    popKeys = new FakePopKeys();
    const config = testConfig();
    const issuer = new TokenIssuer(config, clock, await FakeSigner.create());
    const pop = testPopBinder(clock, [{ identifier: API, jwk: rs.publicJwk, keyTypes: ['EC', 'oct'] }], popKeys);
    codeGrant = new AuthorizationCodeGrant(config, clock, codes, refreshTokens, new FakeRevocations(), issuer, new FakeAudit(), testDetails(), pop);
    ccGrant = new ClientCredentialsGrant(config, clock, issuer, refreshTokens, pop);
    refreshGrant = new RefreshTokenGrant(clock, issuer, refreshTokens, new FakeRevocations(), sessions, new FakeAudit(), testMetrics().token, testDetails(), pop);
  });

  function issuedCode(resource: string | null): { code: string; verifier: string } {
    const verifier = randomToken(32);
    const session = sessions.add(testSession({ clientId: 'app', kind: 'challenge', user: { userId: USER, authTime: new Date(clock.nowMs()), amr: ['otp'], acr: null, verified: [] } }));
    const code = codes.add({
      clientId: 'app', authSession: session.authSession, userId: USER, dpopJkt: key.jkt, codeChallenge: s256CodeChallenge(verifier),
      scope: `openid auth_session:${session.authSession}`, resource, acr: null, amr: ['otp'], authTime: new Date(clock.nowMs()),
      expiresAt: new Date(clock.nowMs() + 60_000), consumedAt: null, accessTokenJti: null, accessTokenExpiresAt: null, refreshFamilyId: null, redirectUri: null, authorizationDetails: null,
    });
    return { code, verifier };
  }

  it('authorization_code: req_cnf with the key of the code (proven by the DPoP proof) → a PoP token for the code’s resource, refresh keeps it (ACE-5)', async () => {
    const { code, verifier } = issuedCode(API);
    const result = await codeGrant.handle({ form: { code, code_verifier: verifier, req_cnf: JSON.stringify({ jwk: key.publicJwk }) }, client: publicClient, dpop: proofBy(key.jkt), request: requestInfo() });
    expect(result.issued).toEqual({ tokenType: 'PoP' });
    expect(result.body).toMatchObject({ token_type: 'PoP', rs_cnf: { jwk: rs.publicJwk }, cnf: { jwk: expect.objectContaining({ kid: key.jkt }) } });
    expect(claimsOf(result.body)).toMatchObject({ aud: API, cnf: { jwk: expect.objectContaining({ x: key.publicJwk.x }) } });
    expect(popKeys.rows.size).toBe(1);

    const refreshed = await refreshGrant.handle({ form: { refresh_token: result.body.refresh_token as string }, client: publicClient, dpop: proofBy(key.jkt), request: requestInfo() });
    expect(refreshed.body).toMatchObject({ token_type: 'PoP', rs_cnf: { jwk: rs.publicJwk } });
    expect(claimsOf(refreshed.body).cnf).toEqual(claimsOf(result.body).cnf);
  });

  it('authorization_code: a resource other than the code’s → invalid_target, and the code is not spent', async () => {
    const { code, verifier } = issuedCode(API);
    const p = codeGrant.handle({ form: { code, code_verifier: verifier, token_type: 'pop', audience: 'https://elsewhere.example' }, client: publicClient, dpop: proofBy(key.jkt), request: requestInfo() });
    await expect(p).rejects.toMatchObject({ code: 'invalid_target' });
    expect(await codes.find(code)).toMatchObject({ consumedAt: null });
  });

  it('client_credentials of a confidential client: a generated symmetric key, no refresh token', async () => {
    const confidential: AuthenticatedClient = { client: testClient({ id: 'svc', type: 'confidential', resources: [API] }), method: 'client_secret_basic' };
    const result = await ccGrant.handle({ form: { token_type: 'pop', resource: API }, client: confidential, dpop: undefined, request: requestInfo() });
    expect(result.body).toMatchObject({ token_type: 'PoP', cnf: { jwk: { kty: 'oct' } }, rs_cnf: { jwk: rs.publicJwk } });
    expect(result.body).not.toHaveProperty('refresh_token');
    expect(Object.keys(claimsOf(result.body).cnf as object)).toEqual(['jwe']);
  });

  it('a device refresh of a DPoP family cannot turn it into PoP (ACE-5); nothing rotates', async () => {
    const device: AuthenticatedClient = { client: app, method: 'private_key_jwt', deviceSession: sessions.add(testSession({ clientId: 'app' })) };
    const first = await ccGrant.handle({ form: {}, client: device, dpop: proofBy(key.jkt), request: requestInfo() });
    expect(first.body.token_type).toBe('DPoP');
    const p = refreshGrant.handle({ form: { refresh_token: first.body.refresh_token as string, req_cnf: JSON.stringify({ jwk: key.publicJwk }) }, client: device, dpop: proofBy(key.jkt), request: requestInfo() });
    await expect(p).rejects.toBeInstanceOf(OAuthError);
    await expect(p).rejects.toMatchObject({ code: 'invalid_request' });
    expect(await refreshTokens.find(first.body.refresh_token as string)).toMatchObject({ status: 'active' });
  });
});
