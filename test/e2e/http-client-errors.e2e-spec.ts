import { DEVICE_CLIENT } from '@fpa/testing';
import { startStandalone, type RunningApp } from '@fpa/testing/app';
import { captureLogs, type LogCapture } from '../support/log-capture';
import { rawExchange, type RawAnswer } from '../support/raw-http';

/**
 * Issue 8 item 4: what Node's HTTP parser refuses before Express runs is answered with the JSON
 * error shape of CONTRACT §2 — a complete response with `Cache-Control: no-store` and
 * `Connection: close` — never an empty 431, a bare 400 or a reset.
 */

function expectJsonClientError(res: RawAnswer, status: number): void {
  expect({ status: res.status, closedCleanly: res.closedCleanly }).toEqual({ status, closedCleanly: true });
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  expect(res.headers['cache-control']).toBe('no-store');
  expect(res.headers.connection).toBe('close');
  expect(Number(res.headers['content-length'])).toBe(Buffer.byteLength(res.body));
  const body = JSON.parse(res.body) as Record<string, unknown>;
  expect(body).toEqual({ error: 'invalid_request', error_description: expect.stringMatching(/^[\x20-\x21\x23-\x5B\x5D-\x7E]+$/) });
}

describe('malformed HTTP gets the JSON error shape (standalone)', () => {
  let suite: RunningApp;
  let logs: LogCapture;

  beforeAll(async () => {
    suite = await startStandalone('clienterrors');
    await suite.createClient(DEVICE_CLIENT);
    logs = captureLogs();
  });
  afterAll(async () => {
    logs?.restore();
    await suite?.close();
  });

  const host = (): string => new URL(suite.issuer).host;

  it('headers over 16 kB: 431 with a JSON body, not an empty answer or a reset', async () => {
    for (const path of ['/token', '/.well-known/oauth-authorization-server']) {
      const res = await rawExchange(suite.issuer, `POST ${path} HTTP/1.1\r\nHost: ${host()}\r\nX-Big: ${'a'.repeat(20_000)}\r\nContent-Length: 0\r\n\r\n`);
      expectJsonClientError(res, 431);
      expect(JSON.parse(res.body)).toMatchObject({ error_description: 'request header fields too large' });
    }
    // Many small headers add up the same way.
    const many = Array.from({ length: 400 }, (_, i) => `X-H${i}: ${'b'.repeat(40)}\r\n`).join('');
    expectJsonClientError(await rawExchange(suite.issuer, `GET /jwks HTTP/1.1\r\nHost: ${host()}\r\n${many}\r\n`), 431);
  });

  it.each([
    ['a malformed request line', 'GARBAGE\r\n\r\n'],
    ['an unknown method token', 'G@T / HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['a control character in a header value', 'GET /jwks HTTP/1.1\r\nHost: x\r\nX-A: a\u0001b\r\n\r\n'],
    ['a header without a colon', 'GET /jwks HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n'],
    ['Content-Length and Transfer-Encoding together', 'POST /token HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'],
    ['two Content-Length values', 'POST /token HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab'],
    ['an HTTP version that does not exist', 'GET /jwks HTTP/7.0\r\nHost: x\r\n\r\n'],
  ])('%s: 400 with a JSON body', async (_, request) => {
    expectJsonClientError(await rawExchange(suite.issuer, request), 400);
  });

  it('an HTTP/1.1 request without Host (RFC 9112 §3.2): a JSON 400 instead of Node\'s bare one; HTTP/1.0 needs none', async () => {
    const res = await rawExchange(suite.issuer, 'GET /jwks HTTP/1.1\r\nConnection: close\r\n\r\n');
    expectJsonClientError(res, 400);
    expect(JSON.parse(res.body)).toMatchObject({ error_description: 'the Host header is required' });
    expect((await rawExchange(suite.issuer, 'GET /jwks HTTP/1.0\r\n\r\n')).status).toBe(200);
  });

  it('CONNECT (which Node drops unanswered without a listener) is a JSON 405', async () => {
    const res = await rawExchange(suite.issuer, `CONNECT ${host()} HTTP/1.1\r\nHost: ${host()}\r\n\r\n`);
    expect({ status: res.status, closedCleanly: res.closedCleanly }).toEqual({ status: 405, closedCleanly: true });
    expect(res.headers['cache-control']).toBe('no-store');
    expect(JSON.parse(res.body)).toEqual({ error: 'method_not_allowed', error_description: 'method not allowed' });
  });

  it('a broken chunked body after the request began: a JSON 400, the connection closes, nothing logged at error', async () => {
    const res = await rawExchange(
      suite.issuer,
      `POST /token HTTP/1.1\r\nHost: ${host()}\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n`,
    );
    expect(res.status).toBe(400);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(JSON.parse(res.body)).toMatchObject({ error: 'invalid_request' });
    await new Promise((r) => setTimeout(r, 200));
    expect(logs.errors()).toEqual([]);
  });

  it('a well-formed request on the same connection before a malformed one is answered normally, then the JSON 400', async () => {
    const res = await rawExchange(suite.issuer, `GET /jwks HTTP/1.1\r\nHost: ${host()}\r\n\r\nGARBAGE\r\n\r\n`);
    expect(res.status).toBe(200);
    const second = res.raw.slice(res.raw.indexOf('HTTP/1.1 400'));
    expect(second).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(second).toContain('Cache-Control: no-store');
    expect(second).toContain('"error":"invalid_request"');
  });
});
