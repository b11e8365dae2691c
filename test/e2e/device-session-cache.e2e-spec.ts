import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FirstPartyClient } from '@fpa/client-sdk';
import { decodeJwtUnverified } from '@fpa/crypto';
import { TokenMetrics } from '@fpa/grants';
import { AuthorizationCodeService, RevocationService } from '@fpa/session';
import { EPHEMERAL_STORE, MemoryStore, RedisStore, StoreKeys, type EphemeralStore } from '@fpa/store';
import { createSuiteEnv, deleteRedisPrefix, DEVICE_CLIENT, type SuiteEnv } from '@fpa/testing';
import { startStandalone, type RunningApp } from '@fpa/testing/app';
import { UsersService } from '@fpa/users';
import { expectOAuthError } from '../support/http';
import { sendToken, tokenRequest, waitPastGeneration } from '../support/store-loss';

jest.setTimeout(90_000);

/** The rule's margin after a store loss is the clock skew: 1 s keeps the waits short. */
const SKEW = '1';

async function device(issuer: string): Promise<FirstPartyClient> {
  const client = await FirstPartyClient.create({ issuer, clientId: DEVICE_CLIENT.client_id });
  await client.register();
  return client;
}

/** A code issued for the device's session, as a challenge or browser login ends: attaches `userId` with acr/amr. */
async function attachUser(app: RunningApp, authSession: string, userId: string, assurance = { acr: 'urn:first-party-auth:acr:email', amr: ['otp', 'email'] }): Promise<void> {
  const now = new Date();
  const code = await app.get(AuthorizationCodeService).issueForSession(
    {
      clientId: DEVICE_CLIENT.client_id,
      authSession,
      userId,
      dpopJkt: null,
      codeChallenge: null,
      scope: 'openid',
      resource: null,
      acr: assurance.acr,
      amr: assurance.amr,
      authTime: now,
      redirectUri: null,
      authorizationDetails: null,
    },
    ['email'],
    null,
    now,
  );
  expect(code).toBeDefined();
}

/**
 * Issue 13: the token endpoint keeps device sessions in process (DEVICE_SESSION_CACHE_SECONDS) and
 * checks each use against the session's flags in the claim round trip it already makes. Two
 * standalone replicas on the same PostgreSQL and Redis: replica B serves the device grants (and
 * caches), replica A writes — so B can learn of a write only through Redis.
 */
describe('device-session cache across two replicas (PostgreSQL + Redis)', () => {
  let env: SuiteEnv;
  let a: RunningApp;
  let b: RunningApp;
  let urlB: string;

  beforeAll(async () => {
    env = await createSuiteEnv('sessioncache');
    a = await startStandalone('sessioncache', { CLOCK_SKEW_SECONDS: SKEW }, env);
    b = await startStandalone('sessioncache', { CLOCK_SKEW_SECONDS: SKEW, ISSUER: a.issuer }, env);
    await a.createClient(DEVICE_CLIENT);
    urlB = `http://127.0.0.1:${b.config.http.port}`;
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await env?.dispose();
  });

  const tokenAtB = async (d: FirstPartyClient) => sendToken(urlB, await tokenRequest(a.issuer, d));
  /** A write to the row that no flag announces: only a replica without a cached copy sees it. */
  const revokeBehindTheCachesBack = (authSession: string): Promise<unknown> => env.db.query("UPDATE device_sessions SET status = 'revoked' WHERE auth_session = $1", [authSession]);

  it('B serves from its copy (a write without its flag is not seen); the revoked flag stops the very next request', async () => {
    const d = await device(a.issuer);
    expect((await tokenAtB(d)).status).toBe(200);
    await revokeBehindTheCachesBack(d.authSession!);
    // The copy is in use: the unannounced write is invisible to B for now (this is what the flags are for).
    expect((await tokenAtB(d)).status).toBe(200);
    await a.get(RevocationService).revokeSession(d.authSession!, 'test', new Date());
    const refused = await tokenAtB(d);
    expectOAuthError(refused, 401, 'invalid_client');
    expect(refused.body.error_description).toBe('device_auth_session is expired or revoked');
  });

  it('a user attached by a code issued at A (issueForSession): B’s very next token carries the user, acr and amr', async () => {
    const d = await device(a.issuer);
    const before = await tokenAtB(d);
    expect(before.status).toBe(200);
    expect(decodeJwtUnverified(String(before.body.access_token)).payload.sub).toBe(DEVICE_CLIENT.client_id);
    const ann = (await a.get(UsersService).resolve({ type: 'email', value: 'ann@example.com' }, new Date()))!.id;
    await attachUser(a, d.authSession!, ann);
    const after = await tokenAtB(d);
    expect(after.status).toBe(200);
    expect(decodeJwtUnverified(String(after.body.access_token)).payload).toMatchObject({ sub: ann, acr: 'urn:first-party-auth:acr:email', amr: ['otp', 'email'] });
    // The changed flag lives 360 s, but its value was seen before B's re-read: B's later requests use
    // that copy again (hits), with no PostgreSQL read, while the flag keeps that value.
    const cacheAtB = async (outcome: string): Promise<number> => {
      const { values } = await b.get(TokenMetrics).deviceSessionCache.get();
      return values.filter((v) => v.labels.outcome === outcome).reduce((n, v) => n + v.value, 0);
    };
    const [hits, stale] = [await cacheAtB('hit'), await cacheAtB('stale')];
    for (let i = 0; i < 3; i++) expect(decodeJwtUnverified(String((await tokenAtB(d)).body.access_token)).payload.sub).toBe(ann);
    expect([(await cacheAtB('hit')) - hits, (await cacheAtB('stale')) - stale]).toEqual([3, 0]);
    // A second change (a step-up: another code issued at A) is seen by the very next request all the same.
    await attachUser(a, d.authSession!, ann, { acr: 'urn:first-party-auth:acr:passkey', amr: ['hwk', 'user'] });
    expect(decodeJwtUnverified(String((await tokenAtB(d)).body.access_token)).payload).toMatchObject({ sub: ann, acr: 'urn:first-party-auth:acr:passkey', amr: ['hwk', 'user'] });
    expect((await cacheAtB('stale')) - stale).toBe(1);
  });

  it('the store lost its data (the flags with it): B’s copy is not served after the new generation', async () => {
    const d = await device(a.issuer);
    expect((await tokenAtB(d)).status).toBe(200);
    await revokeBehindTheCachesBack(d.authSession!);
    expect(await deleteRedisPrefix(env.redisUrl, env.redisPrefix)).toBeGreaterThan(0);
    // The next store operation starts the generation; values made past the skew are accepted in it.
    await b.get<EphemeralStore>(EPHEMERAL_STORE).syncGeneration();
    await waitPastGeneration(Date.now(), Number(SKEW));
    const refused = await tokenAtB(d);
    expectOAuthError(refused, 401, 'invalid_client');
    expect(refused.body.error_description).toBe('device_auth_session is expired or revoked');
  });
});

