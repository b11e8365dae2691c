import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FirstPartyClient, type TokenResult } from '@fpa/client-sdk';
import { createDpopProof, createSymmetricPopProof, decodeJwtUnverified, generateClientKeyPair, generateResourceServerPopKey, thumbprint, type JWK } from '@fpa/crypto';
import { DEVICE_CLIENT, spawnApp } from '@fpa/testing';
import { startStandalone, type RunningApp } from '@fpa/testing/app';
import { OpenApiWire } from '../support/openapi';
import { startSmtpSink, type SmtpSink } from '../support/smtp';
import { asNonce, clientCredentialsForm, expectNoStore, expectOAuthError, postForm, registeredDevice } from '../support/http';

/**
 * Issue 12, seed 001 (A)–(F) against the sample API: PoP tokens with `req_cnf` (the client's key,
 * proven by a DPoP proof with it) and with a symmetric key the suite generates (`token_type=pop`),
 * `cnf`/`rs_cnf`/`token_type: PoP` (ACE-3, CONTRACT §6), refresh that keeps key and audience (ACE-5),
 * every refusal with nothing written (ACE-2, ACE-4), and the resource server's PoP checks (CNF-3).
 */
describe('PoP tokens (seed 001): req_cnf, cnf, rs_cnf', () => {
  const API_AUD = 'https://api.pop.test/resources';
  const EC_ONLY = 'https://ec-only.pop.test/';
  const OTHER = 'https://other.pop.test/';
  let dir: string;
  let suite: RunningApp;
  let api: string;
  let rsKey: { publicJwk: JWK; privateJwk: JWK };
  let otherKey: { publicJwk: JWK; privateJwk: JWK };
  let rsSecret: string;
  let smtp: SmtpSink;
  /** A first-party app that also redeems codes from /authorize-challenge (seed 001 (A)/(B)). */
  const APP = { ...DEVICE_CLIENT, client_id: 'pop-app', grant_types: ['fp_register', 'client_credentials', 'refresh_token', 'authorization_code'] };
  const introspect = async (token: string): Promise<Record<string, unknown>> =>
    (await postForm(`${suite.issuer}/introspect`, { token }, { authorization: `Basic ${Buffer.from(`rs:${rsSecret}`).toString('base64')}` })).body;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fpa-pop-'));
    rsKey = await generateResourceServerPopKey();
    otherKey = await generateResourceServerPopKey();
    writeFileSync(
      join(dir, 'resource-servers.json'),
      JSON.stringify({
        resource_servers: [
          { identifier: API_AUD, jwk: rsKey.publicJwk, pop_key_types: ['EC', 'OKP', 'RSA', 'oct'] },
          { identifier: EC_ONLY, jwk: otherKey.publicJwk, pop_key_types: ['EC'] },
          { identifier: OTHER, jwk: otherKey.publicJwk, pop_key_types: ['EC', 'oct'] },
        ],
      }),
    );
    writeFileSync(join(dir, 'rs-key.json'), JSON.stringify(rsKey.privateJwk));
    smtp = await startSmtpSink();
    suite = await startStandalone('poptokens', {
      POP_RESOURCE_SERVERS_FILE: join(dir, 'resource-servers.json'),
      RS_POP_KEY_FILE: join(dir, 'rs-key.json'),
      RESOURCE_AUDIENCE: API_AUD,
      SMTP_URL: smtp.url,
      CHALLENGE_RESEND_SECONDS: '0',
      CHALLENGE_METHODS: 'email_otp',
    });
    await suite.createClient({ ...APP, resources: [API_AUD, EC_ONLY, OTHER] });
    await suite.createClient({ ...DEVICE_CLIENT, resources: [API_AUD, EC_ONLY, OTHER] });
    rsSecret = (await suite.createClient({ client_id: 'rs', type: 'confidential', permissions: ['introspect'] })).secret!;
    api = `${suite.issuer}/api/me`;
  });
  afterAll(async () => {
    await suite?.close();
    await smtp?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const claimsOf = (token: string): Record<string, unknown> => decodeJwtUnverified(token).payload as Record<string, unknown>;
  const count = async (table: 'refresh_tokens' | 'pop_keys'): Promise<number> => Number((await suite.env.db.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`))[0].n);
  const rows = async (): Promise<[number, number]> => [await count('refresh_tokens'), await count('pop_keys')];
  const device = (): Promise<FirstPartyClient> => registeredDevice(suite.issuer, DEVICE_CLIENT.client_id);
  const popOptions = (key: 'client-key' | 'symmetric', audience = API_AUD) => ({ key, audience, resourceServerKey: audience === API_AUD ? rsKey.publicJwk : otherKey.publicJwk });

  /** A raw PoP token request: the device's assertion, a DPoP proof by `proofKey` (null: none), and the PoP parameters. */
  async function tokenRequest(client: FirstPartyClient, pop: Record<string, string>, proofKey = client.dpopKey as Parameters<typeof createDpopProof>[0] | null) {
    const url = `${suite.issuer}/token`;
    const headers: Record<string, string> = {};
    if (proofKey) headers.dpop = await createDpopProof(proofKey, { htm: 'POST', htu: url, nonce: await asNonce(suite.issuer) });
    return postForm(url, await clientCredentialsForm(client, {}, pop), headers);
  }

  /** Calls the sample API as seed 001 (E): `Authorization: PoP` and a proof in the `PoP` header. */
  const callPop = (token: string, proof: string | undefined): Promise<Response> => fetch(api, { headers: { authorization: `PoP ${token}`, ...(proof ? { pop: proof } : {}) } });

  async function expectPopChallenge(res: Response, error: string, status = 401): Promise<void> {
    expect(res.status).toBe(status);
    expect(res.headers.get('www-authenticate') ?? '').toMatch(new RegExp(`^PoP error="${error}"`));
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(((await res.json()) as Record<string, unknown>).error).toBe(error);
  }

  describe('(A)–(F) with the client’s key (req_cnf)', () => {
    let client: FirstPartyClient;
    let token: TokenResult;

    beforeAll(async () => {
      client = await device();
      token = await client.requestToken({ pop: popOptions('client-key') });
    });

    it('(D) ACE-3: token_type PoP, cnf = the req_cnf key (kid = RFC 7638 thumbprint), rs_cnf = the resource server key, expires_in', async () => {
      expect(token.token_type).toBe('PoP');
      expect(Number.isInteger(token.expires_in)).toBe(true);
      const cnfJwk = (token.cnf as { jwk: JWK }).jwk;
      expect(await thumbprint(cnfJwk)).toBe(client.dpopKey.jkt);
      expect(cnfJwk.kid).toBe(client.dpopKey.jkt);
      expect(cnfJwk).not.toHaveProperty('d');
      expect(token.rs_cnf).toEqual({ jwk: rsKey.publicJwk });
      expect(token.refresh_token).toEqual(expect.any(String));
    });

    it('ACE-6 / CNF-1: the access token binds cnf.jwk (no jkt) and names the one resource server as aud', async () => {
      const claims = claimsOf(token.access_token);
      expect(claims.aud).toBe(API_AUD);
      expect(Object.keys(claims.cnf as object)).toEqual(['jwk']);
      expect(await thumbprint((claims.cnf as { jwk: JWK }).jwk)).toBe(client.dpopKey.jkt);
    });

    it('ACE-6: introspection returns token_type PoP and the cnf', async () => {
      expect(await introspect(token.access_token)).toMatchObject({ active: true, token_type: 'PoP', aud: API_AUD, cnf: claimsOf(token.access_token).cnf });
    });

    it('(E)/(F): the sample API serves the PoP token with a proof by the key', async () => {
      const res = await client.fetchResource(api);
      expect(res.status).toBe(200);
      expect(((await res.json()) as Record<string, unknown>).jkt).toBe(client.dpopKey.jkt);
    });

    it('CNF-3: a proof by another key → 401 PoP invalid_token', async () => {
      const stranger = await generateClientKeyPair();
      await expectPopChallenge(await callPop(token.access_token, await createDpopProof(stranger, { htm: 'GET', htu: api, accessToken: token.access_token })), 'invalid_token');
    });

    it('a replayed proof → 401 PoP invalid_token', async () => {
      const proof = await createDpopProof(client.dpopKey, { htm: 'GET', htu: api, accessToken: token.access_token });
      expect((await callPop(token.access_token, proof)).status).toBe(200);
      await expectPopChallenge(await callPop(token.access_token, proof), 'invalid_token');
    });

    it('no proof → 400 PoP invalid_request; the PoP token as DPoP or Bearer → refused', async () => {
      await expectPopChallenge(await callPop(token.access_token, undefined), 'invalid_request', 400);
      const dpop = await createDpopProof(client.dpopKey, { htm: 'GET', htu: api, accessToken: token.access_token });
      expect((await fetch(api, { headers: { authorization: `DPoP ${token.access_token}`, dpop } })).status).toBe(401);
      expect((await fetch(api, { headers: { authorization: `Bearer ${token.access_token}` } })).status).toBe(401);
    });

    it('req_cnf {"kid"} names the key of an earlier PoP token of this client (proven again by a DPoP proof with it)', async () => {
      const res = await tokenRequest(client, { token_type: 'pop', audience: API_AUD, req_cnf: JSON.stringify({ kid: client.dpopKey.jkt }) });
      expect(res.status).toBe(200);
      expect(res.body.token_type).toBe('PoP');
      expect(await thumbprint((claimsOf(res.body.access_token as string).cnf as { jwk: JWK }).jwk)).toBe(client.dpopKey.jkt);
    });

    it('ACE-5: refresh keeps the key and the audience', async () => {
      const refreshed = await client.refresh();
      expect(refreshed.token_type).toBe('PoP');
      expect(refreshed.rs_cnf).toEqual({ jwk: rsKey.publicJwk });
      const claims = claimsOf(refreshed.access_token);
      expect(claims.aud).toBe(API_AUD);
      expect(await thumbprint((claims.cnf as { jwk: JWK }).jwk)).toBe(client.dpopKey.jkt);
      expect((await client.fetchResource(api)).status).toBe(200);
    });

    it('ACE-5: a refresh that tries to change the key or the audience is refused and rotates nothing', async () => {
      const other = await generateClientKeyPair();
      const url = `${suite.issuer}/token`;
      for (const change of [{ req_cnf: JSON.stringify({ jwk: other.publicJwk }) }, { audience: OTHER }, { resource: OTHER }] as Record<string, string>[]) {
        const before = await rows();
        const dpop = await createDpopProof(client.dpopKey, { htm: 'POST', htu: url, nonce: await asNonce(suite.issuer) });
        const res = await postForm(url, { grant_type: 'refresh_token', refresh_token: client.refreshToken!, client_id: DEVICE_CLIENT.client_id, ...change }, { dpop });
        expect(['invalid_request', 'invalid_target']).toContain(res.body.error);
        expectOAuthError(res, 400, res.body.error as string);
        expect(await rows()).toEqual(before);
      }
      // The family is intact: the same refresh token still works.
      expect((await client.refresh()).token_type).toBe('PoP');
    });
  });

  describe('(A)–(F) with a symmetric key the suite generates (token_type=pop)', () => {
    let client: FirstPartyClient;
    let token: TokenResult;

    beforeAll(async () => {
      client = await device();
      token = await client.requestToken({ pop: popOptions('symmetric') });
    });

    it('(D) ACE-3: cnf carries the 256-bit key; rs_cnf the resource server key; the token carries it only as cnf.jwe (CNF-2)', async () => {
      expect(token.token_type).toBe('PoP');
      const key = (token.cnf as { jwk: Record<string, string> }).jwk;
      expect(key).toMatchObject({ kty: 'oct', alg: 'HS256' });
      expect(Buffer.from(key.k, 'base64url')).toHaveLength(32);
      expect(token.rs_cnf).toEqual({ jwk: rsKey.publicJwk });
      const claims = claimsOf(token.access_token);
      expect(Object.keys(claims.cnf as object)).toEqual(['jwe']);
      expect((claims.cnf as { jwe: string }).jwe.split('.')).toHaveLength(5);
      expect(token.access_token).not.toContain(key.k);
    });

    it('ACE-6: introspection returns the cnf.jwe', async () => {
      expect(await introspect(token.access_token)).toMatchObject({ active: true, token_type: 'PoP', cnf: { jwe: expect.any(String) } });
    });

    it('(E)/(F): the sample API opens cnf.jwe and accepts the HMAC proof', async () => {
      expect((await client.fetchResource(api)).status).toBe(200);
    });

    it('an HMAC proof with another key, and a replayed one → 401 PoP invalid_token', async () => {
      const wrong = { jwk: { kty: 'oct' as const, alg: 'HS256' as const, k: Buffer.alloc(32, 1).toString('base64url'), kid: 'x' } };
      await expectPopChallenge(await callPop(token.access_token, await createSymmetricPopProof(wrong, { htm: 'GET', htu: api, accessToken: token.access_token })), 'invalid_token');
      const proof = await createSymmetricPopProof(client.pop!.symmetricKey!, { htm: 'GET', htu: api, accessToken: token.access_token });
      expect((await callPop(token.access_token, proof)).status).toBe(200);
      await expectPopChallenge(await callPop(token.access_token, proof), 'invalid_token');
    });

    it('ACE-5: refresh keeps the encrypted key (same cnf.jwe) and names it by kid', async () => {
      const kid = client.pop!.symmetricKey!.jwk.kid;
      const jwe = (claimsOf(token.access_token).cnf as { jwe: string }).jwe;
      const refreshed = await client.refresh();
      expect(refreshed.cnf).toEqual({ kid });
      expect((claimsOf(refreshed.access_token).cnf as { jwe: string }).jwe).toBe(jwe);
      expect((await client.fetchResource(api)).status).toBe(200);
    });

    it('a token for another resource server (its key, its audience) is refused by the sample API', async () => {
      const other = await device();
      const foreign = await other.requestToken({ pop: popOptions('symmetric', OTHER) });
      expect(claimsOf(foreign.access_token).aud).toBe(OTHER);
      const proof = await createSymmetricPopProof(other.pop!.symmetricKey!, { htm: 'GET', htu: api, accessToken: foreign.access_token });
      await expectPopChallenge(await callPop(foreign.access_token, proof), 'invalid_token');
    });
  });

  it('the sample-api app as its own process (remote JWKS, RS_POP_KEY_FILE, shared Redis) takes both kinds of PoP tokens and refuses replays', async () => {
    const child = await spawnApp('sample-api', { ...suite.env.env, AUTH_ISSUER: suite.issuer, RESOURCE_AUDIENCE: API_AUD, RS_POP_KEY_FILE: join(dir, 'rs-key.json') });
    try {
      const remote = `${child.url}/api/me`;
      for (const key of ['client-key', 'symmetric'] as const) {
        const client = await device();
        const token = await client.requestToken({ pop: popOptions(key) });
        const proof = key === 'symmetric'
          ? await createSymmetricPopProof(client.pop!.symmetricKey!, { htm: 'GET', htu: remote, accessToken: token.access_token })
          : await createDpopProof(client.dpopKey, { htm: 'GET', htu: remote, accessToken: token.access_token });
        const call = (): Promise<Response> => fetch(remote, { headers: { authorization: `PoP ${token.access_token}`, pop: proof } });
        expect((await call()).status).toBe(200);
        const replay = await call();
        expect(replay.status).toBe(401);
        expect(replay.headers.get('www-authenticate')).toMatch(/^PoP error="invalid_token"/);
      }
    } finally {
      await child.stop();
    }
  });

  it('(A)–(F) through the authorization challenge endpoint: the user signs in, the code is redeemed with resource + req_cnf for a PoP token', async () => {
    for (const key of ['client-key', 'symmetric'] as const) {
      const client = await FirstPartyClient.create({ issuer: suite.issuer, clientId: APP.client_id });
      const email = `pop-${key}@example.com`;
      const { tokens } = await client.authorize({ scope: 'openid api.read', loginHint: email, pop: popOptions(key), onChallenge: async () => ({ code: await smtp.code(email) }) });
      expect(tokens).toMatchObject({ token_type: 'PoP', rs_cnf: { jwk: rsKey.publicJwk } });
      const claims = claimsOf(tokens.access_token);
      expect(claims).toMatchObject({ aud: API_AUD, email_verified: true });
      expect(Object.keys(claims.cnf as object)).toEqual([key === 'client-key' ? 'jwk' : 'jwe']);
      expect((await client.fetchResource(api)).status).toBe(200);
    }
  });

  it('metadata: the PoP profile, the key types and rs_cnf (docs/pop-tokens.md)', async () => {
    const md = (await (await fetch(`${suite.issuer}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>;
    expect(md).toMatchObject({ pop_key_types_supported: ['EC', 'OKP', 'RSA', 'oct'], req_cnf_members_supported: ['jwk', 'kid'], pop_proof_types_supported: ['dpop+jwt', 'pop+jwt'], rs_cnf_supported: true });
  });

  it('the OpenAPI document describes PoP exchanges: metadata, both token requests, refresh, introspection, refusals', async () => {
    const wire = new OpenApiWire((await (await fetch(`${suite.issuer}/openapi.json`)).json()) as ConstructorParameters<typeof OpenApiWire>[0]);
    const problems: string[] = [];
    const checkedFetch: typeof fetch = async (input, init) => {
      const res = await fetch(input, init);
      const sent = new Headers(init?.headers);
      problems.push(
        ...wire.problems({
          method: init?.method ?? 'GET',
          url: String(input),
          status: res.status,
          headers: res.headers,
          body: await res.clone().text(),
          requestContentType: sent.get('content-type') ?? undefined,
          requestBody: typeof init?.body === 'string' ? init.body : undefined,
        }),
      );
      return res;
    };
    await checkedFetch(`${suite.issuer}/.well-known/oauth-authorization-server`);
    for (const key of ['client-key', 'symmetric'] as const) {
      const client = await FirstPartyClient.create({ issuer: suite.issuer, clientId: DEVICE_CLIENT.client_id, fetch: checkedFetch });
      await client.register();
      const token = await client.requestToken({ pop: popOptions(key) });
      await client.refresh();
      await checkedFetch(`${suite.issuer}/introspect`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`rs:${rsSecret}`).toString('base64')}` },
        body: new URLSearchParams({ token: token.access_token }).toString(),
      });
      // unsupported_pop_key (ACE-4): the documented error shape.
      await expect(client.requestToken({ pop: popOptions('symmetric', EC_ONLY) })).rejects.toThrow(/unsupported_pop_key|PoP/);
    }
    expect(problems).toEqual([]);
  });

  it('rs_cnf is present exactly when the token is for one resource server: a DPoP token has neither cnf nor rs_cnf', async () => {
    const client = await device();
    const dpop = await client.requestToken();
    expect(dpop.token_type).toBe('DPoP');
    expect(dpop).not.toHaveProperty('rs_cnf');
    expect(dpop).not.toHaveProperty('cnf');
    const pop = await client.requestToken({ pop: popOptions('client-key', EC_ONLY) });
    expect(pop.rs_cnf).toEqual({ jwk: otherKey.publicJwk });
  });

  it('the SDK refuses a PoP token whose rs_cnf is not the key of the resource server it is about to call', async () => {
    const client = await device();
    await expect(client.requestToken({ pop: { key: 'client-key', audience: API_AUD, resourceServerKey: otherKey.publicJwk } })).rejects.toThrow(/rs_cnf/);
    expect(client.accessToken).toBeUndefined();
  });

  describe('refusals at /token: nothing is issued, no row is written', () => {
    let client: FirstPartyClient;
    beforeAll(async () => {
      client = await device();
    });

    async function refused(pop: Record<string, string>, status: number, error: string, proofKey?: Parameters<typeof createDpopProof>[0] | null): Promise<void> {
      const before = await rows();
      const res = await tokenRequest(client, pop, proofKey === undefined ? client.dpopKey : proofKey);
      expectOAuthError(res, status, error);
      expectNoStore(res);
      expect(await rows()).toEqual(before);
    }

    const reqCnf = (jwk: unknown): string => JSON.stringify({ jwk });

    it('ACE-2: req_cnf without a proof by its key (another key; no proof at all)', async () => {
      await refused({ audience: API_AUD, req_cnf: reqCnf(client.dpopKey.publicJwk) }, 400, 'invalid_request', await generateClientKeyPair());
      await refused({ audience: API_AUD, req_cnf: reqCnf(client.dpopKey.publicJwk) }, 400, 'invalid_dpop_proof', null);
    });

    it('ACE-2: a private or a symmetric JWK', async () => {
      await refused({ audience: API_AUD, req_cnf: reqCnf({ ...client.dpopKey.publicJwk, d: 'AAAA' }) }, 400, 'invalid_request');
      await refused({ audience: API_AUD, req_cnf: reqCnf({ kty: 'oct', k: Buffer.alloc(32).toString('base64url') }) }, 400, 'invalid_request');
    });

    it('malformed req_cnf', async () => {
      for (const value of ['not json', '[]', '{}', JSON.stringify({ jwk: client.dpopKey.publicJwk, kid: 'x' }), JSON.stringify({ jku: 'https://x' }), reqCnf({ kty: 'EC', crv: 'P-256', x: 'AA' })]) {
        await refused({ audience: API_AUD, req_cnf: value }, 400, 'invalid_request');
      }
    });

    it('an unknown kid (and another client’s key is unknown too)', async () => {
      await refused({ audience: API_AUD, req_cnf: JSON.stringify({ kid: 'bm90LWEta2lk' }) }, 400, 'invalid_request');
    });

    it('ACE-4: an audience that does not accept the key type → unsupported_pop_key', async () => {
      await refused({ token_type: 'pop', audience: EC_ONLY }, 400, 'unsupported_pop_key');
      const ed = await generateClientKeyPair('EdDSA');
      await refused({ audience: EC_ONLY, req_cnf: reqCnf(ed.publicJwk) }, 400, 'unsupported_pop_key', ed);
    });

    it('an audience that is not a registered resource server, or not the client’s → invalid_target', async () => {
      await refused({ token_type: 'pop', audience: 'https://api.example.com' }, 400, 'invalid_target');
      await refused({ token_type: 'pop', audience: 'https://unknown.pop.test/' }, 400, 'invalid_target');
      await refused({ token_type: 'pop', audience: API_AUD, resource: OTHER }, 400, 'invalid_target');
    });

    it('token_type other than pop', async () => {
      await refused({ token_type: 'bearer', audience: API_AUD }, 400, 'invalid_request');
    });
  });
});
