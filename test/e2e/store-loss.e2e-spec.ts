import { FirstPartyClient } from '@fpa/client-sdk';
import { createDpopProof } from '@fpa/crypto';
import { ChallengeClient, createSuiteEnv, deleteRedisPrefix, DEVICE_CLIENT, postForm, spawnApp, type AppProcess, type SuiteEnv } from '@fpa/testing';
import { startStandalone, type RunningApp } from '@fpa/testing/app';
import { asNonce, clientCredentialsForm, expectOAuthError } from '../support/http';
import { startOwnRedis, type OwnRedis } from '../support/redis-server';
import { callApi, eventually, metric, sendToken, tokenRequest, waitPastGeneration } from '../support/store-loss';

const APP = { ...DEVICE_CLIENT, grant_types: [...DEVICE_CLIENT.grant_types, 'authorization_code'] };
/** Short, so a fresh value is accepted again after about two seconds (the rule's margin is the skew). */
const SKEW = '1';

/**
 * Issue 8, items 2 and 3: Redis loses its data between two uses of the same client assertion, the
 * same DPoP proof (at /token, at /authorize-challenge, at a resource server in its own process) and
 * of a revoked access token. The second use is refused each time; values made after the loss work.
 * Two ways to lose the data: every key under the app's prefix deleted (the shared Redis), and a
 * Redis server of the test's own killed and restarted empty behind a TCP proxy.
 */
