import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FirstPartyClient } from '@fpa/client-sdk';
import { RevocationService } from '@fpa/session';
import { createSuiteEnv, deleteRedisPrefix, DEVICE_CLIENT, freePort, postForm, spawnApp, type AppProcess, type SuiteEnv } from '@fpa/testing';
import { startStandalone, type RunningApp } from '@fpa/testing/app';
import { expectOAuthError } from '../support/http';
import { callApi, eventually, metric, sendToken, tokenRequest, waitPastGeneration, type TokenRequest } from '../support/store-loss';

jest.setTimeout(90_000);

/** The rule's margin is the clock skew: 1 s keeps the waits short. */
const SKEW = '1';

async function device(issuer: string, clientId: string = DEVICE_CLIENT.client_id): Promise<FirstPartyClient> {
  const client = await FirstPartyClient.create({ issuer, clientId });
  await client.register();
  return client;
}

const generations = (env: SuiteEnv): Promise<{ epoch: number; reason: string; restored: boolean }[]> =>
  env.db.query('SELECT epoch, reason, restored_at IS NOT NULL AS restored FROM store_generations ORDER BY epoch');

/** Issue 8 across processes: replicas, a resource server without PostgreSQL, the embedded default. */
describe('store loss with two AS replicas on the same stores', () => {
  let env: SuiteEnv;
  let a: RunningApp;
  let b: RunningApp;
  /** Where each replica listens; both answer for one issuer (a's URL), as behind an ingress. */
  let urlA: string;
  let urlB: string;

  beforeAll(async () => {
    env = await createSuiteEnv('lossreplicas');
    a = await startStandalone('lossreplicas', { CLOCK_SKEW_SECONDS: SKEW }, env);
    b = await startStandalone('lossreplicas', { CLOCK_SKEW_SECONDS: SKEW, ISSUER: a.issuer }, env);
    await a.createClient(DEVICE_CLIENT);
    [urlA, urlB] = [a, b].map((r) => `http://127.0.0.1:${r.config.http.port}`);
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await env?.dispose();
  });

  it('one replica starts the new generation, both refuse every value accepted before the loss, fresh ones work on both', async () => {
    const d = await device(a.issuer);
    // Accepted before the loss: half at each replica.
    const accepted: { at: string; request: TokenRequest }[] = [];
    for (const at of [urlA, urlB, urlA, urlB, urlA, urlB]) {
      const request = await tokenRequest(a.issuer, d);
      expect((await sendToken(at, request)).status).toBe(200);
      accepted.push({ at, request });
    }
    expect(await deleteRedisPrefix(env.redisUrl, env.redisPrefix)).toBeGreaterThan(0);

    // All at once, each at the replica that did not accept it and at the one that did.
    const replays = await Promise.all(accepted.flatMap(({ at, request }) => [sendToken(at === urlA ? urlB : urlA, request), sendToken(at, request)]));
    for (const res of replays) expectOAuthError(res, 401, 'invalid_client');
    const detectedBy = Date.now();

    const changes = (await metric(urlA, 'fpa_store_generation_changes_total', { reason: 'missing' })) + (await metric(urlB, 'fpa_store_generation_changes_total', { reason: 'missing' }));
    expect(changes).toBe(1);
    expect([await metric(urlA, 'fpa_store_generation'), await metric(urlB, 'fpa_store_generation')]).toEqual([2, 2]);
    // Recorded once; the flags are refilled in the background (whichever replica takes the lock).
    await eventually(async () => (await generations(env)).every((g) => g.restored));
    expect(await generations(env)).toEqual([
      { epoch: 1, reason: 'genesis', restored: true },
      { epoch: 2, reason: 'missing', restored: true },
    ]);
    // The first replay of each value predates the generation, the second is a plain replay.
    const refusedForGeneration = (await metric(urlA, 'fpa_client_auth_failures_total', { reason: 'predates_generation' })) + (await metric(urlB, 'fpa_client_auth_failures_total', { reason: 'predates_generation' }));
    expect(refusedForGeneration).toBe(accepted.length);

    await waitPastGeneration(detectedBy, Number(SKEW));
    for (const at of [urlA, urlB]) expect((await sendToken(at, await tokenRequest(a.issuer, d))).status).toBe(200);
  });
});

