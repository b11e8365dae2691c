import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/*
 * A local HTTP server for the documents a verifier fetches in tests (Status List Tokens, JWT VC Issuer
 * Metadata, JWKS): `serve(path, …)` registers what a path answers, computed per request, so a test can revoke a
 * credential and the next fetch sees it. Counts requests per path (caching tests). Plain http on 127.0.0.1:
 * the verifier's fetcher must be built with `allowHttpLoopback: true`.
 */
export interface TestHttpResponse {
  readonly status?: number;
  readonly contentType?: string;
  readonly body: string;
  readonly headers?: Record<string, string>;
}

export interface TestHttpServer {
  readonly origin: string;
  url(path: string): string;
  serve(path: string, respond: () => TestHttpResponse | Promise<TestHttpResponse>): void;
  /** Serves a Status List Token from `token()` with its media type. */
  serveStatusList(path: string, token: () => string): void;
  serveJson(path: string, value: () => unknown): void;
  requests(path: string): number;
  close(): Promise<void>;
}

export async function startTestHttpServer(): Promise<TestHttpServer> {
  const routes = new Map<string, () => TestHttpResponse | Promise<TestHttpResponse>>();
  const counts = new Map<string, number>();
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    counts.set(path, (counts.get(path) ?? 0) + 1);
    const route = routes.get(path);
    if (!route) {
      res.writeHead(404).end();
      return;
    }
    Promise.resolve(route())
      .then((r) => res.writeHead(r.status ?? 200, { 'content-type': r.contentType ?? 'text/plain', ...r.headers }).end(r.body))
      .catch(() => res.writeHead(500).end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    url: (path) => `${origin}${path}`,
    serve: (path, respond) => void routes.set(path, respond),
    serveStatusList: (path, token) => void routes.set(path, () => ({ contentType: 'application/statuslist+jwt', body: token() })),
    serveJson: (path, value) => void routes.set(path, () => ({ contentType: 'application/json', body: JSON.stringify(value()) })),
    requests: (path) => counts.get(path) ?? 0,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
