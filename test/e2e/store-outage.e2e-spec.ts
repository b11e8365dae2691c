import { FirstPartyClient } from '@fpa/client-sdk';
import { expectNoStore } from '../support/http';
import { createSuiteEnv, DEVICE_CLIENT, type SuiteEnv } from '@fpa/testing';
import { startStandalone, type RunningApp } from '@fpa/testing/app';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy';

/**
 * What happens when PostgreSQL or Redis goes away (issue 4, docs/operations.md): the suite refuses
 * to issue what it cannot store or replay-protect — 503 `temporarily_unavailable` with Retry-After,
 * readiness fails, liveness does not — and recovers by itself when the store is back.
 */
describe('store outages: 503, readiness, and recovery without a restart', () => {
  let env: SuiteEnv;
  let suite: RunningApp;
  let pg: TcpProxy;
  let redis: TcpProxy;

  beforeAll(async () => {
    env = await createSuiteEnv('outage');
    const db = new URL(env.db.url);
    pg = await startTcpProxy(db.hostname, Number(db.port || 5432));
    const r = new URL(env.redisUrl);
    redis = await startTcpProxy(r.hostname, Number(r.port || 6379));
    db.host = `127.0.0.1:${pg.port}`;
    suite = await startStandalone('outage', { DATABASE_URL: db.toString(), REDIS_URL: `redis://127.0.0.1:${redis.port}` }, env);
    await suite.createClient(DEVICE_CLIENT);
  });
  afterAll(async () => {
    await suite?.close();
    await pg?.close();
    await redis?.close();
    await env?.dispose();
  });

  const ready = async (): Promise<number> => (await fetch(`${suite.issuer}/health/ready`)).status;
  const live = async (): Promise<number> => (await fetch(`${suite.issuer}/health/live`)).status;
  const metric = async (name: string): Promise<string> => {
    const text = await (await fetch(`${suite.issuer}/metrics`)).text();
    return text.split('\n').filter((l) => l.startsWith(name)).join('\n');
  };
  /** Retries until `check` passes or `ms` elapse (recovery is asynchronous: reconnects, pool refills). */
  const eventually = async (check: () => Promise<boolean>, ms = 10_000): Promise<void> => {
    const until = Date.now() + ms;
    while (!(await check())) {
      if (Date.now() > until) throw new Error('did not recover in time');
      await new Promise((r) => setTimeout(r, 200));
    }
  };

  it('Redis down: no token without replay protection — 503 with Retry-After; readiness 503, liveness 200; back by itself', async () => {
    const device = await FirstPartyClient.create({ issuer: suite.issuer, clientId: DEVICE_CLIENT.client_id });
    await device.register();
    await device.requestToken();
    expect(await metric('fpa_store_up')).toContain('fpa_store_up{kind="redis"} 1');

    redis.cut();
    const refused = await device.requestToken().catch((e: unknown) => e as { status: number; error: string; headers: Headers });
    expect(refused).toMatchObject({ status: 503, error: 'temporarily_unavailable' });
    expect((refused as { headers: Headers }).headers.get('retry-after')).toMatch(/^\d+$/);
    expect((refused as { headers: Headers }).headers.get('cache-control')).toBe('no-store');
    expect(await ready()).toBe(503);
    expect(await live()).toBe(200);
    expect(await metric('fpa_store_up')).toContain('fpa_store_up{kind="redis"} 0');
    // Nothing was issued while Redis was away.
    expect(await metric('fpa_tokens_issued_total{grant="client_credentials"')).toMatch(/ 1$/);

    redis.restore();
    await eventually(async () => (await ready()) === 200);
    await expect(device.requestToken()).resolves.toMatchObject({ token_type: 'DPoP' });
    expect(await metric('fpa_store_up')).toContain('fpa_store_up{kind="redis"} 1');
  });

  it('PostgreSQL down: registration and tokens answer 503 (no half-written rows); readiness 503; back by itself', async () => {
    const device = await FirstPartyClient.create({ issuer: suite.issuer, clientId: DEVICE_CLIENT.client_id });
    await device.register();
    const before = await env.db.query<{ n: string }>('SELECT count(*)::text AS n FROM device_sessions');

    pg.cut();
    const registration = await fetch(`${suite.issuer}/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ client_id: DEVICE_CLIENT.client_id, public_key: JSON.stringify((await FirstPartyClient.create({ issuer: suite.issuer, clientId: 'x' })).deviceKey.publicJwk) }),
    });
    expect(registration.status).toBe(503);
    expectNoStore({ headers: registration.headers });
    const body = (await registration.json()) as { error: string; error_description?: string };
    expect(body.error).toBe('temporarily_unavailable');
    expect(JSON.stringify(body)).not.toMatch(/ECONN|SELECT|INSERT|pg|postgres/i);
    await expect(device.requestToken()).rejects.toMatchObject({ status: 503, error: 'temporarily_unavailable' });
    expect(await ready()).toBe(503);
    expect(await live()).toBe(200);

    pg.restore();
    await eventually(async () => (await ready()) === 200);
    await expect(device.requestToken()).resolves.toMatchObject({ token_type: 'DPoP' });
    // The refused registration left nothing behind.
    const after = await env.db.query<{ n: string }>('SELECT count(*)::text AS n FROM device_sessions');
    expect(Number(after[0].n)).toBe(Number(before[0].n));
    expect(await metric('fpa_db_pool_connections')).toMatch(/fpa_db_pool_connections\{state="open"\} [1-9]/);
  });
});

