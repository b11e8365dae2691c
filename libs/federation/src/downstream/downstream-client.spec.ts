import { decodeJwtUnverified, generateSigningKey, importPrivateJwk, thumbprint, type JWK } from '@fpa/crypto';
import { OAuthError } from '@fpa/oauth-core';
import type { OutboundHttp, OutboundResponse } from '../http/outbound-http';
import { OutboundError } from '../http/outbound-http';
import type { FederationKey, FederationKeyring, FederationKeyPurpose } from '../keys/federation-keys.service';
import { DownstreamClient, DownstreamRefusal } from './downstream-client';
import { DownstreamMetadataCache, metadataUrl } from './downstream-metadata.service';
import { parseDownstreams, type Downstream } from './downstream-registry';

const ISSUER = 'https://as2.example';
const D: Downstream = parseDownstreams([{ issuer: ISSUER, client_id: 'suite' }], false)[0];
const META = { issuer: ISSUER, nativeEndpoint: `${ISSUER}/authorize-challenge`, parEndpoint: `${ISSUER}/par`, tokenEndpoint: `${ISSUER}/token`, jwksUri: `${ISSUER}/jwks` };

class FakeClock {
  now = 1_800_000_000_000;
  nowMs(): number {
    return this.now;
  }
  nowSeconds(): number {
    return Math.floor(this.now / 1000);
  }
}

async function keyring(): Promise<FederationKeyring & { keys: Record<FederationKeyPurpose, FederationKey> }> {
  const make = async (): Promise<FederationKey> => {
    const g = await generateSigningKey('ES256');
    const bare = { kty: g.publicJwk.kty, crv: g.publicJwk.crv, x: g.publicJwk.x, y: g.publicJwk.y } as JWK;
    return { kid: g.kid, alg: 'ES256', privateKey: await importPrivateJwk(g.privateJwk, 'ES256'), publicJwk: bare, jkt: await thumbprint(bare) };
  };
  const keys = { assertion: await make(), dpop: await make() };
  return { keys, key: async (p) => keys[p], jwks: async () => ({ keys: [keys.assertion.publicJwk] }) };
}

/** Answers queued per URL; every call recorded. */
class FakeHttp implements OutboundHttp {
  calls: { method: string; url: string; form?: Record<string, string>; headers?: Record<string, string> }[] = [];
  constructor(private readonly answers: Record<string, (OutboundResponse | Error)[]>) {}
  private next(url: string): OutboundResponse {
    const a = this.answers[url]?.shift();
    if (!a) throw new Error(`unexpected call to ${url}`);
    if (a instanceof Error) throw a;
    return a;
  }
  async get(url: string): Promise<OutboundResponse> {
    this.calls.push({ method: 'GET', url });
    return this.next(url);
  }
  async postForm(url: string, form: Readonly<Record<string, string>>, headers: Readonly<Record<string, string>> = {}): Promise<OutboundResponse> {
    this.calls.push({ method: 'POST', url, form: { ...form }, headers: { ...headers } });
    return this.next(url);
  }
}
const ok = (json: unknown, status = 200, headers: Record<string, string> = {}): OutboundResponse => ({ status, headers, json });

