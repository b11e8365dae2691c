import { createHmac, randomUUID } from 'node:crypto';
import type { FirstPartyClient } from '@fpa/client-sdk';
import { createDpopProof, type ClientKeyPair, type DpopProofInput } from '@fpa/crypto';
import { DpopMetrics } from '@fpa/dpop';
import { TokenMetrics } from '@fpa/grants';
import { DEVICE_CLIENT } from '@fpa/testing';
import { startStandalone, type RunningApp } from '@fpa/testing/app';
import { asNonce, ASSERTION_TYPE, clientCredentialsForm, expectNoStore, expectOAuthError, type FormResponse, postForm, registeredDevice } from './http';

/**
 * The token endpoint refusal suite's app and helpers (test/e2e/token-refusals.e2e-spec.ts, whose
 * describe blocks are in test/e2e/token-refusals/): the standalone app with two clients and a
 * registered device, requests with one defect each, and the failure reasons a refusal must count.
 */

export const b64u = (v: unknown): string => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

/** A compact JWS with HMAC-SHA256 (what an attacker would send); never accepted by the suite. */
export function hs256(header: Record<string, unknown>, payload: Record<string, unknown>, secret: string | Buffer): string {
  const input = `${b64u(header)}.${b64u(payload)}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

export function expectToken(res: FormResponse): void {
  expect(res.status).toBe(200);
  expectNoStore(res);
  expect(res.body).toMatchObject({ token_type: 'DPoP', access_token: expect.any(String) });
  // DPOP-27: a fresh nonce travels with every successful token response.
  expect(res.headers.get('dpop-nonce')).toMatch(/^[A-Za-z0-9_-]{38}$/);
}

/** Failure reasons counted by the app (fpa_dpop_failures_total, fpa_client_auth_failures_total), as `dpop:<reason>` / `auth:<reason>`. */
async function failureCounts(app: RunningApp): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const [prefix, counter] of [
    ['dpop', app.get(DpopMetrics).failures],
    ['auth', app.get(TokenMetrics).clientAuthFailures],
  ] as const) {
    for (const v of (await counter.get()).values) {
      const key = `${prefix}:${String(v.labels.reason)}`;
      out.set(key, (out.get(key) ?? 0) + v.value);
    }
  }
  return out;
}

/** Which failure reasons a request added: pins each refusal to the check that should make it. */
async function reasonsOf<T>(app: RunningApp, request: () => Promise<T>): Promise<{ result: T; reasons: string[] }> {
  const before = await failureCounts(app);
  const result = await request();
  const after = await failureCounts(app);
  const reasons: string[] = [];
  for (const [k, v] of after) for (let i = 0; i < v - (before.get(k) ?? 0); i++) reasons.push(k);
  return { result, reasons: reasons.sort() };
}

/** What the refusal tests share: the running app, its device, the current AS nonce and the request helpers. */
export type TokenRefusals = ReturnType<typeof tokenRefusalsApp>;

/**
 * Registers the hooks of the enclosing describe block: the standalone app on its own database and
 * Redis prefix, started once for every test of the suite (the /metrics test reads what all of them
 * counted), and a fresh AS nonce before each test.
 */
export function tokenRefusalsApp() {
  let suite: RunningApp;
  let device: FirstPartyClient;
  let nonce: string;

  const tokenUrl = (): string => `${suite.issuer}/token`;
  const issued = async (): Promise<number> => Number((await suite.env.db.query<{ n: string }>('SELECT count(*) AS n FROM refresh_tokens'))[0].n);
  const proof = (input: Partial<DpopProofInput> = {}, key: ClientKeyPair = device.dpopKey): Promise<string> =>
    createDpopProof(key, { htm: 'POST', htu: tokenUrl(), nonce, ...input });
  const send = (form: Record<string, string>, dpop?: string): Promise<FormResponse> => postForm(tokenUrl(), form, dpop === undefined ? {} : { dpop });
  /** A client_credentials request with a fresh assertion of `dev` (claims overridable) and a valid proof. */
  const ccRequest = async (claims: Record<string, unknown> = {}, extra: Record<string, string> = {}, dev: FirstPartyClient = device, proofInput: Partial<DpopProofInput> = {}): Promise<FormResponse> =>
    send(await clientCredentialsForm(dev, claims, extra), await proof(proofInput, dev.dpopKey));

  /**
   * Sends a refused request; proves no token was issued and that exactly the expected failure
   * reasons were counted (`[]` for refusals outside DPoP and client authentication).
   */
  async function expectRefused(request: () => Promise<FormResponse>, status: number, error: string, reasons: string[]): Promise<FormResponse> {
    const before = await issued();
    const { result: res, reasons: counted } = await reasonsOf(suite, request);
    expectOAuthError(res, status, error);
    expect(counted).toEqual([...reasons].sort());
    expect(await issued()).toBe(before);
    return res;
  }
  /** The same request with a raw assertion string in place of the device's. */
  const withAssertion = async (assertion: string, extra: Record<string, string> = {}): Promise<FormResponse> =>
    send({ grant_type: 'client_credentials', client_assertion_type: ASSERTION_TYPE, client_assertion: assertion, ...extra }, await proof());
  const claimsOf = (overrides: Record<string, unknown> = {}): Record<string, unknown> => {
    const now = Math.floor(Date.now() / 1000);
    return {
      iss: DEVICE_CLIENT.client_id,
      sub: DEVICE_CLIENT.client_id,
      aud: suite.issuer,
      iat: now,
      exp: now + 60,
      jti: randomUUID(),
      device_auth_session: device.authSession,
      ...overrides,
    };
  };

  beforeAll(async () => {
    suite = await startStandalone('tokenrefusals', { REGISTRATION_RATE_LIMIT: '100000' });
    await suite.createClient(DEVICE_CLIENT);
    await suite.createClient({ ...DEVICE_CLIENT, client_id: 'other-app', name: 'Another first-party app' });
    device = await registeredDevice(suite.issuer, DEVICE_CLIENT.client_id);
  });
  beforeEach(async () => {
    nonce = await asNonce(suite.issuer);
  });
  afterAll(async () => suite?.close());

  return {
    get suite() {
      return suite;
    },
    get device() {
      return device;
    },
    get nonce() {
      return nonce;
    },
    set nonce(value: string) {
      nonce = value;
    },
    tokenUrl,
    proof,
    send,
    ccRequest,
    expectRefused,
    withAssertion,
    claimsOf,
  };
}
