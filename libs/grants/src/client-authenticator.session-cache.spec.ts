import { randomUUID } from 'node:crypto';
import { generateClientKeyPair, signJwt, type ClientKeyPair } from '@fpa/crypto';
import { OAuthError, type FixedClock } from '@fpa/oauth-core';
import { SESSION_CHANGE_FLAG_SECONDS, type DeviceSession } from '@fpa/session';
import { MemoryStore, StoreKeys } from '@fpa/store';
import { ClientAuthenticator, JWT_BEARER_ASSERTION } from './client-authenticator.service';
import { counted, FakeClients, FakeSessions, ISSUER, requestInfo, sessionCache, testClient, testClock, testConfig, testKeySets, testMetrics, testSession } from './testing/fakes';
import type { TokenMetrics } from './token.metrics';

/**
 * Issue 13: the device session of a device assertion comes from DeviceSessionCache, and a cached copy
 * counts only when the request's own claim round trip shows neither the session's "revoked" nor its
 * "changed" flag, in the generation the copy was read under. Each test names what would break.
 */
describe('ClientAuthenticator with the device-session cache (DEVICE_SESSION_CACHE_SECONDS)', () => {
  let clock: FixedClock;
  let store: MemoryStore;
  let sessions: FakeSessions;
  let reads: jest.SpyInstance;
  let metrics: TokenMetrics;
  let deviceKey: ClientKeyPair;
  let session: DeviceSession;
  const app = testClient();

  const build = (env: Record<string, string> = {}): ClientAuthenticator => {
    const config = testConfig(env);
    return new ClientAuthenticator(config, clock, new FakeClients(app), sessionCache(sessions, store, clock, config), store, metrics, testKeySets(config, clock, metrics));
  };
  let authenticator: ClientAuthenticator;

  beforeAll(async () => {
    deviceKey = await generateClientKeyPair('ES256');
  });
  beforeEach(() => {
    clock = testClock();
    store = new MemoryStore(() => clock.nowMs(), { genesis: true });
    sessions = new FakeSessions();
    reads = jest.spyOn(sessions, 'find');
    metrics = testMetrics().token;
    session = sessions.add(testSession({ keyJkt: deviceKey.jkt, publicJwk: { ...deviceKey.publicJwk, kty: 'EC' } }));
    authenticator = build();
  });
  afterEach(async () => store.close());

  const assertion = (): Promise<string> => {
    const now = clock.nowSeconds();
    return signJwt(
      { iss: app.id, sub: app.id, aud: ISSUER, iat: now, exp: now + 60, jti: randomUUID(), device_auth_session: session.authSession },
      { alg: 'ES256', typ: 'client-authentication+jwt' },
      deviceKey.privateKey,
    );
  };
  const auth = async (a = authenticator) => a.authenticate({ client_assertion_type: JWT_BEARER_ASSERTION, client_assertion: await assertion() }, requestInfo(), '/token');
  const flag = (key: string): Promise<void> => store.setFlags([{ key, ttlSeconds: SESSION_CHANGE_FLAG_SECONDS }]);

  it('reads PostgreSQL once per session and TTL; the cached copy is checked in the claim round trip', async () => {
    const watching = jest.spyOn(store, 'claimEachOnceWatching');
    await expect(auth()).resolves.toMatchObject({ deviceSession: session });
    await expect(auth()).resolves.toMatchObject({ deviceSession: session });
    await expect(auth()).resolves.toMatchObject({ deviceSession: session });
    expect(reads).toHaveBeenCalledTimes(1);
    // The two cached uses asked about exactly the session's two flags, with their claims.
    // (claimEachOnce is claimEachOnceWatching with nothing watched.)
    const watched = watching.mock.calls.filter(([, keys]) => keys.length > 0);
    expect(watched).toHaveLength(2);
    expect(watched[0][1]).toEqual([StoreKeys.revokedSession(session.authSession), StoreKeys.changedSession(session.authSession)]);
  });

  it('the revoked flag: the very next request re-reads the session and is refused', async () => {
    await auth();
    sessions.add({ ...session, status: 'revoked' });
    await flag(StoreKeys.revokedSession(session.authSession));
    await expect(auth()).rejects.toMatchObject({ code: 'invalid_client', reason: 'client_auth_session_expired' });
    expect(await counted(metrics.clientAuthFailures, { reason: 'session_expired' })).toBe(1);
    expect(reads).toHaveBeenCalledTimes(2);
    // Not cached as revoked-and-usable either: every later request reads again and is refused.
    await expect(auth()).rejects.toMatchObject({ reason: 'client_auth_session_expired' });
  });

  it('the changed flag: the next request carries what PostgreSQL has now (a user attached by a challenge)', async () => {
    await auth();
    const user = { userId: 'u-1', authTime: new Date(clock.nowMs()), amr: ['otp'], acr: 'urn:acr:otp', verified: ['email'] };
    sessions.add({ ...session, user });
    await flag(StoreKeys.changedSession(session.authSession));
    await expect(auth()).resolves.toMatchObject({ deviceSession: { user } });
    expect(reads).toHaveBeenCalledTimes(2);
  });

  it('the store lost its data (the revoked flag with it): the cache is emptied, the session re-read and refused', async () => {
    await auth();
    sessions.add({ ...session, status: 'revoked' });
    // A restart without persistence: no flags, no marker. The next operation starts a generation.
    await store.close();
    await store.syncGeneration();
    // Values made after the loss are accepted (generation.ts); made past the skew.
    clock.advance(6);
    await expect(auth()).rejects.toMatchObject({ reason: 'client_auth_session_expired' });
    expect(reads).toHaveBeenCalledTimes(2);
  });

  it('any new generation the tracker hears of empties the cache at once', async () => {
    const cache = sessionCache(sessions, store, clock);
    cache.remember((await cache.lookup(session.authSession))!);
    expect((await cache.lookup(session.authSession))!.fromCache).toBe(true);
    store.generation.observe({ generation: { epoch: 9, id: 'elsewhere-9', startedAtMs: clock.nowMs(), restoredAtMs: undefined, reason: 'missing' }, seq: 0, established: false });
    expect((await cache.lookup(session.authSession))!.fromCache).toBe(false);
  });

  it('a copy read under another generation than the claim reports is re-read (the listener came too late)', async () => {
    const cache = sessionCache(sessions, store, clock);
    const found = (await cache.lookup(session.authSession))!;
    cache.remember(found);
    const cached = (await cache.lookup(session.authSession))!;
    expect(cached.fromCache).toBe(true);
    const generation = store.generation.current!;
    expect(cache.isCurrent(cached, { values: [null, null], generation })).toBe(true);
    expect(cache.isCurrent(cached, { values: [null, null], generation: { ...generation, id: 'elsewhere-7' } })).toBe(false);
    // Flags not refilled yet after a loss: unknown counts as changed.
    expect(cache.isCurrent(cached, { values: undefined, generation })).toBe(false);
    expect(cache.isCurrent(cached, { values: ['1', null], generation })).toBe(false);
    expect(cache.isCurrent(cached, { values: [null, 'v-1'], generation })).toBe(false);
    // A fresh read needs no confirmation.
    expect(cache.isCurrent(found, { values: ['1', '1'], generation })).toBe(true);
  });

  it('a copy re-read after a claim saw change value V is current while the flag is still V (not for the flag’s whole 360 s); a new change re-reads', async () => {
    // The writer is another process (a challenge or federation replica): its own cache instance.
    const writer = sessionCache(sessions, store, clock);
    await auth();
    const user = { userId: 'u-1', authTime: new Date(clock.nowMs()), amr: ['otp'], acr: 'urn:acr:otp', verified: ['email'] };
    sessions.add({ ...session, user });
    await writer.changed(session.authSession);
    await expect(auth()).resolves.toMatchObject({ deviceSession: { user } });
    expect(reads).toHaveBeenCalledTimes(2);
    // The flag still has the value the re-read was tagged with: served from the copy.
    await expect(auth()).resolves.toMatchObject({ deviceSession: { user } });
    await expect(auth()).resolves.toMatchObject({ deviceSession: { user } });
    expect(reads).toHaveBeenCalledTimes(2);
    // Another change while the first flag still lives: a new value, so the copy is stale again.
    const later = { ...user, amr: ['otp', 'hwk'], acr: 'urn:acr:passkey' };
    sessions.add({ ...session, user: later });
    await writer.changed(session.authSession);
    await expect(auth()).resolves.toMatchObject({ deviceSession: { user: later } });
    expect(reads).toHaveBeenCalledTimes(3);
    // Past the flag's life (and the copy's TTL): one read, and that copy (tagged "absent") is served.
    clock.advance(SESSION_CHANGE_FLAG_SECONDS + 1);
    await auth();
    await auth();
    expect(reads).toHaveBeenCalledTimes(4);
    expect(await counted(metrics.deviceSessionCache, { outcome: 'hit' })).toBe(3);
    expect(await counted(metrics.deviceSessionCache, { outcome: 'stale' })).toBe(2);
    expect(await counted(metrics.deviceSessionCache, { outcome: 'miss' })).toBe(2);
  });

  it('an unversioned change flag ("1", as writers before the random values set it) never becomes a tag: re-read while it lives', async () => {
    await auth();
    await flag(StoreKeys.changedSession(session.authSession));
    await auth();
    await auth();
    await auth();
    // Had '1' been a tag, a second '1' written by another change would look like no change at all.
    expect(reads).toHaveBeenCalledTimes(4);
  });

  it('a copy is tagged only with a value seen in the generation its read is stamped with', async () => {
    const cache = sessionCache(sessions, store, clock);
    const generation = store.generation.current!;
    expect((await cache.read(session.authSession, { values: [null, 'v-1'], generation }))!.changeTag).toBe('v-1');
    expect((await cache.read(session.authSession, { values: [null, 'v-1'], generation: { ...generation, id: 'elsewhere-3' } }))!.changeTag).toBeNull();
    expect((await cache.read(session.authSession, { values: undefined, generation }))!.changeTag).toBeNull();
    expect((await cache.read(session.authSession))!.changeTag).toBeNull();
  });

  it('flags not refilled yet (a generation whose flags were not restored): the session is re-read every time, not refused', async () => {
    await store.close();
    await store.syncGeneration();
    expect(store.generation.current?.restoredAtMs).toBeUndefined();
    clock.advance(6);
    await auth();
    await expect(auth()).resolves.toMatchObject({ deviceSession: session });
    await expect(auth()).resolves.toMatchObject({ deviceSession: session });
    expect(reads).toHaveBeenCalledTimes(3);
  });

  it('an entry lives DEVICE_SESSION_CACHE_SECONDS, and not longer when the clock goes back', async () => {
    await auth();
    clock.advance(29);
    await auth();
    expect(reads).toHaveBeenCalledTimes(1);
    clock.advance(1);
    await auth();
    expect(reads).toHaveBeenCalledTimes(2);
    clock.advance(-60);
    await auth();
    expect(reads).toHaveBeenCalledTimes(3);
  });

  it('DEVICE_SESSION_CACHE_SECONDS=0: every request reads PostgreSQL, as before', async () => {
    const uncached = build({ DEVICE_SESSION_CACHE_SECONDS: '0' });
    await auth(uncached);
    await auth(uncached);
    expect(reads).toHaveBeenCalledTimes(2);
  });

  it('a cached copy that looks expired is not trusted with the refusal: PostgreSQL may have extended the session', async () => {
    sessions.add({ ...session, expiresAt: new Date(clock.nowMs() + 10_000) });
    await auth();
    sessions.add({ ...session, expiresAt: new Date(clock.nowMs() + 3_600_000) });
    clock.advance(15);
    await expect(auth()).resolves.toMatchObject({ client: app });
    expect(reads).toHaveBeenCalledTimes(2);
  });

  it('a store outage still fails the authentication with a cached copy', async () => {
    await auth();
    jest.spyOn(store, 'claimEachOnceWatching').mockRejectedValue(new OAuthError('temporarily_unavailable', 'store down'));
    await expect(auth()).rejects.toMatchObject({ code: 'temporarily_unavailable' });
  });

  it('a replayed assertion is refused before any re-read (its jti was spent first)', async () => {
    const a = await assertion();
    const send = (): Promise<unknown> => authenticator.authenticate({ client_assertion_type: JWT_BEARER_ASSERTION, client_assertion: a }, requestInfo(), '/token');
    await send();
    await flag(StoreKeys.changedSession(session.authSession));
    await expect(send()).rejects.toMatchObject({ reason: 'client_auth_replay' });
  });
});
