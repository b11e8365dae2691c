import { FetchOutboundHttp, OutboundError, type OutboundLimits } from './outbound-http';

const LIMITS: OutboundLimits = { timeoutMs: 200, maxBytes: 64, allowedHosts: () => new Set(['as.example', '127.0.0.1:9000']), allowHttpLoopback: false };

function fakeFetch(answers: (() => Response | Promise<Response>)[]): { fetch: typeof fetch; calls: { url: string; init: RequestInit }[] } {
  const calls: { url: string; init: RequestInit }[] = [];
  return {
    calls,
    fetch: (async (url: string, init: RequestInit) => {
      calls.push({ url, init });
      const next = answers.shift();
      if (!next) throw new Error('no more answers');
      return next();
    }) as unknown as typeof fetch,
  };
}

const json = (body: unknown, status = 200) => () => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

describe('FetchOutboundHttp: the one outbound client (issue 10)', () => {
  it('never calls a host no downstream names, nor http outside loopback-in-development, nor URLs with credentials', async () => {
    const f = fakeFetch([]);
    const http = new FetchOutboundHttp(LIMITS, f.fetch);
    for (const url of ['https://evil.example/x', 'http://as.example/x', 'https://user:pw@as.example/x', 'http://127.0.0.1:9000/x', 'not a url']) {
      await expect(http.get(url)).rejects.toMatchObject({ reason: 'not_allowed' });
    }
    expect(f.calls).toHaveLength(0);
    const dev = new FetchOutboundHttp({ ...LIMITS, allowHttpLoopback: true }, fakeFetch([json({ ok: true })]).fetch);
    await expect(dev.get('http://127.0.0.1:9000/x')).resolves.toMatchObject({ status: 200, json: { ok: true } });
  });

  it('follows no redirect', async () => {
    const f = fakeFetch([() => new Response(null, { status: 302, headers: { location: 'https://evil.example/' } })]);
    await expect(new FetchOutboundHttp(LIMITS, f.fetch).get('https://as.example/m')).rejects.toMatchObject({ reason: 'redirect' });
    expect(f.calls[0].init.redirect).toBe('manual');
  });

  it('refuses a body larger than the cap, declared or streamed', async () => {
    const big = 'x'.repeat(100);
    await expect(new FetchOutboundHttp(LIMITS, fakeFetch([() => new Response(big, { headers: { 'content-length': '100' } })]).fetch).get('https://as.example/m')).rejects.toMatchObject({ reason: 'too_large' });
    const stream = new ReadableStream({ start: (c) => (c.enqueue(new TextEncoder().encode(big)), c.close()) });
    await expect(new FetchOutboundHttp(LIMITS, fakeFetch([() => new Response(stream)]).fetch).get('https://as.example/m')).rejects.toMatchObject({ reason: 'too_large' });
  });

  it('retries a GET once after a transport failure or a 5xx; never a POST', async () => {
    const unreachable = () => Promise.reject(new TypeError('fetch failed'));
    const g = fakeFetch([unreachable, json({ ok: 1 })]);
    await expect(new FetchOutboundHttp(LIMITS, g.fetch).get('https://as.example/m')).resolves.toMatchObject({ json: { ok: 1 } });
    expect(g.calls).toHaveLength(2);
    const five = fakeFetch([json({}, 503), json({ ok: 2 })]);
    await expect(new FetchOutboundHttp(LIMITS, five.fetch).get('https://as.example/m')).resolves.toMatchObject({ json: { ok: 2 } });
    const p = fakeFetch([unreachable, json({})]);
    await expect(new FetchOutboundHttp(LIMITS, p.fetch).postForm('https://as.example/token', { a: 'b' })).rejects.toBeInstanceOf(OutboundError);
    expect(p.calls).toHaveLength(1);
  });

  it('a timeout is a timeout (the signal is set on every call)', async () => {
    const f = fakeFetch([() => Promise.reject(Object.assign(new Error('t'), { name: 'TimeoutError' })), () => Promise.reject(Object.assign(new Error('t'), { name: 'TimeoutError' }))]);
    await expect(new FetchOutboundHttp(LIMITS, f.fetch).get('https://as.example/m')).rejects.toMatchObject({ reason: 'timeout' });
    expect(f.calls[0].init.signal).toBeDefined();
  });

  it('posts a form body, and a non-JSON answer has json undefined', async () => {
    const f = fakeFetch([() => new Response('<html>', { status: 200 })]);
    const res = await new FetchOutboundHttp(LIMITS, f.fetch).postForm('https://as.example/par', { client_id: 'c', scope: 'a b' });
    expect(res.json).toBeUndefined();
    expect(f.calls[0].init.body).toBe('client_id=c&scope=a+b');
    expect((f.calls[0].init.headers as Record<string, string>)['content-type']).toBe('application/x-www-form-urlencoded');
  });
});
