import { AllowListNativeCallbackPolicy, AuthorizationDetailsRegistry, EXAMPLE_DETAIL_TYPES, NativeCallbackTrust, PushedRequests, REQUEST_URI_PREFIX } from '@fpa/authz-request';
import { CLIENT_METADATA_DEFAULTS, hashClientSecret, type Client } from '@fpa/clients';
import { loadConfig } from '@fpa/config';
import { createDpopProof, generateClientKeyPair, type ClientKeyPair } from '@fpa/crypto';
import { DpopMetrics, DpopService } from '@fpa/dpop';
import { ClientAuthenticator, TokenMetrics } from '@fpa/grants';
import { testKeySets } from '@fpa/grants/testing';
import { FixedClock, OAuthError, type Form, type RequestInfo } from '@fpa/oauth-core';
import { MetricsRegistry } from '@fpa/platform';
import { DeviceSessionCache } from '@fpa/session';
import { MemoryStore } from '@fpa/store';
import { ParMetrics } from './par.metrics';
import { PushedAuthorizationService } from './pushed-authorization.service';

const ISSUER = 'https://auth.example.com';
const CHALLENGE = 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM'; // VEC-7
const SECRET = 'web-secret-0123456789';
const payment = { type: 'payment_initiation', instructedAmount: { currency: 'EUR', amount: '123.50' }, creditorName: 'Merchant A', creditorAccount: { iban: 'DE02120300000000202051' } };

function client(overrides: Partial<Client>): Client {
  return {
    id: 'x',
    name: 'x',
    type: 'public',
    firstParty: false,
    grantTypes: ['authorization_code'],
    authMethods: ['none'],
    secretHash: null,
    scopes: ['openid', 'payments'],
    resources: [],
    permissions: [],
    dpopBoundAccessTokens: false,
    enabled: true,
    challengePolicy: null,
    assertionAudience: null,
    ...CLIENT_METADATA_DEFAULTS,
    redirectUris: ['https://app.example.com/cb'],
    authorizationDetailsTypes: ['payment_initiation'],
    ...overrides,
  };
}
const CLIENTS = new Map<string, Client>([
  ['spa', client({ id: 'spa', nativeCallbackUris: ['https://app.example.com/native'] })],
  ['web', client({ id: 'web', type: 'confidential', authMethods: ['client_secret_basic'], secretHash: hashClientSecret(SECRET) })],
  ['devices-only', client({ id: 'devices-only', grantTypes: ['client_credentials'] })],
]);
const basic = (id: string, secret: string): string => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
const request = (headers: Record<string, string> = {}): RequestInfo => ({ method: 'POST', path: '/par', headers, ip: '203.0.113.7', requestId: 'req-1' });
const authz = { client_id: 'spa', response_type: 'code', redirect_uri: 'https://app.example.com/cb', code_challenge: CHALLENGE, code_challenge_method: 'S256', scope: 'openid', state: 's-1' };