describe('a resource server without PostgreSQL while no AS replica runs, then an AS replica starts', () => {
  let env: SuiteEnv;
  let as: RunningApp | undefined;
  let api: AppProcess;

  beforeAll(async () => {
    env = await createSuiteEnv('lossrefill');
    as = await startStandalone('lossrefill', { CLOCK_SKEW_SECONDS: SKEW }, env);
    await as.createClient(DEVICE_CLIENT);
    api = await spawnApp('sample-api', { ...env.env, CLOCK_SKEW_SECONDS: SKEW, AUTH_ISSUER: as.issuer, RESOURCE_AUDIENCE: `${as.issuer}/resources` });
  });
  afterAll(async () => {
    await api?.stop();
    await as?.close();
    await env?.dispose();
  });

  it('fails closed (503 temporarily_unavailable, Retry-After) until the flags are refilled; then a revoked token stays refused and a valid one works', async () => {
    const me = `${api.url}/api/me`;
    const issuer = as!.issuer;
    const valid = await device(issuer);
    await valid.requestToken();
    const revokedToken = await device(issuer);
    await revokedToken.requestToken();
    expect((await postForm(`${issuer}/revoke`, { token: revokedToken.accessToken!, client_id: DEVICE_CLIENT.client_id })).status).toBe(200);
    const revokedSession = await device(issuer);
    await revokedSession.requestToken();
    expect(await as!.get(RevocationService).revokeSession(revokedSession.authSession!, 'lost phone', new Date())).toBe(true);
    const status = async (c: FirstPartyClient): Promise<Response> => (await callApi(me, c.accessToken!, c.dpopKey)).res;
    expect((await status(valid)).status).toBe(200);
    expect((await status(revokedToken)).status).toBe(401);
    expect((await status(revokedSession)).status).toBe(401);

    // No AS replica is running when Redis loses its data: the resource server notices on its own.
    await as!.close();
    as = undefined;
    expect(await deleteRedisPrefix(env.redisUrl, env.redisPrefix)).toBeGreaterThan(0);
    expect((await status(valid)).status).toBe(401); // a proof made now could predate the loss (skew)
    await waitPastGeneration(Date.now(), Number(SKEW));
    for (const c of [valid, revokedToken, revokedSession]) {
      const res = await status(c);
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('5');
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(await res.json()).toMatchObject({ error: 'temporarily_unavailable' });
    }
    expect(await metric(api.url, 'fpa_resource_server_refusals_total', { reason: 'revocations_not_restored' })).toBe(3);
    expect(await metric(api.url, 'fpa_store_generation_changes_total', { reason: 'missing' })).toBe(1);

    // The first AS replica to start refills the flags from PostgreSQL before it listens.
    as = await startStandalone('lossrefill', { CLOCK_SKEW_SECONDS: SKEW }, env);
    expect((await status(valid)).status).toBe(200);
    for (const c of [revokedToken, revokedSession]) {
      const res = await status(c);
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^DPoP error="invalid_token", error_description="access token is revoked"/);
    }
    expect(await generations(env)).toEqual([
      { epoch: 1, reason: 'genesis', restored: true },
      { epoch: 2, reason: 'missing', restored: true },
    ]);
    // The AS recorded the resource server's generation; it started none itself.
    expect(await metric(as.issuer, 'fpa_store_generation_changes_total')).toBe(0);
  });
});

describe('the embedded default (PGlite + in-process store)', () => {
  let dataDir: string;
  let port: number;
  let app: AppProcess | undefined;
  const env = (): Record<string, string> => ({ DATA_DIR: dataDir, LOG_LEVEL: 'warn', HOST: '127.0.0.1', CLOCK_SKEW_SECONDS: SKEW });

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'fpa-embedded-loss-'));
    port = await freePort();
    app = await spawnApp('standalone', env(), { port });
  });
  afterAll(async () => {
    await app?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('after a crash, what the previous process accepted is refused; after a clean restart too (as a replay), with no refusal window', async () => {
    const d = await device(app!.url, 'demo-app');
    const me = `${app!.url}/api/me`;
    const before = await tokenRequest(app!.url, d);
    const issued = await sendToken(app!.url, before);
    expect(issued.status).toBe(200);
    const token = String(issued.body.access_token);
    const { res: ok, proof: apiProof } = await callApi(me, token, d.dpopKey);
    expect(ok.status).toBe(200);

    await app!.stop({ signal: 'SIGKILL' });
    app = await spawnApp('standalone', env(), { port });
    const startedBy = Date.now();
    expectOAuthError(await sendToken(app.url, before), 401, 'invalid_client');
    const replayed = (await callApi(me, token, apiProof)).res;
    expect(replayed.status).toBe(401);
    expect(replayed.headers.get('www-authenticate')).toMatch(/^DPoP error="invalid_dpop_proof"/);
    expect(await metric(app.url, 'fpa_store_generation')).toBe(2);
    await waitPastGeneration(startedBy, Number(SKEW));
    expect((await sendToken(app.url, await tokenRequest(app.url, d))).status).toBe(200);
    expect((await callApi(me, token, d.dpopKey)).res.status).toBe(200);

    // A clean restart hands the store on: the replay is refused as one, fresh values work at once.
    const beforeClean = await tokenRequest(app.url, d);
    expect((await sendToken(app.url, beforeClean)).status).toBe(200);
    expect(await app.stop({ signal: 'SIGTERM' })).toEqual({ code: 0, signal: null });
    app = await spawnApp('standalone', env(), { port });
    const again = await sendToken(app.url, beforeClean);
    expectOAuthError(again, 401, 'invalid_client');
    expect(again.body.error_description).toMatch(/already used/);
    expect((await sendToken(app.url, await tokenRequest(app.url, d))).status).toBe(200);
    expect(await metric(app.url, 'fpa_store_generation')).toBe(2);
  });
});
