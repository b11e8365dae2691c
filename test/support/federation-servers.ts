import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { TestFederation, type TestEntity } from '@fpa/openid-federation/testing';

/**
 * OpenID Federation entities on 127.0.0.1 (issue 10): one node:http server per entity, so each has
 * its own origin (= entity id), every one answering from one TestFederation — entity configurations
 * at `/.well-known/openid-federation`, subordinate statements at `/fetch?sub=`, 404 otherwise.
 */
export class FederationServers {
  readonly federation = new TestFederation();
  private readonly servers: Server[] = [];

  /** A new entity with its own server. */
  async entity(): Promise<TestEntity> {
    const server = createServer((req, res) => {
      const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      this.federation.answer(`${origin}${req.url ?? '/'}`).then(
        (a) => res.writeHead(a.status, { 'content-type': a.contentType, 'content-length': Buffer.byteLength(a.body) }).end(a.body),
        () => res.writeHead(500).end(),
      );
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.servers.push(server);
    return this.federation.entity(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  }

  /** An origin that answers 404 everywhere (a web site that is no federation entity). */
  async plainSite(): Promise<string> {
    const server = createServer((_req, res) => res.writeHead(404, { 'content-type': 'text/plain' }).end('not here'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.servers.push(server);
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    await Promise.all(
      this.servers.map((s) => {
        s.closeAllConnections();
        return new Promise((resolve) => s.close(resolve));
      }),
    );
  }
}