describe('PushedAuthorizationService (RFC 9126, PAR-1…10; RFC 9449 §10.1)', () => {
  let clock: FixedClock;
  let store: MemoryStore;
  let pushed: PushedRequests;
  let dpop: DpopService;
  let metrics: ParMetrics;
  let service: PushedAuthorizationService;
  let key: ClientKeyPair;

  beforeAll(async () => {
    key = await generateClientKeyPair();
  });
  beforeEach(() => {
    clock = new FixedClock(Date.now());
    store = new MemoryStore(() => clock.nowMs(), { genesis: true });
    const config = loadConfig('standalone', { ISSUER, DPOP_NONCE_SECRET: Buffer.alloc(32, 9).toString('base64url'), PAR_REQUEST_URI_TTL_SECONDS: '90' });
    const registry = new MetricsRegistry();
    dpop = new DpopService(config, clock, new DpopMetrics(registry));
    const tokenMetrics = new TokenMetrics(registry);
    const authenticator = new ClientAuthenticator(config, clock, { find: async (id) => CLIENTS.get(id) }, new DeviceSessionCache(config, clock, store, { find: async () => undefined }), store, tokenMetrics, testKeySets(config, clock, tokenMetrics));
    pushed = new PushedRequests(store, clock);
    metrics = new ParMetrics(registry);
    service = new PushedAuthorizationService(config, authenticator, dpop, new AuthorizationDetailsRegistry(EXAMPLE_DETAIL_TYPES), pushed, metrics, new NativeCallbackTrust([new AllowListNativeCallbackPolicy()], registry));
  });
  afterEach(() => store.close());

  const proof = (nonce: string | null = dpop.currentNonce(), htu = `${ISSUER}/par`): Promise<string> => createDpopProof(key, { htm: 'POST', htu, nonce: nonce ?? undefined });
  const push = (form: Form, headers: Record<string, string> = {}) => service.push(form, request(headers));
  const refused = async (p: Promise<unknown>, code: string): Promise<void> => {
    await expect(p).rejects.toBeInstanceOf(OAuthError);
    await expect(p).rejects.toMatchObject({ code });
  };

  it('PAR-6/PAR-7: a public client (client_id) gets an unguessable request_uri with the configured lifetime; it yields the validated request once, to that client', async () => {
    const { body, headers } = await push(authz);
    expect(body).toEqual({ request_uri: expect.stringMatching(new RegExp(`^${REQUEST_URI_PREFIX}[A-Za-z0-9_-]{43}$`)), expires_in: 90 });
    expect(headers).toEqual({});
    await expect(pushed.consume(body.request_uri, 'web')).rejects.toMatchObject({ code: 'invalid_request' });
    const { request: stored } = await pushed.consume(body.request_uri, 'spa');
    expect(stored).toMatchObject({ clientId: 'spa', redirectUri: 'https://app.example.com/cb', codeChallenge: CHALLENGE, scopes: ['openid'], state: 's-1' });
    expect(stored.dpopJkt).toBeUndefined();
    await expect(pushed.consume(body.request_uri, 'spa')).rejects.toMatchObject({ code: 'invalid_request' });
  });

  it('FED-3/FED-4: a trusted native_callback_uri is stored with the pushed request, for the federated server to hand back to', async () => {
    const { body } = await push({ ...authz, native_callback_uri: 'https://app.example.com/native' });
    expect((await pushed.consume(body.request_uri, 'spa')).request.nativeCallbackUri).toBe('https://app.example.com/native');
  });

  it('PAR-3: a confidential client authenticates as at /token (client_secret_basic); a wrong secret is invalid_client and nothing is pushed', async () => {
    const spy = jest.spyOn(pushed, 'push');
    await refused(push({ ...authz, client_id: 'web' }, { authorization: basic('web', 'wrong') }), 'invalid_client');
    // Without its credentials a confidential client cannot pass as a public one.
    await refused(push({ ...authz, client_id: 'web' }), 'invalid_client');
    expect(spy).not.toHaveBeenCalled();
    const { body } = await push({ ...authz, client_id: 'web', authorization_details: JSON.stringify([payment]) }, { authorization: basic('web', SECRET) });
    expect((await pushed.consume(body.request_uri, 'web')).request.authorizationDetails).toEqual([payment]);
  });

  it('PAR-2: request_uri in the body is invalid_request; a request object is request_not_supported; client_id is required — before credentials are checked', async () => {
    const spy = jest.spyOn(pushed, 'push');
    const claims = jest.spyOn(store, 'claimEachOnce');
    await refused(push({ ...authz, request_uri: `${REQUEST_URI_PREFIX}${'A'.repeat(43)}` }, { dpop: await proof() }), 'invalid_request');
    await refused(push({ ...authz, request: 'eyJhbGciOiJub25lIn0.e30.' }), 'request_not_supported');
    const { client_id: _omitted, ...noClientId } = authz;
    await refused(push(noClientId, { authorization: basic('web', SECRET) }), 'invalid_request');
    expect(spy).not.toHaveBeenCalled();
    expect(claims).not.toHaveBeenCalled();
  });

  it('PAR-5: every authorization parameter is validated for the client; each refusal pushes nothing', async () => {
    const spy = jest.spyOn(pushed, 'push');
    const cases: [Form, string][] = [
      [{ ...authz, code_challenge: undefined } as unknown as Form, 'invalid_request'],
      [{ ...authz, code_challenge_method: 'plain' }, 'invalid_request'],
      [{ ...authz, redirect_uri: 'https://app.example.com/cb/other' }, 'invalid_request'],
      [{ ...authz, redirect_uri: undefined } as unknown as Form, 'invalid_request'],
      [{ ...authz, scope: 'admin' }, 'invalid_scope'],
      [{ ...authz, response_type: 'token' }, 'unsupported_response_type'],
      [{ ...authz, authorization_details: JSON.stringify([{ type: 'wire_transfer' }]) }, 'invalid_authorization_details'],
      [{ ...authz, authorization_details: '[{"type":' }, 'invalid_authorization_details'],
      [{ ...authz, authorization_details: JSON.stringify([{ type: 'account_information', actions: ['read_balances'] }]) }, 'invalid_authorization_details'],
      [{ ...authz, authorization_details: JSON.stringify([{ ...payment, creditorName: 7 }]) }, 'invalid_authorization_details'],
      // FED-3/FED-4: not on the client's allow-list, or not a claimed https link.
      [{ ...authz, native_callback_uri: 'https://evil.example.com/native' }, 'invalid_request'],
      [{ ...authz, native_callback_uri: 'com.example.app:/native' }, 'invalid_request'],
      [{ ...authz, native_callback_uri: 'https://app.example.com/native#x' }, 'invalid_request'],
    ];
    for (const [form, code] of cases) await refused(push(JSON.parse(JSON.stringify(form)) as Form), code);
    await refused(push({ ...authz, client_id: 'devices-only' }), 'unauthorized_client');
    expect(spy).not.toHaveBeenCalled();
    expect(await metrics.requests.get()).toMatchObject({ values: expect.arrayContaining([expect.objectContaining({ labels: { outcome: 'invalid_authorization_details' }, value: 4 })]) });
  });

  it('DPOP-31 (RFC 9449 §10.1): a proof binds the request to its key, claimed once with the client; dpop_jkt alone binds too', async () => {
    const p = await proof();
    const claims = jest.spyOn(store, 'claimEachOnce');
    const { body, headers } = await push(authz, { dpop: p });
    expect(headers).toEqual({ 'DPoP-Nonce': dpop.currentNonce() });
    expect(claims).toHaveBeenCalledTimes(1);
    expect((await pushed.consume(body.request_uri, 'spa')).request.dpopJkt).toBe(key.jkt);
    // DPOP-14: the same proof again is a replay.
    await refused(push(authz, { dpop: p }), 'invalid_dpop_proof');
    const other = await generateClientKeyPair();
    const { body: byJkt } = await push({ ...authz, dpop_jkt: other.jkt });
    expect((await pushed.consume(byJkt.request_uri, 'spa')).request.dpopJkt).toBe(other.jkt);
    const { body: agreeing } = await push({ ...authz, dpop_jkt: key.jkt }, { dpop: await proof() });
    expect((await pushed.consume(agreeing.request_uri, 'spa')).request.dpopJkt).toBe(key.jkt);
  });

  it('DPOP-31: dpop_jkt that differs from the proof is invalid_request, nothing pushed and the proof not spent', async () => {
    const spy = jest.spyOn(pushed, 'push');
    const p = await proof();
    await refused(push({ ...authz, dpop_jkt: (await generateClientKeyPair()).jkt }, { dpop: p }), 'invalid_request');
    expect(spy).not.toHaveBeenCalled();
    await expect(push(authz, { dpop: p })).resolves.toMatchObject({ body: { request_uri: expect.any(String) } });
  });

  it('DPOP-29: the nonce policy of /token — a proof without the nonce gets use_dpop_nonce and a DPoP-Nonce, and spends nothing; a proof for another URL is refused', async () => {
    const claims = jest.spyOn(store, 'claimEachOnce');
    const challenged = push({ ...authz, client_id: 'web' }, { dpop: await proof(null), authorization: basic('web', SECRET) });
    await refused(challenged, 'use_dpop_nonce');
    await expect(challenged).rejects.toMatchObject({ headers: { 'DPoP-Nonce': dpop.currentNonce() } });
    await refused(push(authz, { dpop: await proof(undefined, `${ISSUER}/token`) }), 'invalid_dpop_proof');
    expect(claims).not.toHaveBeenCalled();
    expect((await metrics.requests.get()).values.some((v) => v.labels.outcome === 'pushed')).toBe(false);
  });
});