describe('DownstreamClient (FED-11, FED-12)', () => {
  it('PAR: private_key_jwt with aud = the downstream issuer, PKCE S256, dpop_jkt of the DPoP key (not the assertion key), native_callback_uri and the routing login_hint forwarded', async () => {
    const keys = await keyring();
    const http = new FakeHttp({ [`${ISSUER}/par`]: [ok({ request_uri: 'urn:ietf:params:oauth:request_uri:abc', expires_in: 90 }, 201)] });
    const pushed = await new DownstreamClient(http, keys, new FakeClock()).push(D, META, { codeChallenge: 'c'.repeat(43), scope: 'openid', acrValues: undefined, nativeCallbackUri: 'https://app.example/cb', loginHint: 'u@bank.example' });
    expect(pushed).toEqual({ requestUri: 'urn:ietf:params:oauth:request_uri:abc', expiresIn: 90 });
    const form = http.calls[0].form!;
    expect(form).toMatchObject({ response_type: 'code', client_id: 'suite', code_challenge_method: 'S256', dpop_jkt: keys.keys.dpop.jkt, scope: 'openid', native_callback_uri: 'https://app.example/cb', login_hint: 'u@bank.example', client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer' });
    expect(form.dpop_jkt).not.toBe(keys.keys.assertion.jkt);
    expect(form).not.toHaveProperty('code_verifier');
    const assertion = decodeJwtUnverified(form.client_assertion);
    expect(assertion.header).toMatchObject({ alg: 'ES256', kid: keys.keys.assertion.kid });
    expect(assertion.payload).toMatchObject({ iss: 'suite', sub: 'suite', aud: ISSUER, jti: expect.any(String) });
  });

  it('a PAR refused is a DownstreamRefusal; a 5xx or a transport failure is 503 temporarily_unavailable', async () => {
    const keys = await keyring();
    const params = { codeChallenge: 'c'.repeat(43), scope: undefined, acrValues: undefined, nativeCallbackUri: undefined };
    const refused = new FakeHttp({ [`${ISSUER}/par`]: [ok({ error: 'invalid_client' }, 401)] });
    await expect(new DownstreamClient(refused, keys, new FakeClock()).push(D, META, params)).rejects.toBeInstanceOf(DownstreamRefusal);
    const down = new FakeHttp({ [`${ISSUER}/par`]: [new OutboundError('timeout', 'timed out')] });
    await expect(new DownstreamClient(down, keys, new FakeClock()).push(D, META, params)).rejects.toMatchObject({ code: 'temporarily_unavailable' });
    const garbage = new FakeHttp({ [`${ISSUER}/par`]: [{ status: 200, headers: {}, json: undefined }] });
    await expect(new DownstreamClient(garbage, keys, new FakeClock()).push(D, META, params)).rejects.toMatchObject({ code: 'temporarily_unavailable' });
  });

  it('token: DPoP proof of our key for the token endpoint, one retry with the server’s nonce and a fresh assertion; the verifier sent', async () => {
    const keys = await keyring();
    const http = new FakeHttp({ [`${ISSUER}/token`]: [ok({ error: 'use_dpop_nonce' }, 400, { 'dpop-nonce': 'n-1' }), ok({ access_token: 'at', token_type: 'DPoP' })] });
    const tokens = await new DownstreamClient(http, keys, new FakeClock()).redeem(D, META, 'code-1', 'verifier-1');
    expect(tokens.accessToken).toBe('at');
    expect(http.calls).toHaveLength(2);
    const [first, second] = http.calls;
    expect(first.form).toMatchObject({ grant_type: 'authorization_code', code: 'code-1', code_verifier: 'verifier-1', client_id: 'suite' });
    const proof = decodeJwtUnverified(second.headers!.DPoP);
    expect(proof.header).toMatchObject({ typ: 'dpop+jwt', jwk: keys.keys.dpop.publicJwk });
    expect(proof.payload).toMatchObject({ htm: 'POST', htu: `${ISSUER}/token`, nonce: 'n-1' });
    expect(decodeJwtUnverified(first.form!.client_assertion).payload.jti).not.toBe(decodeJwtUnverified(second.form!.client_assertion).payload.jti);
  });

  it('RFC 9449 §8: the nonce a redemption learnt is sent with the next one (one token request per federation), and a stale one is renewed once', async () => {
    const keys = await keyring();
    const http = new FakeHttp({
      [`${ISSUER}/token`]: [
        ok({ error: 'use_dpop_nonce' }, 400, { 'dpop-nonce': 'n-1' }),
        ok({ access_token: 'at-1', token_type: 'DPoP' }),
        ok({ access_token: 'at-2', token_type: 'DPoP' }, 200, { 'dpop-nonce': 'n-2' }),
        ok({ error: 'use_dpop_nonce' }, 400, { 'dpop-nonce': 'n-3' }),
        ok({ access_token: 'at-3', token_type: 'DPoP' }),
      ],
    });
    const client = new DownstreamClient(http, keys, new FakeClock());
    await client.redeem(D, META, 'code-1', 'v');
    expect((await client.redeem(D, META, 'code-2', 'v')).accessToken).toBe('at-2');
    // The second redemption went out at once with the nonce the first one learnt.
    expect(decodeJwtUnverified(http.calls[2].headers!.DPoP).payload.nonce).toBe('n-1');
    // A nonce given with a success is the next one's; a refused stale nonce is renewed once.
    expect((await client.redeem(D, META, 'code-3', 'v')).accessToken).toBe('at-3');
    expect(http.calls.map((c) => decodeJwtUnverified(c.headers!.DPoP).payload.nonce)).toEqual([undefined, 'n-1', 'n-1', 'n-2', 'n-3']);
  });

  it('token refused (invalid_grant) is a DownstreamRefusal, never retried', async () => {
    const http = new FakeHttp({ [`${ISSUER}/token`]: [ok({ error: 'invalid_grant' }, 400)] });
    await expect(new DownstreamClient(http, await keyring(), new FakeClock()).redeem(D, META, 'c', 'v')).rejects.toMatchObject({ error: 'invalid_grant' });
    expect(http.calls).toHaveLength(1);
  });
});

describe('DownstreamMetadataCache (RFC 8414, FED-1/FED-9)', () => {
  const metadata = (extra: Record<string, unknown> = {}) => ok({ issuer: ISSUER, pushed_authorization_request_endpoint: `${ISSUER}/par`, token_endpoint: `${ISSUER}/token`, ...extra });

  it('reads authorization_challenge_endpoint, or native_authorization_endpoint; none is undefined', async () => {
    const clock = new FakeClock();
    const a = new DownstreamMetadataCache(new FakeHttp({ [metadataUrl(ISSUER)]: [metadata({ authorization_challenge_endpoint: `${ISSUER}/ac` })] }), clock, 60);
    expect((await a.metadataOf(D)).nativeEndpoint).toBe(`${ISSUER}/ac`);
    const b = new DownstreamMetadataCache(new FakeHttp({ [metadataUrl(ISSUER)]: [metadata({ native_authorization_endpoint: `${ISSUER}/na` })] }), clock, 60);
    expect((await b.metadataOf(D)).nativeEndpoint).toBe(`${ISSUER}/na`);
    const c = new DownstreamMetadataCache(new FakeHttp({ [metadataUrl(ISSUER)]: [metadata()] }), clock, 60);
    expect((await c.metadataOf(D)).nativeEndpoint).toBeUndefined();
  });

  it('cached for its lifetime, fetched again after; a failed refresh serves the old copy one more period', async () => {
    const clock = new FakeClock();
    const http = new FakeHttp({ [metadataUrl(ISSUER)]: [metadata({ authorization_challenge_endpoint: 'x1' }), new OutboundError('unreachable', 'down'), new OutboundError('unreachable', 'down')] });
    const cache = new DownstreamMetadataCache(http, clock, 60);
    await cache.metadataOf(D);
    await cache.metadataOf(D);
    expect(http.calls).toHaveLength(1);
    clock.now += 61_000;
    expect((await cache.metadataOf(D)).nativeEndpoint).toBe('x1');
    clock.now += 60_000;
    await expect(cache.metadataOf(D)).rejects.toMatchObject({ code: 'temporarily_unavailable' });
  });

  it('metadata naming another issuer, or not JSON, is unusable (503), and OIDC discovery is the fallback for a 404', async () => {
    const clock = new FakeClock();
    const other = new DownstreamMetadataCache(new FakeHttp({ [metadataUrl(ISSUER)]: [ok({ issuer: 'https://evil.example' })] }), clock, 60);
    await expect(other.metadataOf(D)).rejects.toBeInstanceOf(OAuthError);
    const oidc = new DownstreamMetadataCache(new FakeHttp({ [metadataUrl(ISSUER)]: [ok({}, 404)], [`${ISSUER}/.well-known/openid-configuration`]: [metadata()] }), clock, 60);
    expect((await oidc.metadataOf(D)).parEndpoint).toBe(`${ISSUER}/par`);
  });

  it('RFC 8414 §3.1: the well-known segment goes before an issuer path', () => {
    expect(metadataUrl('https://as.example/tenant/a')).toBe('https://as.example/.well-known/oauth-authorization-server/tenant/a');
    expect(metadataUrl('https://as.example')).toBe('https://as.example/.well-known/oauth-authorization-server');
  });
});