describe('device-session cache in the embedded default (in-process store)', () => {
  let dataDir: string;
  let suite: RunningApp;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'fpa-sessioncache-'));
    suite = await startStandalone('sessioncachemem', { APP_MODE: 'embedded', DATA_DIR: dataDir, REDIS_URL: '' });
    await suite.createClient(DEVICE_CLIENT);
  });
  afterAll(async () => {
    await suite?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('runs on the memory store; revocation and an attached user are seen by the very next request', async () => {
    expect(suite.get<EphemeralStore>(EPHEMERAL_STORE)).toBeInstanceOf(MemoryStore);
    const d = await device(suite.issuer);
    await d.requestToken();
    await d.requestToken();
    const ann = (await suite.get(UsersService).resolve({ type: 'email', value: 'ann@example.com' }, new Date()))!.id;
    await attachUser(suite, d.authSession!, ann);
    expect(decodeJwtUnverified((await d.requestToken()).access_token).payload.sub).toBe(ann);
    await suite.get(RevocationService).revokeSession(d.authSession!, 'test', new Date());
    await expect(d.requestToken()).rejects.toMatchObject({ status: 401, error: 'invalid_client' });
  });
});

describe('claimEachOnceWatching on Redis (the one script) and in memory', () => {
  let env: SuiteEnv;
  const stores: EphemeralStore[] = [];
  beforeAll(async () => {
    env = await createSuiteEnv('claimwatch');
  });
  afterAll(async () => {
    for (const s of stores) await s.close();
    await env?.dispose();
  });

  it.each(['redis', 'memory'] as const)('%s: claims once, reports watched flags and their values, and unknown while flags are not refilled', async (kind) => {
    let store: EphemeralStore;
    if (kind === 'redis') {
      const redis = new RedisStore(env.redisUrl, `${env.redisPrefix}watch:`);
      await redis.connect();
      store = redis;
    } else store = new MemoryStore();
    stores.push(store);
    // A marker missing from a fresh store: a generation whose flags are not refilled yet.
    await store.syncGeneration();
    const flagA = StoreKeys.changedSession('a'.repeat(43));
    const flagB = StoreKeys.revokedSession('a'.repeat(43));
    const first = await store.claimEachOnceWatching([{ key: 'jti:1', ttlSeconds: 60 }], [flagA, flagB]);
    expect(first).toMatchObject({ results: ['claimed'], flagged: undefined, values: undefined });
    await store.markRevocationsRestored(first.generation.epoch, Date.now());
    expect(await store.claimEachOnceWatching([{ key: 'jti:1', ttlSeconds: 60 }, { key: 'jti:2', ttlSeconds: 60 }], [flagA, flagB])).toMatchObject({
      results: ['replayed', 'claimed'],
      flagged: false,
      values: [null, null],
      generation: { id: first.generation.id },
    });
    await store.setFlags([{ key: flagB, ttlSeconds: 60 }]);
    expect(await store.claimEachOnceWatching([{ key: 'jti:3', ttlSeconds: 60 }], [flagA, flagB])).toMatchObject({ results: ['claimed'], flagged: true, values: [null, '1'] });
    // A versioned flag: each watcher reads the value the last writer set, in the watched order.
    await store.setFlags([{ key: flagA, ttlSeconds: 60, value: 'v-1' }]);
    expect(await store.claimEachOnceWatching([{ key: 'jti:5', ttlSeconds: 60 }], [flagA, flagB])).toMatchObject({ flagged: true, values: ['v-1', '1'] });
    await store.setFlags([{ key: flagA, ttlSeconds: 60, value: 'v-2' }]);
    expect(await store.claimEachOnceWatching([{ key: 'jti:6', ttlSeconds: 60 }], [flagB, flagA])).toMatchObject({ flagged: true, values: ['1', 'v-2'] });
    // Nothing watched: exactly claimEachOnce.
    expect(await store.claimEachOnce([{ key: 'jti:3', ttlSeconds: 60 }, { key: 'jti:4', ttlSeconds: 60 }])).toEqual(['replayed', 'claimed']);
  });
});
