import { FirstPartyClient, type TokenResult } from '@fpa/client-sdk';
import { createDpopProof, decodeJwtUnverified, generateClientKeyPair, type ClientKeyPair } from '@fpa/crypto';
import { asNonce, expectNoStore, postForm, type FormResponse } from '../support/http';
import { DEVICE_CLIENT } from '@fpa/testing';
import { startStandalone, type RunningApp } from '@fpa/testing/app';

/**
 * The refresh_token grant on real PostgreSQL and Redis (CONTRACT §4: "a refresh token bound to the
 * session and DPoP key (rotated on use; reuse of a rotated token revokes the family)"):
 * RFC 6749 §6, RFC 9700 §4.14 rotation and reuse detection, DPOP-16/18 key binding, scope
 * narrowing, device-session revocation and racing redemptions.
 */
describe('refresh_token grant (standalone, PostgreSQL + Redis)', () => {
  let suite: RunningApp;
  let rsSecret: string;
  /** The last AS nonce seen; refreshed from every response's DPoP-Nonce header. */
  let nonce: string | undefined;

  const OTHER_CLIENT = { ...DEVICE_CLIENT, client_id: 'other-native-app', name: 'Another native app' } as const;

  beforeAll(async () => {
    suite = await startStandalone('refresh');
    await suite.createClient(DEVICE_CLIENT);
    await suite.createClient(OTHER_CLIENT);
    rsSecret = (await suite.createClient({ client_id: 'rs', type: 'confidential', permissions: ['introspect'] })).secret!;
  });
  afterAll(async () => suite?.close());

  const tokenUrl = (): string => `${suite.issuer}/token`;

  /** A registered device holding a DPoP-bound access token and refresh token. */
  async function deviceWithTokens(scope?: string): Promise<{ device: FirstPartyClient; token: TokenResult }> {
    const device = await FirstPartyClient.create({ issuer: suite.issuer, clientId: DEVICE_CLIENT.client_id });
    await device.register();
    const token = await device.requestToken(scope ? { scope } : {});
    expect(token.token_type).toBe('DPoP');
    expect(token.refresh_token).toEqual(expect.any(String));
    return { device, token };
  }

  /** A hand-built refresh request with a proof by `key` carrying the current AS nonce (one retry on use_dpop_nonce). */
  async function redeem(refreshToken: string, key: ClientKeyPair, extra: Record<string, string> = {}): Promise<FormResponse> {
    for (let attempt = 0; ; attempt++) {
      nonce ??= await asNonce(suite.issuer);
      const res = await postForm(
        tokenUrl(),
        { grant_type: 'refresh_token', refresh_token: refreshToken, client_id: DEVICE_CLIENT.client_id, ...extra },
        { dpop: await createDpopProof(key, { htm: 'POST', htu: tokenUrl(), nonce }) },
      );
      const fresh = res.headers.get('dpop-nonce');
      if (fresh) nonce = fresh;
      if (res.body.error === 'use_dpop_nonce' && attempt === 0) continue;
      return res;
    }
  }

  function expectInvalidGrant(res: FormResponse): void {
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_grant');
    expectNoStore(res);
  }

  const introspect = async (token: string): Promise<Record<string, unknown>> => {
    const r = await postForm(`${suite.issuer}/introspect`, { token }, { authorization: `Basic ${Buffer.from(`rs:${rsSecret}`).toString('base64')}` });
    expect(r.status).toBe(200);
    return r.body;
  };

  /** GET /api/me with a correct proof for `accessToken` by `key`. */
  async function callApi(accessToken: string, key: ClientKeyPair): Promise<Response> {
    const url = `${suite.issuer}/api/me`;
    return fetch(url, { headers: { authorization: `DPoP ${accessToken}`, dpop: await createDpopProof(key, { htm: 'GET', htu: url, accessToken }) } });
  }

  async function reuseCounter(): Promise<number> {
    const res = await fetch(`${suite.issuer}/metrics`);
    expect(res.status).toBe(200);
    const m = /^fpa_refresh_token_reuse_total (\d+(?:\.\d+)?)$/m.exec(await res.text());
    expect(m).not.toBeNull();
    return Number(m![1]);
  }

  it('RFC 9700 §4.14 / CONTRACT §4: rotation on every use; reuse of a rotated token revokes the whole family and its access tokens', async () => {
    const { device, token: t0 } = await deviceWithTokens();
    const authSession = device.authSession!;
    const rt0 = t0.refresh_token!;
    const t1 = await device.refresh();
    const rt1 = t1.refresh_token!;
    const t2 = await device.refresh();
    const rt2 = t2.refresh_token!;
    expect(new Set([rt0, rt1, rt2]).size).toBe(3);
    const accessTokens = [t0.access_token, t1.access_token, t2.access_token];
    expect(new Set(accessTokens).size).toBe(3);
    // Before the reuse every access token of the family is live.
    for (const at of accessTokens) {
      expect(await introspect(at)).toMatchObject({ active: true });
      expect((await callApi(at, device.dpopKey)).status).toBe(200);
    }
    let rows = await suite.env.db.query<{ id: string; parent_id: string | null; family_id: string; status: string }>(
      'SELECT id, parent_id, family_id, status FROM refresh_tokens WHERE auth_session = $1 ORDER BY created_at, id',
      [authSession],
    );
    expect(rows.map((r) => r.status).sort()).toEqual(['active', 'rotated', 'rotated']);
    const root = rows.find((r) => r.parent_id === null)!;
    expect(rows.every((r) => r.family_id === root.id)).toBe(true);

    const before = await reuseCounter();
    // Presenting the already-rotated rt0 again: refused…
    const reuse = await redeem(rt0, device.dpopKey);
    expectInvalidGrant(reuse);
    expect(reuse.body).not.toHaveProperty('access_token');
    expect(await reuseCounter()).toBe(before + 1);

    // …and the newest refresh token of the family is dead too.
    expectInvalidGrant(await redeem(rt2, device.dpopKey));
    expect(await introspect(rt2)).toEqual({ active: false });

    // Every access token issued in the family is refused by the API and inactive at introspection.
    for (const at of accessTokens) {
      const api = await callApi(at, device.dpopKey);
      expect(api.status).toBe(401);
      expect(api.headers.get('www-authenticate')).toMatch(/^DPoP error="invalid_token"/);
      expect(await introspect(at)).toEqual({ active: false });
    }

    rows = await suite.env.db.query('SELECT id, parent_id, family_id, status, revoked_reason FROM refresh_tokens WHERE auth_session = $1', [authSession]);
    expect(rows).toHaveLength(3);
    for (const row of rows) expect(row).toMatchObject({ family_id: root.id, status: 'revoked', revoked_reason: 'reuse_detected' });
    // Later refusals of the revoked family are not counted as new reuse.
    expect(await reuseCounter()).toBe(before + 1);
  });

  it('DPOP-18: a refresh with a proof by another key is invalid_grant and does NOT revoke the family', async () => {
    const { device, token } = await deviceWithTokens();
    const before = await reuseCounter();
    const stranger = await generateClientKeyPair();
    expectInvalidGrant(await redeem(token.refresh_token!, stranger));

    // The token was not consumed and nothing was revoked: the right key still refreshes it.
    const rows = await suite.env.db.query<{ status: string }>('SELECT status FROM refresh_tokens WHERE auth_session = $1', [device.authSession]);
    expect(rows).toEqual([{ status: 'active' }]);
    const res = await redeem(token.refresh_token!, device.dpopKey);
    expect(res.status).toBe(200);
    expect(res.body.refresh_token).toEqual(expect.any(String));
    expect(decodeJwtUnverified(res.body.access_token as string).payload.cnf).toEqual({ jkt: device.dpopKey.jkt });
    expect((await callApi(token.access_token, device.dpopKey)).status).toBe(200);
    expect(await reuseCounter()).toBe(before);
  });

  it('DPOP-18: a ROTATED token presented without the bound key is refused but cannot end the session', async () => {
    const { device, token } = await deviceWithTokens();
    const before = await reuseCounter();
    const next = await redeem(token.refresh_token!, device.dpopKey);
    expect(next.status).toBe(200);
    // Someone holding the old token but not the DPoP key: refused, and the family survives.
    expectInvalidGrant(await redeem(token.refresh_token!, await generateClientKeyPair()));
    expect(await reuseCounter()).toBe(before);
    const statuses = await suite.env.db.query<{ status: string }>('SELECT status FROM refresh_tokens WHERE auth_session = $1 ORDER BY created_at', [device.authSession]);
    expect(statuses.map((r) => r.status)).toEqual(['rotated', 'active']);
    expect((await redeem(next.body.refresh_token as string, device.dpopKey)).status).toBe(200);
    // The same replay WITH the key is reuse: the family is revoked.
    expectInvalidGrant(await redeem(token.refresh_token!, device.dpopKey));
    expect(await reuseCounter()).toBe(before + 1);
  });

  it('RFC 6749 §6: a refresh token presented by another client_id is invalid_grant (and stays usable by its client)', async () => {
    const { device, token } = await deviceWithTokens();
    expectInvalidGrant(await redeem(token.refresh_token!, device.dpopKey, { client_id: OTHER_CLIENT.client_id }));
    const rows = await suite.env.db.query<{ status: string }>('SELECT status FROM refresh_tokens WHERE auth_session = $1', [device.authSession]);
    expect(rows).toEqual([{ status: 'active' }]);
    expect((await redeem(token.refresh_token!, device.dpopKey)).status).toBe(200);
  });

  it('RFC 6749 §6: scope may be narrowed on refresh; a scope beyond the original grant is invalid_scope', async () => {
    const { device, token } = await deviceWithTokens('openid api.read');
    const authSession = device.authSession!;
    expect(token.scope).toBe(`openid api.read auth_session:${authSession}`);

    const narrowed = await redeem(token.refresh_token!, device.dpopKey, { scope: 'api.read' });
    expect(narrowed.status).toBe(200);
    expect(narrowed.body.scope).toBe(`api.read auth_session:${authSession}`);
    expect(decodeJwtUnverified(narrowed.body.access_token as string).payload.scope).toBe(`api.read auth_session:${authSession}`);
    const rt = narrowed.body.refresh_token as string;

    // profile is allowed for the client but was not granted originally.
    const wider = await redeem(rt, device.dpopKey, { scope: 'openid api.read profile' });
    expect(wider.status).toBe(400);
    expect(wider.body.error).toBe('invalid_scope');
    expectNoStore(wider);
    const unknown = await redeem(rt, device.dpopKey, { scope: 'admin' });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error).toBe('invalid_scope');

    // The refused requests did not consume it; without scope the original grant applies again.
    const again = await redeem(rt, device.dpopKey);
    expect(again.status).toBe(200);
    expect(again.body.scope).toBe(`openid api.read auth_session:${authSession}`);
  });

  it('CONTRACT §4: after the device session is revoked its refresh token is invalid_grant', async () => {
    const { device, token } = await deviceWithTokens();
    await suite.env.db.query(`UPDATE device_sessions SET status = 'revoked', revoked_at = now() WHERE auth_session = $1`, [device.authSession]);
    const res = await redeem(token.refresh_token!, device.dpopKey);
    expectInvalidGrant(res);
    expect(await introspect(token.refresh_token!)).toEqual({ active: false });
  });

  it('RFC 9700 §4.14: 50 concurrent redemptions of one refresh token: exactly one wins, 49 × invalid_grant, one child row', async () => {
    const { device, token } = await deviceWithTokens();
    const [parent] = await suite.env.db.query<{ id: string }>('SELECT id FROM refresh_tokens WHERE auth_session = $1', [device.authSession]);
    const current = await asNonce(suite.issuer);
    const form = { grant_type: 'refresh_token', refresh_token: token.refresh_token!, client_id: DEVICE_CLIENT.client_id };
    // Every request has its own fresh proof with the current nonce; all are ready before any is sent.
    const proofs = await Promise.all(Array.from({ length: 50 }, () => createDpopProof(device.dpopKey, { htm: 'POST', htu: tokenUrl(), nonce: current })));
    const results = await Promise.all(proofs.map((dpop) => postForm(tokenUrl(), form, { dpop })));

    const won = results.filter((r) => r.status === 200);
    const lost = results.filter((r) => r.status !== 200);
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(49);
    for (const r of lost) expect({ status: r.status, error: r.body.error }).toEqual({ status: 400, error: 'invalid_grant' });
    expect(won[0].body).toMatchObject({ token_type: 'DPoP', refresh_token: expect.any(String), access_token: expect.any(String) });

    const children = await suite.env.db.query<{ id: string }>('SELECT id FROM refresh_tokens WHERE parent_id = $1', [parent.id]);
    expect(children).toHaveLength(1);
    const all = await suite.env.db.query('SELECT id FROM refresh_tokens WHERE auth_session = $1', [device.authSession]);
    expect(all).toHaveLength(2);
  });
});