describe.each([
  ['the key prefix is wiped', 'wipe'],
  ['Redis restarts empty', 'restart'],
] as const)('store loss: %s', (_, mode) => {
  let env: SuiteEnv;
  let own: OwnRedis | undefined;
  let suite: RunningApp;
  let api: AppProcess;
  let redisUrl: string;

  beforeAll(async () => {
    env = await createSuiteEnv(`loss${mode}`);
    if (mode === 'restart') own = await startOwnRedis();
    redisUrl = own?.url ?? env.redisUrl;
    suite = await startStandalone(`loss${mode}`, { REDIS_URL: redisUrl, CLOCK_SKEW_SECONDS: SKEW }, env);
    await suite.createClient(APP);
    api = await spawnApp('sample-api', { ...env.env, REDIS_URL: redisUrl, CLOCK_SKEW_SECONDS: SKEW, AUTH_ISSUER: suite.issuer, RESOURCE_AUDIENCE: `${suite.issuer}/resources` });
  });
  afterAll(async () => {
    await api?.stop();
    await suite?.close();
    await own?.close();
    await env?.dispose();
  });

  async function loseTheStore(): Promise<void> {
    if (own) {
      await own.restartEmpty();
      // The apps reconnect by themselves (readiness answers again once Redis does).
      await eventually(async () => (await fetch(`${suite.issuer}/health/ready`)).status === 200 && (await fetch(`${api.url}/health/ready`)).status === 200);
    } else {
      expect(await deleteRedisPrefix(env.redisUrl, env.redisPrefix)).toBeGreaterThan(0);
    }
  }

  const challengeForm = (c: ChallengeClient): Record<string, string> => ({ client_id: APP.client_id, response_type: 'code', code_challenge: c.codeChallenge, code_challenge_method: 'S256' });

  it('the same assertion, DPoP proof and revoked token are refused after the loss; values made after it are accepted', async () => {
    const me = `${api.url}/api/me`;
    const device = await FirstPartyClient.create({ issuer: suite.issuer, clientId: APP.client_id });
    await device.register();
    // Before the loss: each value accepted once (and refused as a replay the second time).
    const tokenReq = await tokenRequest(suite.issuer, device);
    const issued = await sendToken(suite.issuer, tokenReq);
    expect(issued.status).toBe(200);
    const token = String(issued.body.access_token);
    expectOAuthError(await sendToken(suite.issuer, tokenReq), 401, 'invalid_client');

    const challenger = await ChallengeClient.create(suite.issuer);
    const challengeProof = await createDpopProof(challenger.key, { htm: 'POST', htu: `${suite.issuer}/authorize-challenge`, nonce: await asNonce(suite.issuer) });
    const sendChallenge = (): ReturnType<typeof postForm> => postForm(`${suite.issuer}/authorize-challenge`, challengeForm(challenger), { dpop: challengeProof });
    expect((await sendChallenge()).body.error).toBe('insufficient_authorization');
    expectOAuthError(await sendChallenge(), 400, 'invalid_dpop_proof');

    const { res: apiOk, proof: apiProof } = await callApi(me, token, device.dpopKey);
    expect(apiOk.status).toBe(200);
    expect((await callApi(me, token, apiProof)).res.status).toBe(401);

    const revokedDevice = await FirstPartyClient.create({ issuer: suite.issuer, clientId: APP.client_id });
    await revokedDevice.register();
    const revoked = await revokedDevice.requestToken();
    expect((await postForm(`${suite.issuer}/revoke`, { token: revoked.access_token, client_id: APP.client_id })).status).toBe(200);
    expect((await callApi(me, revoked.access_token, revokedDevice.dpopKey)).res.status).toBe(401);

    await loseTheStore();

    // After the loss: the same values again.
    const replayedChallenge = await sendChallenge();
    expectOAuthError(replayedChallenge, 400, 'invalid_dpop_proof');
    expect(replayedChallenge.body.error_description).toMatch(/before the replay cache lost its data/);
    const replayedAtApi = (await callApi(me, token, apiProof)).res;
    expect(replayedAtApi.status).toBe(401);
    expect(replayedAtApi.headers.get('www-authenticate')).toMatch(/^DPoP error="invalid_dpop_proof", error_description="DPoP proof was made before the replay cache lost its data/);
    // A revoked token is never accepted: its fresh proof is refused within the skew of the loss
    // (invalid_dpop_proof), the check fails closed while the flags are refilled (503), then it is revoked.
    const revokedNow = (await callApi(me, revoked.access_token, revokedDevice.dpopKey)).res;
    expect([401, 503]).toContain(revokedNow.status);
    const detectedBy = Date.now();

    // At /token each value alone, with a companion made once fresh values are accepted again: the
    // old assertion with a new proof, a new assertion with the old proof; then both together.
    await waitPastGeneration(detectedBy, Number(SKEW));
    const oldAssertion = await sendToken(suite.issuer, await tokenRequest(suite.issuer, device, { form: tokenReq.form }));
    expectOAuthError(oldAssertion, 401, 'invalid_client');
    expect(oldAssertion.body.error_description).toMatch(/before the replay cache lost its data/);
    const oldProof = await sendToken(suite.issuer, { form: await clientCredentialsForm(device), proof: tokenReq.proof });
    expectOAuthError(oldProof, 400, 'invalid_dpop_proof');
    expect(oldProof.body.error_description).toMatch(/before the replay cache lost its data/);
    expectOAuthError(await sendToken(suite.issuer, tokenReq), 401, 'invalid_client');

    // Values made after the loss are accepted.
    expect((await sendToken(suite.issuer, await tokenRequest(suite.issuer, device))).status).toBe(200);
    expect((await challenger.send(challengeForm(challenger))).body.error).toBe('insufficient_authorization');
    await eventually(async () => (await callApi(me, token, device.dpopKey)).res.status === 200, 15_000, 'a valid token with a fresh proof at the API');
    const stillRevoked = (await callApi(me, revoked.access_token, revokedDevice.dpopKey)).res;
    expect(stillRevoked.status).toBe(401);
    expect(stillRevoked.headers.get('www-authenticate')).toMatch(/^DPoP error="invalid_token", error_description="access token is revoked"/);

    // Counted with their reason; one generation started (by whichever process saw the loss first).
    expect(await metric(suite.issuer, 'fpa_client_auth_failures_total', { reason: 'predates_generation' })).toBe(1);
    expect(await metric(suite.issuer, 'fpa_dpop_failures_total', { reason: 'predates_generation' })).toBe(2);
    // (The revoked token's fresh proof, made within the skew of the loss, may have been one of them.)
    expect(await metric(api.url, 'fpa_resource_server_refusals_total', { reason: 'predates_generation' })).toBeGreaterThanOrEqual(1);
    const started = (await metric(suite.issuer, 'fpa_store_generation_changes_total', { reason: 'missing' })) + (await metric(api.url, 'fpa_store_generation_changes_total', { reason: 'missing' }));
    expect(started).toBe(1);
    expect(await metric(suite.issuer, 'fpa_store_generation')).toBe(2);
    expect(await metric(api.url, 'fpa_store_generation')).toBe(2);
    const generations = (): Promise<{ epoch: number; reason: string; restored: boolean }[]> =>
      env.db.query('SELECT epoch, reason, restored_at IS NOT NULL AS restored FROM store_generations ORDER BY epoch');
    // Marked restored in the store first (which ends the fail-closed window), then in PostgreSQL.
    await eventually(async () => (await generations()).every((g) => g.restored));
    expect(await generations()).toEqual([
      { epoch: 1, reason: 'genesis', restored: true },
      { epoch: 2, reason: 'missing', restored: true },
    ]);
    // Audited once each (the audit trail is written in batches).
    await eventually(async () => (await env.db.query("SELECT 1 FROM audit_events WHERE event_type = 'store.revocations_restored'")).length === 1);
    const audited = await env.db.query<{ event_type: string; epoch: number }>(
      "SELECT event_type, (details->>'epoch')::int AS epoch FROM audit_events WHERE event_type LIKE 'store.%' ORDER BY id",
    );
    expect(audited).toEqual([
      { event_type: 'store.generation_started', epoch: 1 },
      { event_type: 'store.generation_started', epoch: 2 },
      { event_type: 'store.revocations_restored', epoch: 2 },
    ]);
  });
});
