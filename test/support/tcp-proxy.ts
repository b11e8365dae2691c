import { createServer, connect, type Socket } from 'node:net';

export interface TcpProxy {
  readonly port: number;
  /** Simulates an outage: every open connection is cut and new ones are refused (reset at once). */
  cut(): void;
  /** New connections go to another server from now on (a failover); open ones are cut. */
  retarget(host: string | { readonly path: string }, port?: number): void;
  restore(): void;
  close(): Promise<void>;
}

/**
 * A loopback TCP proxy in front of a real PostgreSQL or Redis, so a test can take a store away
 * from one app (and give it back) without touching the store the other suites share. The target
 * is a host and port, or a unix socket (`{ path }`, a Redis server of the test's own).
 */
export async function startTcpProxy(targetHost: string | { readonly path: string }, targetPort?: number): Promise<TcpProxy> {
  let down = false;
  let target = { host: targetHost, port: targetPort };
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    if (down) {
      client.destroy();
      return;
    }
    const upstream = typeof target.host === 'string' ? connect(target.port ?? 0, target.host) : connect(target.host.path);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    }
    client.pipe(upstream);
    upstream.pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    cut() {
      down = true;
      for (const s of sockets) s.destroy();
    },
    restore() {
      down = false;
    },
    retarget(host, port) {
      target = { host, port };
      for (const s of sockets) s.destroy();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
