import { loadConfig, type AppConfig } from '@fpa/config';
import { createDpopProof, DpopNonces, generateClientKeyPair, type ClientKeyPair } from '@fpa/crypto';
import { FixedClock, OAuthError, type RequestInfo } from '@fpa/oauth-core';
import { MetricsRegistry } from '@fpa/platform';
import { DpopMetrics } from './dpop.metrics';
import { DpopService } from './dpop.service';

const ISSUER = 'https://auth.example.com';
const SECRET = Buffer.alloc(32, 3);
const config: AppConfig = loadConfig('standalone', { ISSUER, DPOP_NONCE_SECRET: SECRET.toString('base64url') });
const HTU = `${ISSUER}/token`;

describe('DpopService at the authorization server (RFC 9449 §4.3, §8; DPOP-4…14, DPOP-27)', () => {
  let clock: FixedClock;
  let metrics: DpopMetrics;
  let dpop: DpopService;
  let key: ClientKeyPair;

  beforeAll(async () => {
    key = await generateClientKeyPair();
  });
  beforeEach(() => {
    // Near real time: createDpopProof stamps iat from Date.now().
    clock = new FixedClock(Date.now());
    metrics = new DpopMetrics(new MetricsRegistry());
    dpop = new DpopService(config, clock, metrics);
  });

  const request = (headers: Record<string, string | string[]> = {}, method = 'POST'): RequestInfo => ({ method, path: '/token', headers, ip: '203.0.113.9', requestId: 'r' });
  const proof = (input: { htm?: string; htu?: string; nonce?: string | null; accessToken?: string; iat?: number } = {}): Promise<string> =>
    createDpopProof(key, { htm: input.htm ?? 'POST', htu: input.htu ?? HTU, nonce: input.nonce === null ? undefined : (input.nonce ?? dpop.currentNonce()), accessToken: input.accessToken, iat: input.iat });
  const failures = async (reason: string): Promise<number> => (await metrics.failures.get()).values.filter((v) => v.labels.reason === reason).reduce((n, v) => n + v.value, 0);
  const refused = async (p: Promise<unknown>, code: string, reason: string): Promise<void> => {
    await expect(p).rejects.toBeInstanceOf(OAuthError);
    await expect(p).rejects.toMatchObject({ code, reason });
  };

  it('no DPoP header → undefined (the caller decides whether one was required)', async () => {
    await expect(dpop.validate(request(), '/token')).resolves.toBeUndefined();
  });

  it('a valid proof with the current nonce → its key thumbprint, jti, and a replay claim per key and jti for the acceptance window', async () => {
    const p = await proof();
    const validated = await dpop.validate(request({ dpop: p }), '/token');
    expect(validated).toMatchObject({ jkt: key.jkt, nonce: dpop.currentNonce() });
    // DPOP-14: remembered for as long as the proof could be accepted: max age plus skew both ways.
    expect(validated!.replayClaim.ttlSeconds).toBe(config.dpop.proofMaxAgeSeconds + 2 * config.clockSkewSeconds + 1);
    // Issue 8: the earliest moment it could have been accepted, for the store's generation rule.
    expect(validated!.replayClaim.acceptableSince).toBe(validated!.iat - config.clockSkewSeconds);
    const again = await dpop.validate(request({ dpop: await proof() }), '/token');
    expect(again!.replayClaim.key).not.toBe(validated!.replayClaim.key);
    expect(validated!.replayClaim.key).toMatch(/^jti:dpop:/);
    expect(validated!.replayClaim.key).not.toContain(validated!.jti);
  });

  describe('DPOP-13 / DPOP-27 nonces', () => {
    it('no nonce → use_dpop_nonce with the current nonce in DPoP-Nonce', async () => {
      const p = dpop.validate(request({ dpop: await proof({ nonce: null }) }), '/token');
      await refused(p, 'use_dpop_nonce', 'nonce_missing');
      await expect(p).rejects.toMatchObject({ status: 400, headers: { 'DPoP-Nonce': dpop.currentNonce() } });
      expect(await failures('nonce')).toBe(1);
    });

    it('a nonce from the previous window is accepted; two windows old is stale', async () => {
      const issued = dpop.currentNonce();
      clock.advance(config.dpop.nonceWindowSeconds);
      await expect(dpop.validate(request({ dpop: await proof({ nonce: issued, iat: clock.nowSeconds() }) }), '/token')).resolves.toMatchObject({ jkt: key.jkt });
      clock.advance(config.dpop.nonceWindowSeconds);
      await refused(dpop.validate(request({ dpop: await proof({ nonce: issued, iat: clock.nowSeconds() }) }), '/token'), 'use_dpop_nonce', 'nonce_stale');
    });

    it('a forged nonce, or one minted for a resource server (another realm), is refused', async () => {
      const rsNonce = new DpopNonces(SECRET, config.dpop.nonceWindowSeconds, `rs|${ISSUER}`).current(clock.nowSeconds());
      await refused(dpop.validate(request({ dpop: await proof({ nonce: rsNonce }) }), '/token'), 'use_dpop_nonce', 'nonce_stale');
      await refused(dpop.validate(request({ dpop: await proof({ nonce: 'A'.repeat(38) }) }), '/token'), 'use_dpop_nonce', 'nonce_stale');
    });

    it('the nonce depends on the window: the clock, not a counter, moves it', () => {
      const first = dpop.currentNonce();
      expect(dpop.currentNonce()).toBe(first);
      clock.advance(config.dpop.nonceWindowSeconds);
      expect(dpop.currentNonce()).not.toBe(first);
    });
  });

  describe('invalid proofs → invalid_dpop_proof, counted by reason', () => {
    it('DPOP-4: two DPoP headers', async () => {
      await refused(dpop.validate(request({ dpop: [await proof(), await proof()] }), '/token'), 'invalid_dpop_proof', 'dpop_multiple');
      expect(await failures('multiple')).toBe(1);
    });

    it('DPOP-11/12: another method or another URL than the endpoint’s external one', async () => {
      await refused(dpop.validate(request({ dpop: await proof({ htm: 'GET' }) }), '/token'), 'invalid_dpop_proof', 'dpop_htm');
      await refused(dpop.validate(request({ dpop: await proof({ htu: `${ISSUER}/par` }) }), '/token'), 'invalid_dpop_proof', 'dpop_htu');
      await refused(dpop.validate(request({ dpop: await proof() }), '/revoke'), 'invalid_dpop_proof', 'dpop_htu');
    });

    it('DPOP-14: a proof older than DPOP_PROOF_MAX_AGE_SECONDS (by the injected clock)', async () => {
      const p = await proof();
      clock.advance(config.dpop.proofMaxAgeSeconds + config.clockSkewSeconds + 1);
      await refused(dpop.validate(request({ dpop: p }), '/token'), 'invalid_dpop_proof', 'dpop_iat');
    });

    it('DPOP-15: with an access token, the proof must carry its hash (ath)', async () => {
      const htu = `${ISSUER}/authorize-challenge`;
      await refused(dpop.validate(request({ dpop: await proof({ htu }) }), '/authorize-challenge', 'the-token'), 'invalid_dpop_proof', 'dpop_ath');
      const withAth = await proof({ htu, accessToken: 'the-token' });
      await refused(dpop.validate(request({ dpop: withAth }), '/authorize-challenge', 'another-token'), 'invalid_dpop_proof', 'dpop_ath');
      await expect(dpop.validate(request({ dpop: withAth }), '/authorize-challenge', 'the-token')).resolves.toMatchObject({ jkt: key.jkt });
    });

    it('DPOP-5: not a compact JWS', async () => {
      await refused(dpop.validate(request({ dpop: 'not-a-jws' }), '/token'), 'invalid_dpop_proof', 'dpop_malformed');
    });
  });

  it('replayCompanion: the proof jti as a single-use claim; a replay is invalid_dpop_proof and counted', async () => {
    const validated = (await dpop.validate(request({ dpop: await proof() }), '/token'))!;
    const companion = dpop.replayCompanion(validated);
    expect(companion.claim).toBe(validated.replayClaim);
    expect(companion.refuse('replayed')).toMatchObject({ code: 'invalid_dpop_proof', reason: 'dpop_replay' });
    expect(await failures('replay')).toBe(1);
    // Issue 8: a proof that could have been used before the store lost its data.
    expect(companion.refuse('predates_generation')).toMatchObject({ code: 'invalid_dpop_proof', reason: 'dpop_predates_generation' });
    expect(await failures('predates_generation')).toBe(1);
    expect(dpop.claimRefusal('claimed')).toBeUndefined();
  });

  it('refuses to start without DPOP_NONCE_SECRET', () => {
    expect(() => new DpopService(loadConfig('standalone', { ISSUER }), clock, metrics)).toThrow(/DPOP_NONCE_SECRET/);
  });
});
