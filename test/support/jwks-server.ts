import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type JwksHandler = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * A client's `jwks_uri` on 127.0.0.1 (plain http: the app under test runs outside production mode).
 * Each path answers with its handler; every request is counted per path.
 */
export interface JwksServer {
  url(path: string): string;
  route(path: string, handler: JwksHandler): void;
  /** Requests seen for `path` so far. */
  hits(path: string): number;
  close(): Promise<void>;
}

export async function startJwksServer(): Promise<JwksServer> {
  const routes = new Map<string, JwksHandler>();
  const counts = new Map<string, number>();
  const server = createServer((req, res) => {
    const path = req.url ?? '/';
    counts.set(path, (counts.get(path) ?? 0) + 1);
    const handler = routes.get(path);
    if (handler) handler(req, res);
    else res.writeHead(404, { 'content-type': 'application/json' }).end('{}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: (path) => `${base}${path}`,
    route: (path, handler) => routes.set(path, handler),
    hits: (path) => counts.get(path) ?? 0,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** A JWK Set (or any JSON) as `application/jwk-set+json`, with extra headers (Cache-Control, …). */
export function serveJson(body: unknown, headers: Record<string, string> = {}): JwksHandler {
  return (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/jwk-set+json', ...headers });
    res.end(typeof body === 'string' ? body : JSON.stringify(body));
  };
}
