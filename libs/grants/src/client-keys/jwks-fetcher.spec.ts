import { generateKeyPairSync } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AppConfig } from '@fpa/config';
import { generateClientKeyPair, type ClientKeyPair } from '@fpa/crypto';
import { testConfig } from '../testing/fakes';
import { HttpJwksFetcher, JwksFetchError, maxAge } from './jwks-fetcher';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * The jwks_uri fetcher against a real HTTP server on loopback (CLIENT_JWKS_MAX_BYTES = 2048,
 * CLIENT_JWKS_FETCH_TIMEOUT_MS = 300 here): every way a key set can come back wrong is a
 * JwksFetchError with its reason, never anything else.
 */
describe('HttpJwksFetcher (client jwks_uri, issue 9)', () => {
  let server: Server;
  let base: string;
  let handler: Handler;
  let key: ClientKeyPair;
  /** What the server saw: paths requested, and whether a response was cut before it was written out. */
  let requested: string[];
  let cutShort: boolean;
  const config: AppConfig = testConfig({ CLIENT_JWKS_MAX_BYTES: '2048', CLIENT_JWKS_FETCH_TIMEOUT_MS: '300', CLIENT_JWKS_MAX_KEYS: '3' });
  const fetcher = new HttpJwksFetcher(config);

  beforeAll(async () => {
    key = await generateClientKeyPair('ES256');
    server = createServer((req, res) => {
      requested.push(req.url ?? '');
      handler(req, res);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });
  beforeEach(() => {
    requested = [];
    cutShort = false;
  });

  const json = (body: unknown, headers: Record<string, string> = {}): Handler => (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/jwk-set+json', ...headers });
    res.end(typeof body === 'string' ? body : JSON.stringify(body));
  };
  const failure = async (uri: string, f: HttpJwksFetcher = fetcher): Promise<string> => {
    try {
      await f.fetch(uri);
    } catch (e) {
      expect(e).toBeInstanceOf(JwksFetchError);
      return (e as JwksFetchError).failure;
    }
    throw new Error('expected the fetch to fail');
  };

  it('a public JWK Set as application/jwk-set+json or application/json, with its max-age', async () => {
    handler = json({ keys: [{ ...key.publicJwk, kid: 'k1' }] }, { 'cache-control': 'public, max-age=120' });
    await expect(fetcher.fetch(`${base}/jwks`)).resolves.toEqual({ set: { keys: [{ ...key.publicJwk, kid: 'k1' }] }, maxAgeSeconds: 120 });
    handler = json({ keys: [key.publicJwk] }, { 'content-type': 'application/json; charset=utf-8' });
    await expect(fetcher.fetch(`${base}/jwks`)).resolves.toMatchObject({ maxAgeSeconds: undefined });
  });

  it('a set holding a private key is refused entirely', async () => {
    const privateJwk = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });
    handler = json({ keys: [{ ...key.publicJwk, kid: 'ok' }, { ...privateJwk, kid: 'leak' }] });
    expect(await failure(`${base}/jwks`)).toBe('private_key');
    handler = json({ keys: [{ kty: 'oct', k: 'c2VjcmV0' }] });
    expect(await failure(`${base}/jwks`)).toBe('private_key');
  });

  it('more than CLIENT_JWKS_MAX_KEYS keys, or not a JWK Set', async () => {
    handler = json({ keys: Array.from({ length: 4 }, (_, i) => ({ ...key.publicJwk, kid: `k${i}` })) });
    expect(await failure(`${base}/jwks`)).toBe('too_many_keys');
    handler = json('{"keys": [');
    expect(await failure(`${base}/jwks`)).toBe('malformed_json');
    handler = json({ issuer: 'x' });
    expect(await failure(`${base}/jwks`)).toBe('malformed_jwks');
  });

  it('a body over CLIENT_JWKS_MAX_BYTES is cut while it streams in, announced or not', async () => {
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.on('close', () => (cutShort = !res.writableFinished));
      let sent = 0;
      const tick = setInterval(() => {
        // 1 KiB a tick, forever unless the client hangs up.
        if (res.destroyed || sent++ > 200) return clearInterval(tick);
        res.write(' '.repeat(1024));
      }, 5);
    };
    expect(await failure(`${base}/stream`)).toBe('too_large');
    await new Promise((r) => setTimeout(r, 50));
    expect(cutShort).toBe(true);
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(10 * 1024 * 1024) });
      res.write('{');
    };
    expect(await failure(`${base}/announced`)).toBe('too_large');
  });

  it('no answer within CLIENT_JWKS_FETCH_TIMEOUT_MS → timeout (also when the body trickles)', async () => {
    handler = () => undefined;
    const started = Date.now();
    expect(await failure(`${base}/silent`)).toBe('timeout');
    expect(Date.now() - started).toBeLessThan(2000);
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"keys":');
    };
    expect(await failure(`${base}/trickle`)).toBe('timeout');
  });

  it('redirects are not followed', async () => {
    handler = (req, res) => {
      if (req.url === '/moved') res.writeHead(302, { location: `${base}/jwks` }).end();
      else json({ keys: [key.publicJwk] })(req, res);
    };
    expect(await failure(`${base}/moved`)).toBe('redirect');
    expect(requested).toEqual(['/moved']);
  });

  it('anything but 200 with a JSON media type', async () => {
    handler = (_req, res) => res.writeHead(500, { 'content-type': 'application/json' }).end('{}');
    expect(await failure(`${base}/jwks`)).toBe('http_status');
    handler = (_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html>');
    expect(await failure(`${base}/jwks`)).toBe('content_type');
    handler = (_req, res) => res.writeHead(200).end(JSON.stringify({ keys: [key.publicJwk] }));
    expect(await failure(`${base}/jwks`)).toBe('content_type');
    handler = (req) => req.socket.destroy();
    expect(await failure(`${base}/jwks`)).toBe('network');
  });

  it('production: https only — a loopback http URL is refused without a connection', async () => {
    const production = new HttpJwksFetcher({ ...config, clientJwks: { ...config.clientJwks, allowHttpLoopback: false } });
    handler = json({ keys: [key.publicJwk] });
    expect(await failure(`${base}/jwks`, production)).toBe('insecure_url');
    expect(await failure('http://svc.example.com/jwks')).toBe('insecure_url');
    expect(requested).toEqual([]);
  });

  it('Cache-Control: max-age, no-store and no-cache', () => {
    expect(maxAge(undefined)).toBeUndefined();
    expect(maxAge('public')).toBeUndefined();
    expect(maxAge('public, max-age=600')).toBe(600);
    expect(maxAge('MAX-AGE="30"')).toBe(30);
    expect(maxAge('max-age=600, no-store')).toBe(0);
    expect(maxAge('no-cache')).toBe(0);
    expect(maxAge('max-age=abc')).toBeUndefined();
  });
});
