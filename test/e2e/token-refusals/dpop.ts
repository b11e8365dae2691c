import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { DpopNonces, generateClientKeyPair, signJwt, type JWK } from '@fpa/crypto';
import { clientCredentialsForm, rawPost } from '../../support/http';
import { b64u, expectToken, hs256, type TokenRefusals } from '../../support/token-refusals';

/** Part of token-refusals.e2e-spec.ts: DPoP at the token endpoint (RFC 9449, DPOP-*). */
export function dpopRefusals(t: TokenRefusals): void {
  const { ccRequest, expectRefused, proof, send, tokenUrl } = t;

  describe('DPoP at the token endpoint (RFC 9449)', () => {
    it('DPOP-19 no proof for a client with dpop_bound_access_tokens → 400 invalid_dpop_proof', async () => {
      await expectRefused(async () => send(await clientCredentialsForm(t.device)), 400, 'invalid_dpop_proof', ['dpop:missing']);
    });

    it('DPOP-13/DPOP-27 proof without nonce → 400 use_dpop_nonce + DPoP-Nonce; the retry with that nonce and the SAME assertion succeeds', async () => {
      const form = await clientCredentialsForm(t.device);
      const challenged = await expectRefused(async () => send(form, await proof({ nonce: undefined })), 400, 'use_dpop_nonce', ['dpop:nonce']);
      const fresh = challenged.headers.get('dpop-nonce');
      expect(fresh).toMatch(/^[A-Za-z0-9_-]{38}$/);
      // The nonce round did not burn the assertion's jti.
      const retry = await send(form, await proof({ nonce: fresh! }));
      expectToken(retry);
      expect(retry.body.auth_session).toBe(t.device.authSession);
    });

    it('DPOP-13 forged nonce → 400 use_dpop_nonce + DPoP-Nonce', async () => {
      const res = await expectRefused(async () => send(await clientCredentialsForm(t.device), await proof({ nonce: randomBytes(28).toString('base64url') })), 400, 'use_dpop_nonce', ['dpop:nonce']);
      expect(res.headers.get('dpop-nonce')).toMatch(/^[A-Za-z0-9_-]{38}$/);
    });

    it('DPOP-13 stale nonce (authentic, minted five windows ago) → 400 use_dpop_nonce + a different DPoP-Nonce', async () => {
      const { nonceSecret, nonceWindowSeconds } = t.suite.config.dpop;
      const stale = new DpopNonces(nonceSecret!, nonceWindowSeconds, `as|${t.suite.issuer}`).current(Math.floor(Date.now() / 1000) - 5 * nonceWindowSeconds);
      expect(stale).not.toBe(t.nonce);
      const res = await expectRefused(async () => send(await clientCredentialsForm(t.device), await proof({ nonce: stale })), 400, 'use_dpop_nonce', ['dpop:nonce']);
      expect(res.headers.get('dpop-nonce')).toMatch(/^[A-Za-z0-9_-]{38}$/);
      expect(res.headers.get('dpop-nonce')).not.toBe(stale);
    });

    it('DPOP-27 a nonce minted for another server (resource-server realm) → 400 use_dpop_nonce', async () => {
      const { nonceSecret, nonceWindowSeconds } = t.suite.config.dpop;
      const rsNonce = new DpopNonces(nonceSecret!, nonceWindowSeconds, `rs|${t.suite.issuer}`).current(Math.floor(Date.now() / 1000));
      await expectRefused(async () => send(await clientCredentialsForm(t.device), await proof({ nonce: rsNonce })), 400, 'use_dpop_nonce', ['dpop:nonce']);
    });

    it('DPOP-11 wrong htm → 400 invalid_dpop_proof', async () => {
      await expectRefused(async () => send(await clientCredentialsForm(t.device), await proof({ htm: 'GET' })), 400, 'invalid_dpop_proof', ['dpop:htm']);
    });

    it.each([
      ['another path of the issuer', '/par'],
      ['another host', 'https://evil.example.com/token'],
      ['https instead of the issuer scheme', 'HTTPS'],
    ])('DPOP-12 wrong htu (%s) → 400 invalid_dpop_proof', async (_name, target) => {
      const htu = target === 'HTTPS' ? tokenUrl().replace(/^http:/, 'https:') : target.startsWith('/') ? `${t.suite.issuer}${target}` : target;
      await expectRefused(async () => send(await clientCredentialsForm(t.device), await proof({ htu })), 400, 'invalid_dpop_proof', ['dpop:htu']);
    });

    it('DPOP-14 stale iat (10 minutes ago) → 400 invalid_dpop_proof', async () => {
      await expectRefused(async () => send(await clientCredentialsForm(t.device), await proof({ iat: Math.floor(Date.now() / 1000) - 600 })), 400, 'invalid_dpop_proof', ['dpop:iat']);
    });

    it('DPOP-14 iat 10 minutes in the future → 400 invalid_dpop_proof', async () => {
      await expectRefused(async () => send(await clientCredentialsForm(t.device), await proof({ iat: Math.floor(Date.now() / 1000) + 600 })), 400, 'invalid_dpop_proof', ['dpop:iat']);
    });

    it('DPOP-14 replayed proof (same proof twice, fresh assertions) → second is 400 invalid_dpop_proof', async () => {
      const p = await proof();
      expectToken(await send(await clientCredentialsForm(t.device), p));
      await expectRefused(async () => send(await clientCredentialsForm(t.device), p), 400, 'invalid_dpop_proof', ['dpop:replay']);
    });

    it('DPOP-14 a new proof reusing a spent jti → 400 invalid_dpop_proof', async () => {
      const jti = randomUUID();
      expectToken(await send(await clientCredentialsForm(t.device), await proof({ jti })));
      await expectRefused(async () => send(await clientCredentialsForm(t.device), await proof({ jti, iat: Math.floor(Date.now() / 1000) - 1 })), 400, 'invalid_dpop_proof', ['dpop:replay']);
    });

    it('DPOP-10 private jwk (with d) in the proof header → 400 invalid_dpop_proof', async () => {
      const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const jwk = privateKey.export({ format: 'jwk' }) as JWK;
      expect(jwk.d).toEqual(expect.any(String));
      const p = await signJwt({ jti: randomUUID(), htm: 'POST', htu: tokenUrl(), iat: Math.floor(Date.now() / 1000), nonce: t.nonce }, { alg: 'ES256', typ: 'dpop+jwt', jwk }, privateKey);
      const res = await expectRefused(async () => send(await clientCredentialsForm(t.device), p), 400, 'invalid_dpop_proof', ['dpop:private_jwk']);
      expect(res.text).not.toContain(jwk.d!);
    });

    it.each([
      ['JWT', 'JWT'],
      ['at+jwt', 'at+jwt'],
      ['missing', undefined],
    ])('DPOP-7 wrong typ (%s) → 400 invalid_dpop_proof', async (_name, typ) => {
      const header = { alg: 'ES256', jwk: t.device.dpopKey.publicJwk, ...(typ === undefined ? {} : { typ }) };
      const p = await signJwt({ jti: randomUUID(), htm: 'POST', htu: tokenUrl(), iat: Math.floor(Date.now() / 1000), nonce: t.nonce }, header, t.device.dpopKey.privateKey);
      await expectRefused(async () => send(await clientCredentialsForm(t.device), p), 400, 'invalid_dpop_proof', ['dpop:typ']);
    });

    it('DPOP-8 HS256 proof → 400 invalid_dpop_proof', async () => {
      const p = hs256({ typ: 'dpop+jwt', alg: 'HS256', jwk: t.device.dpopKey.publicJwk }, { jti: randomUUID(), htm: 'POST', htu: tokenUrl(), iat: Math.floor(Date.now() / 1000), nonce: t.nonce }, randomBytes(32));
      await expectRefused(async () => send(await clientCredentialsForm(t.device), p), 400, 'invalid_dpop_proof', ['dpop:alg']);
    });

    it('DPOP-8 alg none proof → 400 invalid_dpop_proof', async () => {
      const p = `${b64u({ typ: 'dpop+jwt', alg: 'none', jwk: t.device.dpopKey.publicJwk })}.${b64u({ jti: randomUUID(), htm: 'POST', htu: tokenUrl(), iat: Math.floor(Date.now() / 1000), nonce: t.nonce })}.`;
      await expectRefused(async () => send(await clientCredentialsForm(t.device), p), 400, 'invalid_dpop_proof', ['dpop:malformed']);
    });

    it('DPOP-9 proof signed by a key other than its jwk → 400 invalid_dpop_proof', async () => {
      const other = await generateClientKeyPair('ES256');
      const p = await signJwt(
        { jti: randomUUID(), htm: 'POST', htu: tokenUrl(), iat: Math.floor(Date.now() / 1000), nonce: t.nonce },
        { alg: 'ES256', typ: 'dpop+jwt', jwk: t.device.dpopKey.publicJwk },
        other.privateKey,
      );
      await expectRefused(async () => send(await clientCredentialsForm(t.device), p), 400, 'invalid_dpop_proof', ['dpop:signature']);
    });

    it('DPOP-6 proof without jti → 400 invalid_dpop_proof', async () => {
      const p = await signJwt({ htm: 'POST', htu: tokenUrl(), iat: Math.floor(Date.now() / 1000), nonce: t.nonce }, { alg: 'ES256', typ: 'dpop+jwt', jwk: t.device.dpopKey.publicJwk }, t.device.dpopKey.privateKey);
      await expectRefused(async () => send(await clientCredentialsForm(t.device), p), 400, 'invalid_dpop_proof', ['dpop:claims']);
    });

    it('DPOP-5 a DPoP header that is not a compact JWS → 400 invalid_dpop_proof', async () => {
      await expectRefused(async () => send(await clientCredentialsForm(t.device), 'not-a-jws'), 400, 'invalid_dpop_proof', ['dpop:malformed']);
    });

    it('seed 000 (C) proof signed with the DEVICE key → 400 invalid_dpop_proof', async () => {
      await expectRefused(async () => send(await clientCredentialsForm(t.device), await proof({}, t.device.deviceKey)), 400, 'invalid_dpop_proof', ['dpop:device_key']);
    });

    it('DPOP-4 two DPoP headers → 400 invalid_dpop_proof', async () => {
      const body = new URLSearchParams(await clientCredentialsForm(t.device)).toString();
      await expectRefused(
        async () => rawPost(tokenUrl(), body, { 'content-type': 'application/x-www-form-urlencoded', dpop: [await proof(), await proof()] }),
        400,
        'invalid_dpop_proof',
        ['dpop:multiple'],
      );
    });

    it('DPOP-16 a valid proof is not enough: a bad assertion with it is still invalid_client, not a token', async () => {
      await expectRefused(() => ccRequest({ aud: 'https://evil.example.com' }), 401, 'invalid_client', ['auth:audience']);
    });
  });
}
