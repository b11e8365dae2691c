import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Response } from 'express';
import { sendJson } from './http';

/** sendJson on a plain Node server: what reaches the wire, and that it goes out in one write (issue 13). */
describe('sendJson (RFC 6749 §5.1)', () => {
  let server: Server;
  let port: number;
  let handle: (req: IncomingMessage, res: ServerResponse) => void;
  const writes: string[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      const socket = res.socket as Socket & { _write: (...a: unknown[]) => void; _writev: (...a: unknown[]) => void };
      const write = socket._write.bind(socket);
      const writev = socket._writev.bind(socket);
      const size = (c: { chunk: string | Buffer }): number => (typeof c.chunk === 'string' ? c.chunk.length : c.chunk.byteLength);
      socket._write = (...a: unknown[]) => (writes.push('write of 1 chunk'), write(...a));
      // Node's end() adds an empty chunk to carry its callback; count the chunks that hold bytes.
      socket._writev = (...a: unknown[]) => (writes.push(`writev of ${(a[0] as { chunk: string | Buffer }[]).filter((c) => size(c) > 0).length} chunk`), writev(...a));
      handle(req, res);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));
  beforeEach(() => (writes.length = 0));

  const fetchRaw = (method = 'POST'): Promise<{ status: number; headers: IncomingMessage['headers']; body: string }> =>
    new Promise((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, method, path: '/', agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      });
      req.on('error', reject);
      req.end();
    });

  it('status, no-store headers, JSON type and exact length, extra headers, in one write', async () => {
    const body = { access_token: 'ä€😀', n: 1, nested: { a: [1, 'x'] } };
    handle = (_req, res) => sendJson(res as unknown as Response, 201, body, { 'DPoP-Nonce': 'abc' });
    const r = await fetchRaw();
    expect(r.status).toBe(201);
    expect(JSON.parse(r.body)).toEqual(body);
    expect(r.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(Number(r.headers['content-length'])).toBe(Buffer.byteLength(r.body));
    expect(r.headers['cache-control']).toBe('no-store');
    expect(r.headers.pragma).toBe('no-cache');
    expect(r.headers['dpop-nonce']).toBe('abc');
    // Head and body in one chunk, handed to the kernel in one call (Express's res.json made it two chunks).
    expect(writes).toEqual([expect.stringMatching(/^writev? of 1 chunk$/)]);
  });

  it('a Content-Type the caller set stays', async () => {
    handle = (_req, res) => sendJson(res as unknown as Response, 200, { keys: [] }, { 'Content-Type': 'application/jwk-set+json' });
    const r = await fetchRaw();
    expect(r.headers['content-type']).toBe('application/jwk-set+json');
    expect(r.body).toBe('{"keys":[]}');
  });

  it('HEAD gets the head with the length of the body, and no body', async () => {
    handle = (_req, res) => sendJson(res as unknown as Response, 200, { a: 'b' });
    const r = await fetchRaw('HEAD');
    expect(r.status).toBe(200);
    expect(r.headers['content-length']).toBe(String(Buffer.byteLength('{"a":"b"}')));
    expect(r.body).toBe('');
  });
});
