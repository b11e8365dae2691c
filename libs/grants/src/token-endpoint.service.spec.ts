import { randomUUID } from 'node:crypto';
import { createDpopProof, generateClientKeyPair, signJwt, type ClientKeyPair } from '@fpa/crypto';
import { DpopService } from '@fpa/dpop';
import { OAuthError, type FixedClock, type Form } from '@fpa/oauth-core';
import type { DeviceSession } from '@fpa/session';
import { MemoryStore } from '@fpa/store';
import { ClientAuthenticator, JWT_BEARER_ASSERTION } from './client-authenticator.service';
import type { GrantContext, GrantHandler, GrantResult } from './grant-handler';
import { counted, FakeAudit, FakeClients, FakeSessions, ISSUER, sessionCache, requestInfo, testClient, testClock, testConfig, testKeySets, testMetrics, testSession } from './testing/fakes';
import { TokenEndpointService } from './token-endpoint.service';
import type { TokenMetrics } from './token.metrics';

/** A grant that records what the endpoint handed it. */
class RecordingGrant implements GrantHandler {
  readonly calls: GrantContext[] = [];
  constructor(
    readonly grantType: string,
    readonly parameters: readonly string[],
    readonly clientAuth: 'required' | 'none',
    readonly dpop: 'supported' | 'ignored' = 'supported',
  ) {}
  async handle(ctx: GrantContext): Promise<GrantResult> {
    this.calls.push(ctx);
    return { body: { access_token: 'at', auth_session: ctx.client?.deviceSession?.authSession }, issued: { tokenType: ctx.dpop ? 'DPoP' : 'Bearer' } };
  }
}

