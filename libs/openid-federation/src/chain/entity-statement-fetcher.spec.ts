import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HttpEntityStatementFetcher } from './entity-statement-fetcher';
import type { TrustChainFailure } from './trust-chain-error';

type Handler = Parameters<typeof createServer>[1];

describe('HttpEntityStatementFetcher (bounded fetches, OpenID Federation 1.0 §9)', () => {
  let server: Server;
  let base: string;
  let handler: NonNullable<Handler>;
  const fetcher = (maxBytes = 1024, allowHttpLoopback = true) => new HttpEntityStatementFetcher({ maxBytes, allowHttpLoopback });
  const failure = async (p: Promise<unknown>): Promise<TrustChainFailure> => {
    try {
      await p;
    } catch (e) {
      return (e as { failure: TrustChainFailure }).failure;
    }
    throw new Error('fetch succeeded');
  };
  const statement = (body: string) => (_req: unknown, res: { writeHead: (s: number, h: Record<string, string>) => void; end: (b: string) => void }) => {
    res.writeHead(200, { 'content-type': 'application/entity-statement+jwt' });
    res.end(body);
  };

  beforeAll(async () => {
    server = createServer((req, res) => handler(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('returns the body of a 200 application/entity-statement+jwt', async () => {
    handler = statement('a.b.c\n') as never;
    await expect(fetcher().get(`${base}/.well-known/openid-federation`, 1000)).resolves.toBe('a.b.c');
  });

  it('refuses http unless loopback http is allowed (tests only), and any non-https URL', async () => {
    expect(await failure(fetcher(1024, false).get(`${base}/x`, 1000))).toBe('insecure_url');
    expect(await failure(fetcher().get('http://example.com/x', 1000))).toBe('insecure_url');
  });

  it('connects to public addresses only: no private, link-local or (outside tests) loopback host, literal or resolved', async () => {
    for (const host of ['https://10.1.2.3', 'https://169.254.169.254', 'https://[::1]', 'https://[fd00::1]', 'https://127.0.0.1', 'https://[::ffff:192.168.1.1]']) {
      expect([host, await failure(fetcher(1024, false).get(`${host}/.well-known/openid-federation`, 1000))]).toEqual([host, 'insecure_url']);
    }
    expect(await failure(fetcher(1024, false).get('https://localhost/.well-known/openid-federation', 1000))).toBe('insecure_url');
  });

  it('never follows a redirect', async () => {
    handler = (_req, res) => {
      res.writeHead(302, { location: 'https://elsewhere.example' });
      res.end();
    };
    expect(await failure(fetcher().get(`${base}/x`, 1000))).toBe('redirect');
  });

  it('cuts an oversized answer (declared or streamed)', async () => {
    handler = statement('x'.repeat(5000)) as never;
    expect(await failure(fetcher().get(`${base}/x`, 1000))).toBe('too_large');
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/entity-statement+jwt' });
      res.write('x'.repeat(800));
      setTimeout(() => res.end('x'.repeat(800)), 20);
    };
    expect(await failure(fetcher().get(`${base}/x`, 1000))).toBe('too_large');
  });

  it('refuses another media type', async () => {
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    };
    expect(await failure(fetcher().get(`${base}/x`, 1000))).toBe('content_type');
  });

  it('classifies 404 as not_found, 5xx and timeouts as unavailable', async () => {
    handler = (_req, res) => {
      res.writeHead(404);
      res.end();
    };
    expect(await failure(fetcher().get(`${base}/x`, 1000))).toBe('not_found');
    handler = (_req, res) => {
      res.writeHead(503);
      res.end();
    };
    expect(await failure(fetcher().get(`${base}/x`, 1000))).toBe('unavailable');
    handler = () => undefined; // never answers
    const started = Date.now();
    expect(await failure(fetcher().get(`${base}/x`, 200))).toBe('unavailable');
    expect(Date.now() - started).toBeLessThan(1000);
  });
});
