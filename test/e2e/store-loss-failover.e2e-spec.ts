import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { FirstPartyClient } from '@fpa/client-sdk';
import { createSuiteEnv, DEVICE_CLIENT, freePort, type SuiteEnv } from '@fpa/testing';
import { startStandalone, type RunningApp } from '@fpa/testing/app';
import { expectOAuthError } from '../support/http';
import { spawnRedis, type RedisProcess } from '../support/redis-server';
import { eventually, metric, sendToken, tokenRequest, waitPastGeneration, type TokenRequest } from '../support/store-loss';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy';

const SKEW = '1';

/**
 * Issue 8: a failover to a Redis replica that missed the last writes. The marker is still there
 * (the same generation), but the replica's count of this process's claims is below what the process
 * saw: its next claim starts a new generation, and the claims lost with the old primary cannot be
 * replayed. Two Redis servers of the test's own (primary and replica on loopback ports), the app
 * connected through a proxy that is pointed at the replica once it is promoted.
 */
describe('failover to a Redis replica that missed the last claims', () => {
  let dir: string;
  let primary: RedisProcess;
  let replica: RedisProcess;
  let replicaPort: number;
  let proxy: TcpProxy;
  /** The replication link (replica → primary), cut to make the replica miss writes. */
  let link: TcpProxy;
  let env: SuiteEnv;
  let suite: RunningApp;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fpa-failover-'));
    const primaryPort = await freePort();
    primary = await spawnRedis(['--port', String(primaryPort), '--bind', '127.0.0.1', '--dir', dir], { port: primaryPort });
    link = await startTcpProxy('127.0.0.1', primaryPort);
    replicaPort = await freePort();
    replica = await spawnRedis(['--port', String(replicaPort), '--bind', '127.0.0.1', '--dir', dir, '--replicaof', '127.0.0.1', String(link.port)], { port: replicaPort });
    proxy = await startTcpProxy('127.0.0.1', primaryPort);
    env = await createSuiteEnv('failover');
    suite = await startStandalone('failover', { REDIS_URL: `redis://127.0.0.1:${proxy.port}`, CLOCK_SKEW_SECONDS: SKEW }, env);
    await suite.createClient(DEVICE_CLIENT);
  });
  afterAll(async () => {
    await suite?.close();
    await proxy?.close();
    await link?.close();
    await primary?.kill();
    await replica?.kill();
    await env?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the claims the replica missed are refused after the failover; one new generation (regressed); fresh values work', async () => {
    const device = await FirstPartyClient.create({ issuer: suite.issuer, clientId: DEVICE_CLIENT.client_id });
    await device.register();
    expect((await sendToken(suite.issuer, await tokenRequest(suite.issuer, device))).status).toBe(200);

    // The replica has everything so far; then the replication link breaks.
    const replicaClient = new Redis({ port: replicaPort, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 1 });
    replicaClient.on('error', () => undefined);
    await replicaClient.connect();
    const marker = `${env.redisPrefix}gen`;
    const primaryClient = new Redis(`redis://127.0.0.1:${proxy.port}`, { lazyConnect: true, maxRetriesPerRequest: 1 });
    primaryClient.on('error', () => undefined);
    await primaryClient.connect();
    await eventually(async () => JSON.stringify(await replicaClient.hgetall(marker)) === JSON.stringify(await primaryClient.hgetall(marker)), 10_000, 'replication');
    primaryClient.disconnect();
    link.cut();

    const missed: TokenRequest[] = [];
    for (let i = 0; i < 3; i++) {
      const request = await tokenRequest(suite.issuer, device);
      expect((await sendToken(suite.issuer, request)).status).toBe(200);
      missed.push(request);
    }

    // The primary dies; the replica, which never saw those claims, is promoted and takes the traffic.
    await primary.kill();
    await replicaClient.replicaof('NO', 'ONE');
    replicaClient.disconnect();
    proxy.retarget('127.0.0.1', replicaPort);
    await eventually(async () => (await fetch(`${suite.issuer}/health/ready`)).status === 200, 15_000, 'readiness on the promoted replica');

    for (const request of missed) expectOAuthError(await sendToken(suite.issuer, request), 401, 'invalid_client');
    const detectedBy = Date.now();
    expect(await metric(suite.issuer, 'fpa_client_auth_failures_total', { reason: 'predates_generation' })).toBe(missed.length);
    expect(await metric(suite.issuer, 'fpa_store_generation_changes_total', { reason: 'regressed' })).toBe(1);
    await eventually(async () => (await env.db.query<{ n: string }>("SELECT count(*)::text AS n FROM store_generations WHERE epoch = 2 AND reason = 'regressed' AND restored_at IS NOT NULL"))[0].n === '1');

    await waitPastGeneration(detectedBy, Number(SKEW));
    expect((await sendToken(suite.issuer, await tokenRequest(suite.issuer, device))).status).toBe(200);
  });
});
