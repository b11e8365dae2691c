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

export async function startOwnRedis(): Promise<OwnRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'fpa-redis-'));
  const socket = join(dir, 'redis.sock');
  let child: ChildProcess | undefined;

  const start = async (): Promise<void> => {
    const proc = spawn('redis-server', ['--port', '0', '--unixsocket', socket, '--unixsocketperm', '700', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' });
    child = proc;
    for (let i = 0; ; i++) {
      if (proc.exitCode !== null) throw new Error(`redis-server exited with ${proc.exitCode}`);
      const probe = new Redis({ path: socket, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      probe.on('error', () => undefined);
      try {
        await probe.connect();
        await probe.ping();
        return;
      } catch {
        if (i > 100) throw new Error('redis-server did not start');
        await sleep(50);
      } finally {
        probe.disconnect();
      }
    }
  };

  const stop = async (): Promise<void> => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill('SIGKILL');
    await exited;
  };

  await start();
  const proxy: TcpProxy = await startTcpProxy({ path: socket });
  return {
    url: `redis://127.0.0.1:${proxy.port}`,
    async restartEmpty() {
      await stop();
      await start();
    },
    async close() {
      await stop();
      await proxy.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
