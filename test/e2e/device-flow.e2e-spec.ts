import { FirstPartyClient } from '@fpa/client-sdk';
import { decodeJwtUnverified, generateClientKeyPair } from '@fpa/crypto';
import { KeyManager } from '@fpa/keys';
import { AuditService } from '@fpa/platform';
import { RevocationService } from '@fpa/session';
import { expectNoStore, postForm } from '../support/http';
import { DEVICE_CLIENT } from '@fpa/testing';
import { startStandalone, type RunningApp } from '@fpa/testing/app';

/**
 * The device flow end to end in the standalone app on real PostgreSQL and Redis:
 * seed 000 (A)–(D), seed 004, CONTRACT §3–§4, RFC 7662/7009, key rotation (CONTRACT §8).
 */
describe('device flow (standalone, PostgreSQL + Redis)', () => {
  let suite: RunningApp;
  let rsSecret: string;

  beforeAll(async () => {
    suite = await startStandalone('deviceflow');
    await suite.createClient(DEVICE_CLIENT);
    const rs = await suite.createClient({ client_id: 'orders-api', type: 'confidential', permissions: ['introspect'] });
    rsSecret = rs.secret!;
  });
  afterAll(async () => suite?.close());

  const introspect = (token: string): Promise<Record<string, unknown>> =>
    postForm(`${suite.issuer}/introspect`, { token }, { authorization: `Basic ${Buffer.from(`orders-api:${rsSecret}`).toString('base64')}` }).then((r) => {
      expect(r.status).toBe(200);
      expectNoStore(r);
      return r.body;
    });

  it('META-1/META-4: metadata lists every enabled endpoint and capability', async () => {
    const res = await fetch(`${suite.issuer}/.well-known/oauth-authorization-server`);
    expect(res.status).toBe(200);
    const md = (await res.json()) as Record<string, unknown>;
    expect(md).toMatchObject({
      issuer: suite.issuer,
      token_endpoint: `${suite.issuer}/token`,
      jwks_uri: `${suite.issuer}/jwks`,
      device_registration_endpoint: `${suite.issuer}/register`,
      introspection_endpoint: `${suite.issuer}/introspect`,
      revocation_endpoint: `${suite.issuer}/revoke`,
    });
    expect(md.grant_types_supported).toEqual(expect.arrayContaining(['fp_register', 'client_credentials', 'refresh_token']));
    expect(md.token_endpoint_auth_methods_supported).toContain('private_key_jwt');
    expect(md.token_endpoint_auth_signing_alg_values_supported).not.toContain('none');
    expect(md.dpop_signing_alg_values_supported).toEqual(expect.arrayContaining(['ES256']));
  });

  it('/jwks publishes public members only', async () => {
    const jwks = (await (await fetch(`${suite.issuer}/jwks`)).json()) as { keys: Record<string, unknown>[] };
    expect(jwks.keys.length).toBeGreaterThan(0);
    for (const k of jwks.keys) {
      for (const m of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k']) expect(k).not.toHaveProperty(m);
      expect(k).toMatchObject({ kid: expect.any(String), alg: 'ES256', use: 'sig' });
    }
  });

  it('registers at /register: fp+jwt with auth_session bound to the device key (CONTRACT §3)', async () => {
    const device = await FirstPartyClient.create({ issuer: suite.issuer, clientId: DEVICE_CLIENT.client_id });
    const reg = await device.register({ state: 'st-1', nonce: 'n-1' });
    expect(reg).toMatchObject({ token_type: 'fp+jwt', state: 'st-1', expires_in: 3600 });
    expect(Number.isInteger(reg.expires_in)).toBe(true);
    // FIPA-24: 256 bits, base64url.
    expect(reg.auth_session).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const { header, payload } = decodeJwtUnverified(reg.fp_token);
    expect(header).toMatchObject({ typ: 'fp+jwt', alg: 'ES256', kid: expect.any(String) });
    expect(payload).toMatchObject({
      iss: suite.issuer,
      aud: DEVICE_CLIENT.client_id,
      auth_session: reg.auth_session,
      nonce: 'n-1',
      cnf: { jkt: device.deviceKey.jkt },
    });
    expect(payload.exp! - payload.iat!).toBe(3600);
    expect(payload.nbf).toBe(payload.iat);
    const rows = await suite.env.db.query<{ key_jkt: string; client_id: string; status: string }>('SELECT key_jkt, client_id, status FROM device_sessions WHERE auth_session = $1', [reg.auth_session]);
    expect(rows).toEqual([{ key_jkt: device.deviceKey.jkt, client_id: DEVICE_CLIENT.client_id, status: 'active' }]);
  });

  it('registers through /token with grant_type=fp_register (seed 004)', async () => {
    const device = await FirstPartyClient.create({ issuer: suite.issuer, clientId: DEVICE_CLIENT.client_id });
    const reg = await device.register({ via: 'token', state: 'via-token' });
    expect(reg).toMatchObject({ token_type: 'fp+jwt', state: 'via-token' });
    expect(decodeJwtUnverified(reg.fp_token).payload.cnf).toEqual({ jkt: device.deviceKey.jkt });
  });

  it('issues a DPoP-bound at+jwt carrying auth_session, calls the API, refreshes with rotation (DPOP-17, AT-1/2)', async () => {
    const events: string[] = [];
    const device = await FirstPartyClient.create({ issuer: suite.issuer, clientId: DEVICE_CLIENT.client_id, onEvent: (e) => events.push(e.step) });
    const reg = await device.register();
    const token = await device.requestToken({ scope: 'api.read' });
    // The first proof had no nonce: the SDK got use_dpop_nonce and retried (seed 002 steps 3-5).
    expect(events).toEqual(['register', 'nonce', 'token']);
    expect(token).toMatchObject({ token_type: 'DPoP', expires_in: 600, auth_session: reg.auth_session, refresh_token: expect.any(String) });
    const { header, payload } = decodeJwtUnverified(token.access_token);
    expect(header.typ).toBe('at+jwt');
    expect(payload).toMatchObject({
      iss: suite.issuer,
      sub: DEVICE_CLIENT.client_id,
      aud: `${suite.issuer}/resources`,
      client_id: DEVICE_CLIENT.client_id,
      auth_session: reg.auth_session,
      cnf: { jkt: device.dpopKey.jkt },
      scope: `api.read auth_session:${reg.auth_session}`,
    });
    expect(payload.jti).toEqual(expect.any(String));
    expect(payload.cnf).not.toEqual({ jkt: device.deviceKey.jkt });

    const api = await device.fetchResource(`${suite.issuer}/api/me`);
    expect(api.status).toBe(200);
    expect(await api.json()).toMatchObject({ auth_session: reg.auth_session, client_id: DEVICE_CLIENT.client_id, jkt: device.dpopKey.jkt });

    const firstRefresh = device.refreshToken!;
    const refreshed = await device.refresh();
    expect(refreshed.refresh_token).not.toBe(firstRefresh);
    expect(refreshed.auth_session).toBe(reg.auth_session);
    expect(decodeJwtUnverified(refreshed.access_token).payload.cnf).toEqual({ jkt: device.dpopKey.jkt });
    expect((await device.fetchResource(`${suite.issuer}/api/me`)).status).toBe(200);

    // Refresh tokens are stored hashed only.
    const stored = await suite.env.db.query<{ token_hash: string }>('SELECT token_hash FROM refresh_tokens WHERE auth_session = $1', [reg.auth_session]);
    expect(stored).toHaveLength(2);
    for (const row of stored) expect([firstRefresh, refreshed.refresh_token]).not.toContain(row.token_hash);
  });

  it('honours resource (RFC 8707) within the client allow-list and refuses others with invalid_target', async () => {
    const device = await FirstPartyClient.create({ issuer: suite.issuer, clientId: DEVICE_CLIENT.client_id });
    await device.register();
    const ok = await device.requestToken({ resource: 'https://api.example.com' });
    expect(decodeJwtUnverified(ok.access_token).payload.aud).toBe('https://api.example.com');
    await expect(device.requestToken({ resource: 'https://evil.example.com' })).rejects.toMatchObject({ status: 400, error: 'invalid_target' });
    await expect(device.requestToken({ scope: 'admin' })).rejects.toMatchObject({ status: 400, error: 'invalid_scope' });
  });

  it('introspection shows cnf.jkt and auth_session; revocation makes it inactive and the API refuses it (RFC 7662/7009, DPOP-22)', async () => {
    const device = await FirstPartyClient.create({ issuer: suite.issuer, clientId: DEVICE_CLIENT.client_id });
    const reg = await device.register();
    const token = await device.requestToken();
    const active = await introspect(token.access_token);
    expect(active).toMatchObject({ active: true, token_type: 'DPoP', cnf: { jkt: device.dpopKey.jkt }, auth_session: reg.auth_session, client_id: DEVICE_CLIENT.client_id });
    expect(await introspect(token.refresh_token!)).toMatchObject({ active: true, auth_session: reg.auth_session, cnf: { jkt: device.dpopKey.jkt } });

    // The device revokes its own access token (public client: client_id only).
    const revoked = await postForm(`${suite.issuer}/revoke`, { token: token.access_token, token_type_hint: 'access_token', client_id: DEVICE_CLIENT.client_id });
    expect(revoked.status).toBe(200);
    expectNoStore(revoked);
    expect(await introspect(token.access_token)).toEqual({ active: false });
    const api = await device.fetchResource(`${suite.issuer}/api/me`);
    expect(api.status).toBe(401);
    expect(api.headers.get('www-authenticate')).toMatch(/^DPoP error="invalid_token"/);

    // Revoking the refresh token ends the family.
    await device.revoke();
    expect(await introspect(token.refresh_token!)).toEqual({ active: false });
    await expect(device.refresh()).rejects.toMatchObject({ error: 'invalid_grant' });
    // RFC 7009 §2.2: an unknown token is not an error.
    expect((await postForm(`${suite.issuer}/revoke`, { token: 'no-such-token', client_id: DEVICE_CLIENT.client_id })).status).toBe(200);
  });

  it('introspection is for authenticated confidential clients only', async () => {
    const anonymous = await postForm(`${suite.issuer}/introspect`, { token: 'x', client_id: DEVICE_CLIENT.client_id });
    expect(anonymous.status).toBe(400);
    expect(anonymous.body.error).toBe('unauthorized_client');
    const wrongSecret = await postForm(`${suite.issuer}/introspect`, { token: 'x' }, { authorization: `Basic ${Buffer.from('orders-api:wrong').toString('base64')}` });
    expect(wrongSecret.status).toBe(401);
    expect(wrongSecret.body.error).toBe('invalid_client');
    expect(wrongSecret.headers.get('www-authenticate')).toMatch(/^Basic /);
    expect(await introspect('garbage.token.value')).toEqual({ active: false });
  });

  it('a key rotation while tokens are live: old tokens still verify, new tokens use the new key (CONTRACT §8)', async () => {
    const keys = suite.get(KeyManager);
    const device = await FirstPartyClient.create({ issuer: suite.issuer, clientId: DEVICE_CLIENT.client_id });
    await device.register();
    const before = await device.requestToken();
    const oldKid = decodeJwtUnverified(before.access_token).header.kid;

    // A scheduled rotation publishes the next key before it signs.
    const pending = await keys.rotate();
    expect(pending.created).toBe(true);
    await keys.refresh();
    let jwks = (await (await fetch(`${suite.issuer}/jwks`)).json()) as { keys: { kid: string }[] };
    expect(jwks.keys.map((k) => k.kid)).toEqual(expect.arrayContaining([oldKid, pending.kid]));
    expect(decodeJwtUnverified((await device.refresh()).access_token).header.kid).toBe(oldKid);

    // Activating at once (as `keys rotate --immediate` does) switches signing; the old key stays published.
    const now = await keys.rotate({ immediate: true });
    await keys.refresh();
    const after = await device.refresh();
    expect(decodeJwtUnverified(after.access_token).header.kid).toBe(now.kid);
    jwks = (await (await fetch(`${suite.issuer}/jwks`)).json()) as { keys: { kid: string }[] };
    expect(jwks.keys.map((k) => k.kid)).toEqual(expect.arrayContaining([oldKid, now.kid]));

    // A token signed by the retiring key still works at the API and at introspection.
    const other = await FirstPartyClient.create({ issuer: suite.issuer, clientId: DEVICE_CLIENT.client_id, dpopKey: device.dpopKey, deviceKey: device.deviceKey });
    other.accessToken = before.access_token;
    other.authSession = device.authSession;
    expect((await other.fetchResource(`${suite.issuer}/api/me`)).status).toBe(200);
    expect(await introspect(before.access_token)).toMatchObject({ active: true });
    expect((await device.fetchResource(`${suite.issuer}/api/me`)).status).toBe(200);

    // Both rotations are in the audit trail.
    await suite.get(AuditService).flush();
    const rotations = await suite.env.db.query<{ details: { kid: string; immediate: boolean } }>("SELECT details FROM audit_events WHERE event_type = 'signing_key.rotated' ORDER BY id");
    expect(rotations.map((r) => [r.details.kid, r.details.immediate])).toEqual([
      [pending.kid, false],
      [now.kid, true],
    ]);
  });

  it('revoking a device session stops its refresh tokens, access tokens (at the API, via the session flag) and assertions', async () => {
    const device = await FirstPartyClient.create({ issuer: suite.issuer, clientId: DEVICE_CLIENT.client_id });
    const reg = await device.register();
    const token = await device.requestToken();
    expect((await device.fetchResource(`${suite.issuer}/api/me`)).status).toBe(200);
    expect(await suite.get(RevocationService).revokeSession(reg.auth_session, 'test', new Date())).toBe(true);

    const api = await device.fetchResource(`${suite.issuer}/api/me`);
    expect(api.status).toBe(401);
    expect(api.headers.get('www-authenticate')).toMatch(/error="invalid_token"/);
    expect(await introspect(token.access_token)).toEqual({ active: false });
    await expect(device.refresh()).rejects.toMatchObject({ error: 'invalid_grant' });
    await expect(device.requestToken()).rejects.toMatchObject({ status: 401, error: 'invalid_client' });
    const rows = await suite.env.db.query<{ status: string }>('SELECT status FROM refresh_tokens WHERE auth_session = $1', [reg.auth_session]);
    expect(rows.map((r) => r.status)).toEqual(['revoked']);
    await suite.get(AuditService).flush();
    expect(await suite.env.db.query("SELECT 1 FROM audit_events WHERE event_type = 'device_session.revoked' AND auth_session = $1", [reg.auth_session])).toHaveLength(1);
  });

  it('the session flag alone stops access tokens that no refresh token tracks', async () => {
    await suite.createClient({ ...DEVICE_CLIENT, client_id: 'no-refresh-app', grant_types: ['fp_register', 'client_credentials'] });
    const device = await FirstPartyClient.create({ issuer: suite.issuer, clientId: 'no-refresh-app' });
    const reg = await device.register();
    const token = await device.requestToken();
    expect(token.refresh_token).toBeUndefined();
    expect((await device.fetchResource(`${suite.issuer}/api/me`)).status).toBe(200);
    await suite.get(RevocationService).revokeSession(reg.auth_session, 'test', new Date());
    expect((await device.fetchResource(`${suite.issuer}/api/me`)).status).toBe(401);
  });

  it('writes an audit trail without secrets', async () => {
    const device = await FirstPartyClient.create({ issuer: suite.issuer, clientId: DEVICE_CLIENT.client_id, dpopKey: await generateClientKeyPair('EdDSA') });
    const reg = await device.register();
    const token = await device.requestToken();
    await suite.get(AuditService).flush();
    const rows = await suite.env.db.query<{ event_type: string; details: Record<string, unknown> }>(
      'SELECT event_type, details FROM audit_events WHERE auth_session = $1 ORDER BY id',
      [reg.auth_session],
    );
    expect(rows.map((r) => r.event_type)).toEqual(['device.registered', 'token.issued']);
    const all = JSON.stringify(rows);
    expect(all).not.toContain(token.access_token);
    expect(all).not.toContain(token.refresh_token);
  });
});

describe('RS256 signing (SIGNING_ALG=RS256)', () => {
  let suite: RunningApp;
  beforeAll(async () => {
    suite = await startStandalone('rs256', { SIGNING_ALG: 'RS256' });
    await suite.createClient(DEVICE_CLIENT);
  });
  afterAll(async () => suite?.close());

  it('AT-1: signs fp+jwt and at+jwt with RS256 and the API verifies them', async () => {
    const jwks = (await (await fetch(`${suite.issuer}/jwks`)).json()) as { keys: Record<string, unknown>[] };
    expect(jwks.keys[0]).toMatchObject({ kty: 'RSA', alg: 'RS256', e: 'AQAB' });
    expect(jwks.keys[0]).not.toHaveProperty('d');
    const device = await FirstPartyClient.create({ issuer: suite.issuer, clientId: DEVICE_CLIENT.client_id });
    const reg = await device.register();
    expect(decodeJwtUnverified(reg.fp_token).header.alg).toBe('RS256');
    const token = await device.requestToken();
    expect(decodeJwtUnverified(token.access_token).header.alg).toBe('RS256');
    expect((await device.fetchResource(`${suite.issuer}/api/me`)).status).toBe(200);
  });
});
