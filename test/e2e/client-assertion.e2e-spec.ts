import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FirstPartyClient } from '@fpa/client-sdk';
import { createDpopProof } from '@fpa/crypto';
import { TokenMetrics } from '@fpa/grants';
import { asNonce, ASSERTION_TYPE, expectOAuthError, postForm, registeredDevice, type FormResponse } from '../support/http';
import { DEVICE_CLIENT } from '@fpa/testing';
import { startStandalone, type RunningApp } from '@fpa/testing/app';

/**
 * The device's client assertion at every endpoint that authenticates clients — `/token`,
 * `/introspect`, `/revoke` — on real PostgreSQL and Redis (issue 7, findings 8 and 11): its `jti` is
 * single use across all of them (JWTCA-7), its `iat`/`nbf` may not lie in the future beyond
 * CLOCK_SKEW_SECONDS (JWTCA-6), and its `aud` is the issuer as the sole value unless the client
 * opted out (JWTCA-9).
 */

/** Client-authentication failure reasons counted by an app (fpa_client_auth_failures_total). */
async function authFailures(app: RunningApp): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const v of (await app.get(TokenMetrics).clientAuthFailures.get()).values) {
    const reason = String(v.labels.reason);
    out.set(reason, (out.get(reason) ?? 0) + v.value);
  }
  return out;
}

/** Asserts a 401 invalid_client caused by exactly `reason` (and nothing else counted meanwhile). */
async function expectAuthRefused(app: RunningApp, request: () => Promise<FormResponse>, reason: string): Promise<void> {
  const before = await authFailures(app);
  const res = await request();
  const reasons: string[] = [];
  for (const [k, v] of await authFailures(app)) for (let i = 0; i < v - (before.get(k) ?? 0); i++) reasons.push(k);
  expectOAuthError(res, 401, 'invalid_client');
  expect(reasons).toEqual([reason]);
}

const assertionForm = (assertion: string): Record<string, string> => ({ client_assertion_type: ASSERTION_TYPE, client_assertion: assertion });
const now = (): number => Math.floor(Date.now() / 1000);
/** The last AS nonce seen per issuer. */
const nonces = new Map<string, string>();

/** client_credentials at `app`'s /token with this assertion and a fresh proof by `dev`'s DPoP key. */
async function token(app: RunningApp, dev: FirstPartyClient, assertion: string): Promise<FormResponse> {
  const url = `${app.issuer}/token`;
  for (let attempt = 0; ; attempt++) {
    const nonce = nonces.get(app.issuer) ?? (await asNonce(app.issuer));
    const res = await postForm(url, { grant_type: 'client_credentials', ...assertionForm(assertion) }, { dpop: await createDpopProof(dev.dpopKey, { htm: 'POST', htu: url, nonce }) });
    nonces.set(app.issuer, res.headers.get('dpop-nonce') ?? nonce);
    // A nonce challenge is answered before client authentication and spends nothing (README, DPoP).
    if (res.body.error === 'use_dpop_nonce' && attempt === 0) continue;
    return res;
  }
}

/** RFC 7009: revoking an unknown token is a 200, so this isolates client authentication. */
const revoke = (app: RunningApp, assertion: string): Promise<FormResponse> => postForm(`${app.issuer}/revoke`, { token: randomUUID(), ...assertionForm(assertion) });

