import { generateKeyPairSync } from 'node:crypto';
import { createDpopProof, generateClientKeyPair, randomToken, s256CodeChallenge } from '@fpa/crypto';
import { expectOAuthError, postForm, type FormResponse } from '../support/http';
import { DEVICE_CLIENT } from '@fpa/testing';
import { startStandalone, type RunningApp } from '@fpa/testing/app';

const APP = { ...DEVICE_CLIENT, client_id: 'first-party-app', grant_types: ['fp_register', 'client_credentials', 'refresh_token', 'authorization_code'] };
const LIMIT = 3;

/**
 * Issue 7, finding 10: IP-keyed limits count an IPv6 client by its /64 and an IPv4-mapped address as
 * its IPv4 address, so rotating addresses inside one prefix (RFC 8981 temporary addresses, or a /64
 * handed to one subscriber) does not reset them. The client address is the one the trusted proxy
 * (TRUST_PROXY, here the loopback test client) puts in X-Forwarded-For.
 */
describe('IP rate limits by /64 prefix (standalone, PostgreSQL + Redis, TRUST_PROXY)', () => {
  let suite: RunningApp;
  let nonce: string | undefined;
  const sessions = async (kind: string): Promise<number> => Number((await suite.env.db.query<{ n: string }>('SELECT count(*) AS n FROM device_sessions WHERE kind = $1', [kind]))[0].n);

  beforeAll(async () => {
    suite = await startStandalone('ratelimitprefix', {
      TRUST_PROXY: 'loopback',
      REGISTRATION_RATE_LIMIT: String(LIMIT),
      REGISTRATION_RATE_WINDOW_SECONDS: '60',
      CHALLENGE_RATE_LIMIT_IP: String(LIMIT),
    });
    await suite.createClient(APP);
  });
  afterAll(async () => suite?.close());

  /** A new public-client flow (FiPA -04 (a)) with a fresh DPoP key, as `ip` seen through the proxy. */
  const startFlow = async (ip: string): Promise<FormResponse> => {
    const url = `${suite.issuer}/authorize-challenge`;
    const key = await generateClientKeyPair();
    const form = { client_id: APP.client_id, response_type: 'code', code_challenge: s256CodeChallenge(randomToken(32)), code_challenge_method: 'S256' };
    const res = await postForm(url, form, { dpop: await createDpopProof(key, { htm: 'POST', htu: url, nonce }), 'x-forwarded-for': ip });
    nonce = res.headers.get('dpop-nonce') ?? nonce;
    return res;
  };
  const register = (ip: string): Promise<FormResponse> =>
    postForm(`${suite.issuer}/register`, { client_id: APP.client_id, public_key: JSON.stringify(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' })) }, { 'x-forwarded-for': ip });
  const expectLimited = (res: FormResponse): void => {
    expectOAuthError(res, 429, 'slow_down');
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(Number(res.headers.get('retry-after'))).toBeLessThanOrEqual(60);
  };

  it('challenge endpoint: rotating addresses in one /64 share one limit; another /64 is not affected', async () => {
    // The DPoP nonce, fetched from an address of its own.
    expectOAuthError(await startFlow('192.0.2.200'), 400, 'use_dpop_nonce');
    const inside = ['2001:db8:aa:1::1', '2001:DB8:AA:1:0:0:0:2', '2001:0db8:00aa:0001:ffff:1:2:3'];
    for (const ip of inside) {
      const res = await startFlow(ip);
      expect({ status: res.status, error: res.body.error }).toEqual({ status: 403, error: 'insufficient_authorization' });
    }
    const before = await sessions('challenge');
    expectLimited(await startFlow('2001:db8:aa:1:dead:beef:0:9'));
    expectLimited(await startFlow('2001:db8:aa:1::1%eth0'));
    expect(await sessions('challenge')).toBe(before);

    const neighbour = await startFlow('2001:db8:aa:2::1');
    expect({ status: neighbour.status, error: neighbour.body.error }).toEqual({ status: 403, error: 'insufficient_authorization' });
    expect(await sessions('challenge')).toBe(before + 1);
  });

  it('challenge endpoint: an IPv4 client and its IPv4-mapped spelling are one subject', async () => {
    for (const ip of ['198.51.100.7', '::ffff:198.51.100.7', '::FFFF:c633:6407']) {
      expect((await startFlow(ip)).status).toBe(403);
    }
    expectLimited(await startFlow('198.51.100.7'));
    expect((await startFlow('198.51.100.8')).status).toBe(403);
  });

  it('registration: the same /64 keying; nothing is stored past the limit', async () => {
    for (const ip of ['2001:db8:bb:7::1', '2001:db8:bb:7::2', '2001:db8:bb:7:1:2:3:4']) {
      const res = await register(ip);
      expect(res.status).toBe(200);
    }
    const before = await sessions('device');
    expectLimited(await register('2001:db8:bb:7:ffff:ffff:ffff:ffff'));
    expect(await sessions('device')).toBe(before);
    const other = await register('2001:db8:bb:8::1');
    expect(other.status).toBe(200);
    // The audit and the session keep the exact address; only the limit counts by prefix.
    const rows = await suite.env.db.query<{ registered_ip: string }>('SELECT registered_ip FROM device_sessions WHERE auth_session = $1', [other.body.auth_session]);
    expect(rows[0].registered_ip).toBe('2001:db8:bb:8::1');
  });
});