describe('TokenEndpointService (STYLE.md plug-in shape, GEN-1, DPOP-16/19, JWTCA-7)', () => {
  let clock: FixedClock;
  let store: MemoryStore;
  let sessions: FakeSessions;
  let clients: FakeClients;
  let metrics: TokenMetrics;
  let audit: FakeAudit;
  let dpop: DpopService;
  let endpoint: TokenEndpointService;
  let deviceKey: ClientKeyPair;
  let dpopKey: ClientKeyPair;
  let session: DeviceSession;
  let cc: RecordingGrant;
  let refresh: RecordingGrant;
  let open: RecordingGrant;

  beforeAll(async () => {
    [deviceKey, dpopKey] = await Promise.all([generateClientKeyPair(), generateClientKeyPair()]);
  });
  beforeEach(() => {
    clock = testClock();
    store = new MemoryStore(() => clock.nowMs(), { genesis: true });
    const m = testMetrics();
    metrics = m.token;
    audit = new FakeAudit();
    const config = testConfig();
    clients = new FakeClients(testClient({ grantTypes: ['client_credentials'] }));
    sessions = new FakeSessions();
    session = sessions.add(testSession({ keyJkt: deviceKey.jkt, publicJwk: { ...deviceKey.publicJwk, kty: 'EC' } }));
    dpop = new DpopService(config, clock, m.dpop);
    cc = new RecordingGrant('client_credentials', ['scope', 'resource'], 'required');
    refresh = new RecordingGrant('refresh_token', ['refresh_token', 'scope'], 'required');
    open = new RecordingGrant('fp_open', ['client_id', 'public_key'], 'none');
    const grants = new Map<string, GrantHandler>([cc, refresh, open].map((g) => [g.grantType, g]));
    endpoint = new TokenEndpointService(grants, store, dpop, new ClientAuthenticator(config, clock, clients, sessionCache(sessions, store, clock, config), store, metrics, testKeySets(config, clock, metrics)), metrics, audit);
  });
  afterEach(async () => store.close());

  const assertion = (clientId = 'native-app', authSession = session.authSession): Promise<string> =>
    signJwt(
      { iss: clientId, sub: clientId, aud: ISSUER, iat: clock.nowSeconds(), exp: clock.nowSeconds() + 60, jti: randomUUID(), device_auth_session: authSession },
      { alg: 'ES256', typ: 'client-authentication+jwt' },
      deviceKey.privateKey,
    );
  const proof = (options: { key?: ClientKeyPair; nonce?: string | null } = {}): Promise<string> =>
    createDpopProof(options.key ?? dpopKey, { htm: 'POST', htu: `${ISSUER}/token`, nonce: options.nonce === null ? undefined : (options.nonce ?? dpop.currentNonce()) });
  const send = (form: Form, dpopHeader?: string) => endpoint.handle(form, requestInfo(dpopHeader === undefined ? {} : { dpop: dpopHeader }));
  const ccForm = async (extra: Record<string, string> = {}): Promise<Record<string, string>> => ({
    grant_type: 'client_credentials',
    client_assertion_type: JWT_BEARER_ASSERTION,
    client_assertion: await assertion(),
    ...extra,
  });
  const refused = async (p: Promise<unknown>, code: string, reason?: string): Promise<void> => {
    await expect(p).rejects.toBeInstanceOf(OAuthError);
    await expect(p).rejects.toMatchObject(reason ? { code, reason } : { code });
  };

  it('GEN-1: missing grant_type is invalid_request; an unknown one unsupported_grant_type; no grant runs', async () => {
    await refused(send({}), 'invalid_request');
    await refused(send({ grant_type: 'password' }), 'unsupported_grant_type');
    await refused(send({ grant_type: 'constructor' }), 'unsupported_grant_type');
    expect([...cc.calls, ...refresh.calls, ...open.calls]).toEqual([]);
  });

  it('a grant sees only the parameters it declared, plus client authentication when it authenticates clients', async () => {
    const form = await ccForm({ scope: 'openid', code: 'c', refresh_token: 'r', redirect_uri: 'https://x', foo: 'bar' });
    await send(form, await proof());
    expect({ ...cc.calls[0].form }).toEqual({ scope: 'openid', client_assertion: form.client_assertion, client_assertion_type: JWT_BEARER_ASSERTION });

    await send({ grant_type: 'fp_open', client_id: 'native-app', public_key: '{}', client_secret: 's', client_assertion: 'a', scope: 'x' });
    expect({ ...open.calls[0].form }).toEqual({ client_id: 'native-app', public_key: '{}' });
    expect(open.calls[0].client).toBeUndefined();
  });

  it('RFC 6749 §5.2: a client not registered for the grant type is unauthorized_client; the grant never runs', async () => {
    const p = send({ ...(await ccForm()), grant_type: 'refresh_token', refresh_token: 'r' }, await proof());
    await refused(p, 'unauthorized_client');
    expect(refresh.calls).toEqual([]);
    expect(await counted(metrics.tokenErrors, { grant: 'refresh_token', error: 'unauthorized_client' })).toBe(1);
    // Control: the grant it is registered for runs.
    await send(await ccForm(), await proof());
    expect(cc.calls).toHaveLength(1);
  });

  it('DPOP-19: a client registered for DPoP-bound tokens must send a proof; another may go without', async () => {
    await refused(send(await ccForm()), 'invalid_dpop_proof', 'dpop_missing');
    clients.byId.set('native-app', { ...clients.byId.get('native-app')!, dpopBoundAccessTokens: false });
    const result = await send(await ccForm());
    expect(cc.calls[0].dpop).toBeUndefined();
    expect(result.headers).toEqual({});
  });

  it('a confidential client with its own keys reaches every grant it is registered for (refresh_token here), no device session attached', async () => {
    const svcKey = await generateClientKeyPair('ES256');
    clients.byId.set('svc', testClient({ id: 'svc', type: 'confidential', authMethods: ['private_key_jwt'], grantTypes: ['refresh_token'], dpopBoundAccessTokens: false, jwks: { keys: [{ ...svcKey.publicJwk, kid: 's' }] } }));
    const a = await signJwt({ iss: 'svc', sub: 'svc', aud: ISSUER, iat: clock.nowSeconds(), exp: clock.nowSeconds() + 60, jti: randomUUID() }, { alg: 'ES256', kid: 's' }, svcKey.privateKey);
    await send({ grant_type: 'refresh_token', refresh_token: 'r', client_assertion_type: JWT_BEARER_ASSERTION, client_assertion: a });
    expect(refresh.calls[0].client).toMatchObject({ client: { id: 'svc' }, method: 'private_key_jwt', deviceSession: undefined });
  });

  it('seed 000 (C): a proof made with the device key is refused', async () => {
    await refused(send(await ccForm(), await proof({ key: deviceKey })), 'invalid_dpop_proof', 'dpop_device_key');
  });

  it('DPOP-13: the nonce challenge comes first and spends nothing; the retry with the same assertion succeeds', async () => {
    const form = await ccForm();
    const challenged = send(form, await proof({ nonce: null }));
    await refused(challenged, 'use_dpop_nonce');
    await expect(challenged).rejects.toMatchObject({ headers: { 'DPoP-Nonce': dpop.currentNonce() } });
    // Even with a broken assertion, the nonce challenge is what the client hears.
    await refused(send({ ...form, client_assertion: 'broken' }, await proof({ nonce: null })), 'use_dpop_nonce');
    await expect(send(form, await proof())).resolves.toMatchObject({ body: { access_token: 'at' } });
  });

  it('JWTCA-7 / DPOP-14: assertion jti and proof jti are claimed in one store round trip, before the grant runs', async () => {
    const spy = jest.spyOn(store, 'claimEachOnce');
    const result = await send(await ccForm(), await proof());
    expect(spy).toHaveBeenCalledTimes(1);
    expect(spy.mock.calls[0][0].map((c) => c.key.split(':').slice(0, 2).join(':'))).toEqual(['jti:assert', 'jti:dpop']);
    expect(result.headers).toEqual({ 'DPoP-Nonce': dpop.currentNonce() });
    expect(cc.calls[0].dpop?.jkt).toBe(dpopKey.jkt);
  });

  it('a replayed proof is invalid_dpop_proof; a replayed assertion invalid_client; the grant runs once', async () => {
    const p = await proof();
    const form = await ccForm();
    await send(form, p);
    await refused(send(await ccForm(), p), 'invalid_dpop_proof', 'dpop_replay');
    await refused(send(form, await proof()), 'invalid_client', 'client_auth_replay');
    expect(cc.calls).toHaveLength(1);
  });

  it('a grant without client authentication still has its proof claimed once', async () => {
    const p = await proof();
    await send({ grant_type: 'fp_open', client_id: 'native-app' }, p);
    await refused(send({ grant_type: 'fp_open', client_id: 'native-app' }, p), 'invalid_dpop_proof', 'dpop_replay');
    expect(open.calls).toHaveLength(1);
  });

  it('counts and audits issued tokens with the client, session, key and method — never the token', async () => {
    await send(await ccForm(), await proof());
    expect(await counted(metrics.tokensIssued, { grant: 'client_credentials', token_type: 'DPoP' })).toBe(1);
    expect(audit.events).toEqual([
      {
        type: 'token.issued',
        clientId: 'native-app',
        authSession: session.authSession,
        ip: '203.0.113.7',
        requestId: 'req-1',
        details: { grant: 'client_credentials', tokenType: 'DPoP', jkt: dpopKey.jkt, method: 'private_key_jwt' },
      },
    ]);
  });
});
