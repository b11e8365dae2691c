import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { sleep } from '@fpa/testing';
import { startTcpProxy, type TcpProxy } from './tcp-proxy';

/**
 * A Redis server of the test's own (never the shared one on 6379): listening only on a unix socket
 * in a temporary folder, without persistence, behind a loopback TCP proxy whose port the apps use.
 * `restartEmpty` kills it (SIGKILL, by its pid) and starts a new empty one on the same socket: the
 * apps see their connections drop and reconnect through the proxy to a store that lost everything.
 */
export interface OwnRedis {
  /** `redis://127.0.0.1:<proxy port>` */
  readonly url: string;
  restartEmpty(): Promise<void>;
  close(): Promise<void>;
}

/** One redis-server child (started by this test, stopped by its pid), answering PING on `probe`. */
export interface RedisProcess {
  readonly child: ChildProcess;
  kill(): Promise<void>;
}

export async function spawnRedis(args: readonly string[], probe: { path: string } | { port: number }): Promise<RedisProcess> {
  const child = spawn('redis-server', ['--save', '', '--appendonly', 'no', ...args], { stdio: 'ignore' });
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}`);
    const client = new Redis({ ...probe, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.ping();
      break;
    } catch {
      if (i > 100) throw new Error('redis-server did not start');
      await sleep(50);
    } finally {
      client.disconnect();
    }
  }
  return {
    child,
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGKILL');
      await exited;
    },
  };
}

export async function startOwnRedis(): Promise<OwnRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'fpa-redis-'));
  const socket = join(dir, 'redis.sock');
  const start = (): Promise<RedisProcess> => spawnRedis(['--port', '0', '--unixsocket', socket, '--unixsocketperm', '700', '--dir', dir], { path: socket });
  let server = await start();
  const proxy: TcpProxy = await startTcpProxy({ path: socket });
  return {
    url: `redis://127.0.0.1:${proxy.port}`,
    async restartEmpty() {
      await server.kill();
      server = await start();
    },
    async close() {
      await server.kill();
      await proxy.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
