import { randomUUID } from 'node:crypto';
import type { FirstPartyClient } from '@fpa/client-sdk';
import { createDpopProof } from '@fpa/crypto';
import { TokenMetrics } from '@fpa/grants';
import { asNonce, ASSERTION_TYPE, expectOAuthError, postForm, registeredDevice, type FormResponse } from '../support/http';
import { DEVICE_CLIENT, startStandalone, type RunningSuite } from '../support/suite';

/**
 * The device's client assertion at every endpoint that authenticates clients — `/token`,
 * `/introspect`, `/revoke` — on real PostgreSQL and Redis (issue 7, finding 8): its `jti` is
 * single use across all of them (JWTCA-7), and its `iat` may not lie in the future beyond
 * CLOCK_SKEW_SECONDS (JWTCA-6).
 */

/** Client-authentication failure reasons counted by an app (fpa_client_auth_failures_total). */
async function authFailures(app: RunningSuite): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const v of (await app.get(TokenMetrics).clientAuthFailures.get()).values) {
    const reason = String(v.labels.reason);
    out.set(reason, (out.get(reason) ?? 0) + v.value);
  }
  return out;
}

/** Sends a request and returns it with the client-authentication failure reasons it added. */
async function withReasons(app: RunningSuite, request: () => Promise<FormResponse>): Promise<{ res: FormResponse; reasons: string[] }> {
  const before = await authFailures(app);
  const res = await request();
  const reasons: string[] = [];
  for (const [k, v] of await authFailures(app)) for (let i = 0; i < v - (before.get(k) ?? 0); i++) reasons.push(k);
  return { res, reasons: reasons.sort() };
}

/** Asserts a 401 invalid_client caused by exactly `reason`. */
async function expectAuthRefused(app: RunningSuite, request: () => Promise<FormResponse>, reason: string): Promise<void> {
  const { res, reasons } = await withReasons(app, request);
  expectOAuthError(res, 401, 'invalid_client');
  expect(reasons).toEqual([reason]);
}

describe('client assertions at every endpoint (standalone, PostgreSQL + Redis)', () => {
  let suite: RunningSuite;
  let device: FirstPartyClient;

  beforeAll(async () => {
    suite = await startStandalone('clientassertion');
    await suite.createClient(DEVICE_CLIENT);
    device = await registeredDevice(suite.issuer, DEVICE_CLIENT.client_id);
  });
  afterAll(async () => suite?.close());

  const assertionForm = (assertion: string): Record<string, string> => ({ client_assertion_type: ASSERTION_TYPE, client_assertion: assertion });
  let nonce: string | undefined;
  /** client_credentials at /token with this assertion and a fresh proof carrying the current AS nonce. */
  const token = async (assertion: string): Promise<FormResponse> => {
    for (let attempt = 0; ; attempt++) {
      nonce ??= await asNonce(suite.issuer);
      const res = await postForm(
        `${suite.issuer}/token`,
        { grant_type: 'client_credentials', ...assertionForm(assertion) },
        { dpop: await createDpopProof(device.dpopKey, { htm: 'POST', htu: `${suite.issuer}/token`, nonce }) },
      );
      nonce = res.headers.get('dpop-nonce') ?? nonce;
      // A nonce challenge is answered before client authentication and spends nothing (README, DPoP).
      if (res.body.error === 'use_dpop_nonce' && attempt === 0) continue;
      return res;
    }
  };
  /** RFC 7009: revoking an unknown token is a 200, so this isolates client authentication. */
  const revoke = (assertion: string): Promise<FormResponse> => postForm(`${suite.issuer}/revoke`, { token: randomUUID(), ...assertionForm(assertion) });
  const introspect = (assertion: string): Promise<FormResponse> => postForm(`${suite.issuer}/introspect`, { token: randomUUID(), ...assertionForm(assertion) });
  const now = (): number => Math.floor(Date.now() / 1000);

  describe('JWTCA-7: an assertion jti is spent wherever it was first accepted', () => {
    it('control: a fresh assertion works at /revoke and at /token', async () => {
      expect((await revoke(await device.clientAssertion())).status).toBe(200);
      expect((await token(await device.clientAssertion())).status).toBe(200);
    });

    it('the same assertion twice at /revoke → the second is 401 invalid_client', async () => {
      const assertion = await device.clientAssertion();
      expect((await revoke(assertion)).status).toBe(200);
      await expectAuthRefused(suite, () => revoke(assertion), 'replay');
    });

    it('an assertion used at /revoke is refused at /token', async () => {
      const assertion = await device.clientAssertion();
      expect((await revoke(assertion)).status).toBe(200);
      await expectAuthRefused(suite, () => token(assertion), 'replay');
    });

    it('an assertion used at /token is refused at /revoke', async () => {
      const assertion = await device.clientAssertion();
      expect((await token(assertion)).status).toBe(200);
      await expectAuthRefused(suite, () => revoke(assertion), 'replay');
    });

    it('an assertion presented at /introspect is spent: /token then refuses it', async () => {
      const assertion = await device.clientAssertion();
      // The device is not a resource server: authenticated, then refused the introspection itself.
      const res = await introspect(assertion);
      expectOAuthError(res, 400, 'unauthorized_client');
      await expectAuthRefused(suite, () => token(assertion), 'replay');
    });

    it('ten concurrent /revoke requests with one assertion → exactly one is accepted', async () => {
      const assertion = await device.clientAssertion();
      const statuses = (await Promise.all(Array.from({ length: 10 }, () => revoke(assertion)))).map((r) => r.status).sort();
      expect(statuses).toEqual([200, ...Array<number>(9).fill(401)]);
    });
  });

  describe('JWTCA-6: iat and nbf', () => {
    it('iat one year in the future → 401 invalid_client at /token and at /revoke', async () => {
      const claims = { iat: now() + 365 * 86_400, exp: now() + 60 };
      await expectAuthRefused(suite, async () => token(await device.clientAssertion(claims)), 'iat_future');
      await expectAuthRefused(suite, async () => revoke(await device.clientAssertion(claims)), 'iat_future');
    });

    it('iat 30 s in the future (beyond CLOCK_SKEW_SECONDS=5) → 401 invalid_client', async () => {
      await expectAuthRefused(suite, async () => token(await device.clientAssertion({ iat: now() + 30 })), 'iat_future');
    });

    it('iat 3 s in the future (within CLOCK_SKEW_SECONDS) is accepted', async () => {
      const res = await token(await device.clientAssertion({ iat: now() + 3 }));
      expect(res.status).toBe(200);
    });

    it('nbf in the future beyond the skew → 401 invalid_client; within the skew accepted', async () => {
      await expectAuthRefused(suite, async () => token(await device.clientAssertion({ nbf: now() + 30 })), 'not_yet_valid');
      expect((await token(await device.clientAssertion({ nbf: now() + 3 }))).status).toBe(200);
    });
  });
});
