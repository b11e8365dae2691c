import { startTestHttpServer, type TestHttpServer } from '@fpa/verifier/testing';
import { createHttpFetcher, remoteUrlProblem, RemoteFetchError, type RemoteFetchFailure } from './remote-fetcher';
import { TtlCache } from './ttl-cache';

let server: TestHttpServer;

beforeAll(async () => {
  server = await startTestHttpServer();
  server.serve('/doc', () => ({ contentType: 'application/json; charset=utf-8', body: '{"ok":true}' }));
  server.serve('/redirect', () => ({ status: 302, headers: { location: '/doc' }, body: '' }));
  server.serve('/big', () => ({ contentType: 'application/json', body: 'x'.repeat(5000) }));
  server.serve('/html', () => ({ contentType: 'text/html', body: '<p>' }));
  server.serve('/slow', () => new Promise((resolve) => setTimeout(() => resolve({ contentType: 'application/json', body: '{}' }), 3000).unref()));
});
afterAll(() => server.close());

// A generous timeout (the machine is shared); the timeout case has its own short one.
const fetcher = createHttpFetcher({ allowHttpLoopback: true, maxBytes: 1024, timeoutMs: 5000 });

async function failure(p: Promise<unknown>): Promise<RemoteFetchFailure> {
  try {
    await p;
  } catch (e) {
    if (e instanceof RemoteFetchError) return e.failure;
    throw e;
  }
  throw new Error('fetched');
}

describe('createHttpFetcher (the verifier’s outbound limits)', () => {
  it('fetches a document of an accepted media type', async () => {
    await expect(fetcher.get(server.url('/doc'), ['application/json'])).resolves.toEqual({ body: '{"ok":true}', contentType: 'application/json' });
  });
  it('refuses another media type', async () => expect(await failure(fetcher.get(server.url('/html'), ['application/json']))).toBe('content_type'));
  it('does not follow a redirect', async () => expect(await failure(fetcher.get(server.url('/redirect'), ['application/json']))).toBe('redirect'));
  it('cuts a body over the size cap', async () => expect(await failure(fetcher.get(server.url('/big'), ['application/json']))).toBe('too_large'));
  it('gives up after the timeout', async () => expect(await failure(createHttpFetcher({ allowHttpLoopback: true, timeoutMs: 300 }).get(server.url('/slow'), ['application/json']))).toBe('timeout'));
  it('reports a non-200 answer', async () => expect(await failure(fetcher.get(server.url('/none'), ['application/json']))).toBe('http_status'));
  it('refuses plain http unless loopback is allowed (https only in production)', async () => {
    expect(await failure(createHttpFetcher().get(server.url('/doc'), ['application/json']))).toBe('insecure_url');
    expect(server.requests('/doc')).toBe(1);
    expect(remoteUrlProblem('http://status.example/1', true)).toBe('must use https');
    expect(remoteUrlProblem('https://user:pw@status.example/1', false)).toBe('must not carry credentials');
    expect(remoteUrlProblem('file:///etc/passwd', true)).toBe('must use https');
    expect(remoteUrlProblem('https://status.example/1', false)).toBeUndefined();
  });
});

describe('TtlCache', () => {
  it('serves until expiry, then loads again; a failed load is not kept', async () => {
    let clock = 1_000;
    const cache = new TtlCache<number>({ now: () => clock });
    let loads = 0;
    const load = () => Promise.resolve({ value: ++loads, expiresAt: clock + 100 });
    expect(await cache.get('a', load)).toBe(1);
    expect(await cache.get('a', load)).toBe(1);
    clock += 100;
    expect(await cache.get('a', load)).toBe(2);
    await expect(cache.get('b', () => Promise.reject(new Error('down')))).rejects.toThrow('down');
    expect(cache.peek('b')).toBeUndefined();
  });
  it('keeps at most maxEntries, dropping the one that expires first', async () => {
    const cache = new TtlCache<string>({ maxEntries: 2, now: () => 0 });
    await cache.get('a', () => Promise.resolve({ value: 'a', expiresAt: 50 }));
    await cache.get('b', () => Promise.resolve({ value: 'b', expiresAt: 10 }));
    await cache.get('c', () => Promise.resolve({ value: 'c', expiresAt: 30 }));
    expect([cache.peek('a')?.value, cache.peek('b')?.value, cache.peek('c')?.value]).toEqual(['a', undefined, 'c']);
  });
});
