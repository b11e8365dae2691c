import { decodeJwtUnverified, randomToken } from '@fpa/crypto';
import type { ValidatedDpopProof } from '@fpa/dpop';
import { OAuthError } from '@fpa/oauth-core';
import type { DeviceSession } from '@fpa/session';
import type { AuthenticatedClient } from '../client-authenticator.service';
import { FakeRefreshTokens, FakeSigner, ISSUER, requestInfo, testClient, testClock, testConfig, testSession, testPopBinder } from '../testing/fakes';
import { TokenIssuer } from '../token-issuer.service';
import { ClientCredentialsGrant } from './client-credentials.grant';

const proof: ValidatedDpopProof = { jkt: 'dpop-jkt', jwk: {}, jti: 'j', iat: 0, nonce: 'n', replayClaim: { key: 'k', ttlSeconds: 60 } };

describe('ClientCredentialsGrant (seed 000 (C)/(D), CONTRACT §4)', () => {
  let refreshTokens: FakeRefreshTokens;
  let grant: ClientCredentialsGrant;
  let session: DeviceSession;
  const client = testClient();
  let device: AuthenticatedClient;

  beforeEach(async () => {
    const clock = testClock();
    const config = testConfig();
    refreshTokens = new FakeRefreshTokens();
    grant = new ClientCredentialsGrant(config, clock, new TokenIssuer(config, clock, await FakeSigner.create()), refreshTokens, testPopBinder(clock));
    session = testSession();
    device = { client, method: 'private_key_jwt', deviceSession: session };
  });

  /** `dpop: null` = the request carried no proof. */
  const request = (form: Record<string, string> = {}, auth: AuthenticatedClient = device, dpop: ValidatedDpopProof | null = proof) =>
    grant.handle({ form, client: auth, dpop: dpop ?? undefined, request: requestInfo() });
  const claimsOf = (body: Record<string, unknown>): Record<string, unknown> => decodeJwtUnverified(body.access_token as string).payload;
  const rejectsWith = async (p: Promise<unknown>, code: string): Promise<void> => {
    await expect(p).rejects.toBeInstanceOf(OAuthError);
    await expect(p).rejects.toMatchObject({ code });
  };

  it('issues a DPoP-bound token for the device session: sub = client (RFC 9068 §2.2), auth_session claim and scope, default audience', async () => {
    const result = await request();
    expect(result.issued).toEqual({ tokenType: 'DPoP' });
    expect(result.body).toMatchObject({ token_type: 'DPoP', auth_session: session.authSession, expires_in: 600, scope: `openid api.read auth_session:${session.authSession}` });
    expect(claimsOf(result.body)).toMatchObject({
      iss: ISSUER,
      sub: client.id,
      client_id: client.id,
      aud: `${ISSUER}/resources`,
      auth_session: session.authSession,
      cnf: { jkt: 'dpop-jkt' },
    });
  });

  it('without a proof the token is a Bearer token and carries no cnf', async () => {
    const result = await request({}, device, null);
    expect(result.body.token_type).toBe('Bearer');
    expect(claimsOf(result.body).cnf).toBeUndefined();
  });

  it('a refresh token bound to the same key and session, recording the access token it came with', async () => {
    const result = await request();
    const rt = await refreshTokens.find(result.body.refresh_token as string);
    expect(rt).toMatchObject({ clientId: client.id, authSession: session.authSession, jkt: 'dpop-jkt', accessTokenJti: claimsOf(result.body).jti, status: 'active' });
  });

  it('no refresh token for a client without the refresh_token grant', async () => {
    const result = await request({}, { ...device, client: testClient({ grantTypes: ['client_credentials'] }) });
    expect(result.body.refresh_token).toBeUndefined();
    expect(refreshTokens.byHash.size).toBe(0);
  });

  it('a public client needs the device assertion: another client authentication method is unauthorized_client', async () => {
    await rejectsWith(request({}, { client, method: 'none' }), 'unauthorized_client');
    await rejectsWith(request({}, { client, method: 'private_key_jwt' }), 'unauthorized_client');
  });

  describe('RFC 6749 §4.4: a confidential client on its own behalf', () => {
    const service = testClient({ id: 'svc', type: 'confidential', authMethods: ['private_key_jwt', 'client_secret_basic'], grantTypes: ['client_credentials', 'refresh_token'], scopes: ['orders.read', 'orders.write'], dpopBoundAccessTokens: false });

    it('private_key_jwt with its own keys: sub = client, no auth_session, no refresh token (§4.4.3), DPoP-bound when a proof came', async () => {
      const result = await request({ scope: 'orders.read' }, { client: service, method: 'private_key_jwt' });
      expect(result.body).toEqual({ access_token: expect.any(String), token_type: 'DPoP', expires_in: 600, scope: 'orders.read' });
      const claims = claimsOf(result.body);
      expect(claims).toMatchObject({ iss: ISSUER, sub: 'svc', client_id: 'svc', aud: `${ISSUER}/resources`, scope: 'orders.read', cnf: { jkt: 'dpop-jkt' } });
      expect(claims.auth_session).toBeUndefined();
      expect(refreshTokens.byHash.size).toBe(0);
    });

    it('without a proof: a Bearer token; with a secret it works the same', async () => {
      const result = await request({}, { client: service, method: 'client_secret_basic' }, null);
      expect(result.body).toMatchObject({ token_type: 'Bearer', scope: 'orders.read orders.write' });
      expect(claimsOf(result.body).cnf).toBeUndefined();
    });

    it('its scopes and resources are limited as everyone’s', async () => {
      await rejectsWith(request({ scope: 'admin' }, { client: service, method: 'private_key_jwt' }), 'invalid_scope');
      await rejectsWith(request({ resource: 'https://elsewhere.example.com' }, { client: service, method: 'private_key_jwt' }), 'invalid_target');
    });
  });

  it('RFC 8707: an allowed resource becomes the audience; another is invalid_target', async () => {
    expect(claimsOf((await request({ resource: 'https://api.example.com' })).body).aud).toBe('https://api.example.com');
    await rejectsWith(request({ resource: 'https://elsewhere.example.com' }), 'invalid_target');
    await rejectsWith(request({ resource: 'not a uri' }), 'invalid_target');
    await rejectsWith(request({ resource: 'https://api.example.com#frag' }), 'invalid_target');
  });

  it('RFC 6749 §3.3: scope limited to the client’s scopes; auth_session: cannot be asked for', async () => {
    expect((await request({ scope: 'openid' })).body.scope).toBe(`openid auth_session:${session.authSession}`);
    await rejectsWith(request({ scope: 'admin' }), 'invalid_scope');
    await rejectsWith(request({ scope: `auth_session:${randomToken(32)}` }), 'invalid_scope');
  });

  it('once a user is attached to the device session, the token speaks for that user', async () => {
    const withUser: AuthenticatedClient = {
      ...device,
      deviceSession: { ...session, user: { userId: 'user-1', authTime: new Date(1_800_000_000_000), amr: ['otp', 'email'], acr: null, verified: ['email'] } },
    };
    expect(claimsOf((await request({}, withUser)).body)).toMatchObject({ sub: 'user-1', auth_time: 1_800_000_000, amr: ['otp', 'email'], email_verified: true });
  });
});