describe('client assertions at every endpoint (standalone, PostgreSQL + Redis)', () => {
  /** Strict by default (ASSERTION_STRICT_AUDIENCE unset); one client opted out. */
  let suite: RunningApp;
  let device: FirstPartyClient;
  let seedDevice: FirstPartyClient;
  const SEED_APP = { ...DEVICE_CLIENT, client_id: 'seed-style-app', assertion_audience: 'issuer_or_endpoint' };

  beforeAll(async () => {
    suite = await startStandalone('clientassertion');
    await suite.createClient(DEVICE_CLIENT);
    await suite.createClient(SEED_APP);
    device = await registeredDevice(suite.issuer, DEVICE_CLIENT.client_id);
    seedDevice = await registeredDevice(suite.issuer, SEED_APP.client_id);
  });
  afterAll(async () => suite?.close());

  const introspect = (assertion: string): Promise<FormResponse> => postForm(`${suite.issuer}/introspect`, { token: randomUUID(), ...assertionForm(assertion) });

  describe('JWTCA-7: an assertion jti is spent wherever it was first accepted', () => {
    it('control: a fresh assertion works at /revoke and at /token', async () => {
      expect((await revoke(suite, await device.clientAssertion())).status).toBe(200);
      expect((await token(suite, device, await device.clientAssertion())).status).toBe(200);
    });

    it('the same assertion twice at /revoke → the second is 401 invalid_client', async () => {
      const assertion = await device.clientAssertion();
      expect((await revoke(suite, assertion)).status).toBe(200);
      await expectAuthRefused(suite, () => revoke(suite, assertion), 'replay');
    });

    it('an assertion used at /revoke is refused at /token', async () => {
      const assertion = await device.clientAssertion();
      expect((await revoke(suite, assertion)).status).toBe(200);
      await expectAuthRefused(suite, () => token(suite, device, assertion), 'replay');
    });

    it('an assertion used at /token is refused at /revoke', async () => {
      const assertion = await device.clientAssertion();
      expect((await token(suite, device, assertion)).status).toBe(200);
      await expectAuthRefused(suite, () => revoke(suite, assertion), 'replay');
    });

    it('an assertion presented at /introspect is spent: /token then refuses it', async () => {
      const assertion = await device.clientAssertion();
      // The device is not a resource server: authenticated, then refused the introspection itself.
      expectOAuthError(await introspect(assertion), 400, 'unauthorized_client');
      await expectAuthRefused(suite, () => token(suite, device, assertion), 'replay');
    });

    it('ten concurrent /revoke requests with one assertion → exactly one is accepted', async () => {
      const assertion = await device.clientAssertion();
      const statuses = (await Promise.all(Array.from({ length: 10 }, () => revoke(suite, assertion)))).map((r) => r.status).sort();
      expect(statuses).toEqual([200, ...Array<number>(9).fill(401)]);
    });
  });

  describe('JWTCA-6: iat and nbf', () => {
    it('iat one year in the future → 401 invalid_client at /token and at /revoke', async () => {
      const claims = { iat: now() + 365 * 86_400, exp: now() + 60 };
      await expectAuthRefused(suite, async () => token(suite, device, await device.clientAssertion(claims)), 'iat_future');
      await expectAuthRefused(suite, async () => revoke(suite, await device.clientAssertion(claims)), 'iat_future');
    });

    it('iat 30 s in the future (beyond CLOCK_SKEW_SECONDS=5) → 401 invalid_client', async () => {
      await expectAuthRefused(suite, async () => token(suite, device, await device.clientAssertion({ iat: now() + 30 })), 'iat_future');
    });

    it('iat 3 s in the future (within CLOCK_SKEW_SECONDS) is accepted', async () => {
      expect((await token(suite, device, await device.clientAssertion({ iat: now() + 3 }))).status).toBe(200);
    });

    it('nbf in the future beyond the skew → 401 invalid_client; within the skew accepted', async () => {
      await expectAuthRefused(suite, async () => token(suite, device, await device.clientAssertion({ nbf: now() + 30 })), 'not_yet_valid');
      expect((await token(suite, device, await device.clientAssertion({ nbf: now() + 3 }))).status).toBe(200);
    });
  });

  describe('JWTCA-9: the issuer is the sole audience by default', () => {
    it('aud = the token endpoint URL → 401 invalid_client', async () => {
      await expectAuthRefused(suite, async () => token(suite, device, await device.clientAssertion({ aud: `${suite.issuer}/token` })), 'audience');
    });

    it('aud = [issuer, token endpoint URL] → 401 invalid_client (the issuer must be the sole value)', async () => {
      await expectAuthRefused(suite, async () => token(suite, device, await device.clientAssertion({ aud: [suite.issuer, `${suite.issuer}/token`] })), 'audience');
    });

    it('aud = the issuer, or [issuer], is accepted', async () => {
      expect((await token(suite, device, await device.clientAssertion({ aud: suite.issuer }))).status).toBe(200);
      expect((await token(suite, device, await device.clientAssertion({ aud: [suite.issuer] }))).status).toBe(200);
    });

    it('assertion_audience "issuer_or_endpoint" (a per-client opt-out): the URL of the endpoint it is sent to is accepted, another endpoint URL is not', async () => {
      const aud = (path: string): Promise<string> => seedDevice.clientAssertion({ aud: `${suite.issuer}${path}` });
      expect((await token(suite, seedDevice, await aud('/token'))).status).toBe(200);
      expect((await revoke(suite, await aud('/revoke'))).status).toBe(200);
      expect((await token(suite, seedDevice, await seedDevice.clientAssertion({ aud: [suite.issuer, `${suite.issuer}/token`] }))).status).toBe(200);
      await expectAuthRefused(suite, async () => token(suite, seedDevice, await aud('/revoke')), 'audience');
      await expectAuthRefused(suite, async () => revoke(suite, await aud('/token')), 'audience');
      await expectAuthRefused(suite, async () => token(suite, seedDevice, await aud('/par')), 'audience');
      // The issuer keeps working for the opted-out client.
      expect((await token(suite, seedDevice, await seedDevice.clientAssertion())).status).toBe(200);
    });
  });

  describe('ASSERTION_STRICT_AUDIENCE=false as the deployment default, clients from CLIENTS_FILE', () => {
    let lenient: RunningApp;
    let lenientDevice: FirstPartyClient;
    let strictDevice: FirstPartyClient;
    const dir = mkdtempSync(join(tmpdir(), 'fpa-clients-'));

    beforeAll(async () => {
      const file = join(dir, 'clients.json');
      writeFileSync(file, JSON.stringify({ clients: [DEVICE_CLIENT, { ...DEVICE_CLIENT, client_id: 'strict-app', assertion_audience: 'issuer' }] }));
      lenient = await startStandalone('assertionlenient', { ASSERTION_STRICT_AUDIENCE: 'false', CLIENTS_FILE: file });
      lenientDevice = await registeredDevice(lenient.issuer, DEVICE_CLIENT.client_id);
      strictDevice = await registeredDevice(lenient.issuer, 'strict-app');
    });
    afterAll(async () => {
      await lenient?.close();
      rmSync(dir, { recursive: true, force: true });
    });

    it('the file’s assertion_audience is stored per client (NULL = the deployment default)', async () => {
      const rows = await lenient.env.db.query('SELECT client_id, assertion_audience FROM clients ORDER BY client_id');
      expect(rows).toEqual([
        { client_id: DEVICE_CLIENT.client_id, assertion_audience: null },
        { client_id: 'strict-app', assertion_audience: 'issuer' },
      ]);
    });

    it('a client without assertion_audience follows the default: the token endpoint URL is accepted', async () => {
      expect((await token(lenient, lenientDevice, await lenientDevice.clientAssertion({ aud: `${lenient.issuer}/token` }))).status).toBe(200);
    });

    it('a client with assertion_audience "issuer" stays strict', async () => {
      await expectAuthRefused(lenient, async () => token(lenient, strictDevice, await strictDevice.clientAssertion({ aud: `${lenient.issuer}/token` })), 'audience');
      expect((await token(lenient, strictDevice, await strictDevice.clientAssertion())).status).toBe(200);
    });
  });
});
