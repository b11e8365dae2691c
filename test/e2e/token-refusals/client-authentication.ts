import { randomBytes, randomUUID } from 'node:crypto';
import { generateClientKeyPair, signJwt, DpopNonces } from '@fpa/crypto';
import { RevocationService } from '@fpa/session';
import { DEVICE_CLIENT } from '@fpa/testing';
import { ASSERTION_TYPE, clientCredentialsForm, postForm, registeredDevice } from '../../support/http';
import { b64u, expectToken, hs256, type TokenRefusals } from '../../support/token-refusals';

/** Part of token-refusals.e2e-spec.ts: client authentication with the device assertion (RFC 7523 / rfc7523bis, JWTCA-*). */
export function clientAuthenticationRefusals(t: TokenRefusals): void {
  const { ccRequest, claimsOf, expectRefused, proof, send, tokenUrl, withAssertion } = t;

  describe('client authentication with the device assertion (CONTRACT §4)', () => {
    it('JWTCA-2 unknown client (assertion iss/sub) → 401 invalid_client', async () => {
      await expectRefused(() => ccRequest({ iss: 'no-such-client', sub: 'no-such-client' }), 401, 'invalid_client', ['auth:unknown_client']);
    });

    it('GEN-1 unknown client with Authorization: Basic → 401 invalid_client + WWW-Authenticate', async () => {
      const res = await expectRefused(
        async () => postForm(tokenUrl(), { grant_type: 'client_credentials' }, { authorization: `Basic ${Buffer.from('no-such-client:secret').toString('base64')}`, dpop: await proof() }),
        401,
        'invalid_client',
        ['auth:unknown_client'],
      );
      expect(res.headers.get('www-authenticate')).toMatch(/^Basic realm=/);
    });

    it('JWTCA-8 assertion signed with another key pair → 401 invalid_client', async () => {
      const other = await generateClientKeyPair('ES256');
      const assertion = await signJwt(claimsOf(), { alg: 'ES256', typ: 'client-authentication+jwt' }, other.privateKey);
      await expectRefused(() => withAssertion(assertion), 401, 'invalid_client', ['auth:bad_signature']);
    });

    it('JWTCA-8 assertion with a tampered payload (signature no longer matches) → 401 invalid_client', async () => {
      const [h, , s] = (await t.device.clientAssertion()).split('.');
      await expectRefused(() => withAssertion(`${h}.${b64u(claimsOf({ scope: 'admin' }))}.${s}`), 401, 'invalid_client', ['auth:bad_signature']);
    });

    it('JWTCA-8 alg none assertion → 401 invalid_client', async () => {
      const unsigned = `${b64u({ alg: 'none', typ: 'JWT' })}.${b64u(claimsOf())}.`;
      await expectRefused(() => withAssertion(unsigned), 401, 'invalid_client', ['auth:alg_not_allowed']);
    });

    it('JWTCA-8 HS256 assertion keyed with a random secret → 401 invalid_client', async () => {
      await expectRefused(() => withAssertion(hs256({ alg: 'HS256', typ: 'JWT' }, claimsOf(), randomBytes(32))), 401, 'invalid_client', ['auth:alg_not_allowed']);
    });

    it('JWTCA-8 HS256 assertion keyed with the device public key (algorithm confusion) → 401 invalid_client', async () => {
      for (const secret of [JSON.stringify(t.device.deviceKey.publicJwk), Buffer.from(String(t.device.deviceKey.publicJwk.x), 'base64url')]) {
        await expectRefused(() => withAssertion(hs256({ alg: 'HS256', typ: 'JWT' }, claimsOf(), secret)), 401, 'invalid_client', ['auth:alg_not_allowed']);
      }
    });

    it('JWTCA-1 client_assertion that is not a JWT → 401 invalid_client', async () => {
      await expectRefused(() => withAssertion('not-a-jwt'), 401, 'invalid_client', ['auth:malformed']);
    });

    it('JWTCA-5 expired assertion (exp in the past) → 401 invalid_client', async () => {
      const now = Math.floor(Date.now() / 1000);
      await expectRefused(() => ccRequest({ iat: now - 120, exp: now - 60 }), 401, 'invalid_client', ['auth:expired']);
    });

    it('JWTCA-5 exp more than 300 s ahead → 401 invalid_client; 290 s ahead is accepted', async () => {
      const now = Math.floor(Date.now() / 1000);
      await expectRefused(() => ccRequest({ exp: now + 600 }), 401, 'invalid_client', ['auth:lifetime']);
      await expectRefused(() => ccRequest({ exp: now + 320 }), 401, 'invalid_client', ['auth:lifetime']);
      expectToken(await ccRequest({ exp: now + 290 }));
    });

    it('JWTCA-5 missing exp → 401 invalid_client', async () => {
      await expectRefused(() => ccRequest({ exp: undefined }), 401, 'invalid_client', ['auth:claim_invalid']);
    });

    it('JWTCA-6 nbf in the future → 401 invalid_client', async () => {
      await expectRefused(() => ccRequest({ nbf: Math.floor(Date.now() / 1000) + 120 }), 401, 'invalid_client', ['auth:not_yet_valid']);
    });

    it.each([
      ['another server', 'https://evil.example.com'],
      ['the issuer with a trailing slash', 'TRAILING'],
      ['another endpoint of the issuer (/par)', 'PAR'],
      ['an array with a foreign audience', 'ARRAY'],
      ['no aud at all', 'NONE'],
    ])('JWTCA-4 wrong aud (%s) → 401 invalid_client', async (_name, aud) => {
      const value =
        aud === 'TRAILING' ? `${t.suite.issuer}/` : aud === 'PAR' ? `${t.suite.issuer}/par` : aud === 'ARRAY' ? [t.suite.issuer, 'https://evil.example.com'] : aud === 'NONE' ? undefined : aud;
      await expectRefused(() => ccRequest({ aud: value }), 401, 'invalid_client', ['auth:audience']);
    });

    it('JWTCA-9 strict default: aud = token endpoint URL → 401 invalid_client (opt-outs: client-assertion.e2e-spec.ts)', async () => {
      await expectRefused(() => ccRequest({ aud: `${t.suite.issuer}/token` }), 401, 'invalid_client', ['auth:audience']);
    });

    it('JWTCA-7 missing jti → 401 invalid_client', async () => {
      await expectRefused(() => ccRequest({ jti: undefined }), 401, 'invalid_client', ['auth:claim_invalid']);
    });

    it('JWTCA-7 replayed assertion: second use with a fresh DPoP proof → 401 invalid_client', async () => {
      const form = await clientCredentialsForm(t.device);
      expectToken(await send(form, await proof()));
      await expectRefused(async () => send(form, await proof()), 401, 'invalid_client', ['auth:replay']);
    });

    it('JWTCA-7 a new assertion reusing a spent jti → 401 invalid_client', async () => {
      const jti = randomUUID();
      expectToken(await ccRequest({ jti }));
      await expectRefused(() => ccRequest({ jti, iat: Math.floor(Date.now() / 1000) + 1 }), 401, 'invalid_client', ['auth:replay']);
    });

    it('JWTCA-3 sub different from iss → 401 invalid_client', async () => {
      await expectRefused(() => ccRequest({ sub: 'other-app' }), 401, 'invalid_client', ['auth:claim_invalid']);
    });

    it('JWTCA-1 client_id parameter different from the assertion iss → 401 invalid_client', async () => {
      await expectRefused(() => ccRequest({}, { client_id: 'other-app' }), 401, 'invalid_client', ['auth:client_id_mismatch']);
      // Control: the matching client_id is fine.
      expectToken(await ccRequest({}, { client_id: DEVICE_CLIENT.client_id }));
    });

    it('JWTCA-1 wrong client_assertion_type → 401 invalid_client', async () => {
      await expectRefused(() => ccRequest({}, { client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:saml2-bearer' }), 401, 'invalid_client', ['auth:assertion_type']);
    });

    it('JWTCA-1 client_assertion without client_assertion_type → 401 invalid_client', async () => {
      await expectRefused(async () => send({ grant_type: 'client_credentials', client_assertion: await t.device.clientAssertion() }, await proof()), 401, 'invalid_client', ['auth:assertion_type']);
    });

    it('JWTCA-1 client_assertion_type without client_assertion → 401 invalid_client', async () => {
      await expectRefused(async () => send({ grant_type: 'client_credentials', client_assertion_type: ASSERTION_TYPE }, await proof()), 401, 'invalid_client', ['auth:missing_assertion']);
    });

    it('JWTCA-1 an unexpected assertion typ (dpop+jwt) → 401 invalid_client', async () => {
      const assertion = await signJwt(claimsOf(), { alg: 'ES256', typ: 'dpop+jwt' }, t.device.deviceKey.privateKey);
      await expectRefused(() => withAssertion(assertion), 401, 'invalid_client', ['auth:typ']);
    });

    it('GEN-1 two client authentication methods at once → invalid_request', async () => {
      await expectRefused(() => ccRequest({}, { client_secret: 'x' }), 400, 'invalid_request', []);
    });

    it('CONTRACT-4 client_credentials without any client authentication → 401 invalid_client', async () => {
      await expectRefused(async () => send({ grant_type: 'client_credentials' }, await proof()), 401, 'invalid_client', ['auth:missing_client_id']);
    });

    it('CONTRACT-4 client_credentials with client_id only (no device assertion) → unauthorized_client', async () => {
      await expectRefused(async () => send({ grant_type: 'client_credentials', client_id: DEVICE_CLIENT.client_id }, await proof()), 400, 'unauthorized_client', []);
    });

    it('CONTRACT-4 assertion without device_auth_session → 401 invalid_client', async () => {
      await expectRefused(() => ccRequest({ device_auth_session: undefined }), 401, 'invalid_client', ['auth:no_device_session']);
    });

    it('CONTRACT-4 unknown device_auth_session → 401 invalid_client', async () => {
      await expectRefused(() => ccRequest({ device_auth_session: randomBytes(32).toString('base64url') }), 401, 'invalid_client', ['auth:unknown_session']);
    });

    it('CONTRACT-4 expired device_auth_session → 401 invalid_client', async () => {
      const dev = await registeredDevice(t.suite.issuer, DEVICE_CLIENT.client_id);
      expectToken(await ccRequest({}, {}, dev));
      // A minute past the session's lifetime on the app's clock; assertion, proof and nonce are made for
      // that moment, so the session is the only thing out of date.
      t.suite.clock.advance((t.suite.config.tokens.deviceSessionTtl + 60) * 1000);
      try {
        const now = t.suite.clock.nowSeconds();
        const { nonceSecret, nonceWindowSeconds } = t.suite.config.dpop;
        t.nonce = new DpopNonces(nonceSecret!, nonceWindowSeconds, `as|${t.suite.issuer}`).current(now);
        await expectRefused(() => ccRequest({ iat: now, exp: now + 60 }, {}, dev, { iat: now }), 401, 'invalid_client', ['auth:session_expired']);
      } finally {
        t.suite.clock.reset();
      }
    });

    it('CONTRACT-4 revoked device_auth_session → 401 invalid_client', async () => {
      const dev = await registeredDevice(t.suite.issuer, DEVICE_CLIENT.client_id);
      expectToken(await ccRequest({}, {}, dev));
      // Through the revocation path (its flag reaches token processes' cached copies: DeviceSessionCache).
      await t.suite.get(RevocationService).revokeSession(dev.authSession!, 'test', new Date());
      await expectRefused(() => ccRequest({}, {}, dev), 401, 'invalid_client', ['auth:session_expired']);
    });

    it('CONTRACT-4 device_auth_session belonging to another client → 401 invalid_client', async () => {
      const foreign = await registeredDevice(t.suite.issuer, 'other-app');
      // Control: that device authenticates as its own client.
      expectToken(await ccRequest({ iss: 'other-app', sub: 'other-app' }, {}, foreign));
      // Signed by the foreign device's own key, claiming to be native-app.
      await expectRefused(() => ccRequest({ iss: DEVICE_CLIENT.client_id, sub: DEVICE_CLIENT.client_id }, {}, foreign), 401, 'invalid_client', ['auth:foreign_session']);
    });
  });
}
