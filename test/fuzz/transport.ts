import { Agent, request as httpRequest } from 'node:http';
import { connect } from 'node:net';

/** One request as the fuzzer means it: headers in order, repeats allowed, any bytes anywhere. */
export interface FuzzRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: readonly (readonly [string, string])[];
  readonly body?: Buffer;
  /** What the request is (for reports and per-family counts), e.g. `token:client_credentials`. */
  readonly family: string;
  /** Exactly these bytes instead (malformed HTTP no model above can express). */
  readonly raw?: Buffer;
  /** `false` when the bytes may legitimately leave the server waiting (an unfinished request). */
  readonly answerExpected?: boolean;
}

export interface FuzzResponse {
  /** 0 when the server answered nothing (reset, or silence until the timeout). */
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  /** `raw` when the request could not be sent by an HTTP client (bytes no client would send). */
  readonly via: 'http' | 'raw';
  readonly problem?: string;
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
// What Node's HTTP client accepts in a header value (it refuses CR, LF, NUL and other controls).
const CLIENT_HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
const CLIENT_PATH = /^\/[\x21-\x7e]*$/;

const agent = new Agent({ keepAlive: true, maxSockets: 4 });

/** Sends over a keep-alive HTTP client when it can, else as raw bytes over TCP. */
export function send(base: string, req: FuzzRequest, timeoutMs = 10_000): Promise<FuzzResponse> {
  const hosts = req.headers.filter(([n]) => n.toLowerCase() === 'host').length;
  if (req.raw) return sendBytes(base, req.raw, req.answerExpected === false ? 2000 : timeoutMs);
  const clientCan =
    hosts <= 1 && req.method !== 'CONNECT' && TOKEN.test(req.method) && CLIENT_PATH.test(req.path) && req.headers.every(([n, v]) => TOKEN.test(n) && CLIENT_HEADER_VALUE.test(v));
  return clientCan ? viaClient(base, req, timeoutMs) : viaRaw(base, req, timeoutMs);
}

function viaClient(base: string, req: FuzzRequest, timeoutMs: number): Promise<FuzzResponse> {
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of req.headers) {
    const key = name.toLowerCase();
    const prev = headers[key];
    headers[key] = prev === undefined ? value : [...(Array.isArray(prev) ? prev : [prev]), value];
  }
  if (req.body !== undefined && headers['content-length'] === undefined && headers['transfer-encoding'] === undefined) headers['content-length'] = String(req.body.length);
  return new Promise((resolve) => {
    const r = httpRequest(`${base}${req.path}`, { method: req.method, headers, agent, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const out: Record<string, string> = {};
        for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) out[k] = Array.isArray(v) ? v.join(', ') : v;
        resolve({ status: res.statusCode ?? 0, headers: out, body: Buffer.concat(chunks).toString('utf8'), via: 'http' });
      });
      res.on('error', (e) => resolve({ status: 0, headers: {}, body: '', via: 'http', problem: `response error: ${e.message}` }));
    });
    r.on('timeout', () => r.destroy(new Error('timeout')));
    r.on('error', (e) => resolve({ status: 0, headers: {}, body: '', via: 'http', problem: `no answer: ${e.message}` }));
    r.end(req.body);
  });
}

function viaRaw(base: string, req: FuzzRequest, timeoutMs: number): Promise<FuzzResponse> {
  const { host } = new URL(base);
  const lines = [`${req.method} ${req.path} HTTP/1.1`];
  if (!req.headers.some(([n]) => n.toLowerCase() === 'host')) lines.push(`Host: ${host}`);
  for (const [name, value] of req.headers) lines.push(`${name}: ${value}`);
  if (req.body !== undefined) lines.push(`Content-Length: ${req.body.length}`);
  lines.push('Connection: close', '', '');
  return sendBytes(base, Buffer.concat([Buffer.from(lines.join('\r\n'), 'utf8'), req.body ?? Buffer.alloc(0)]), timeoutMs);
}

function sendBytes(base: string, bytes: Buffer, timeoutMs: number): Promise<FuzzResponse> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve) => {
    const socket = connect(Number(port), hostname);
    const chunks: Buffer[] = [];
    let problem: string | undefined;
    const timer = setTimeout(() => {
      problem = 'timeout';
      socket.destroy();
    }, timeoutMs);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', (e: NodeJS.ErrnoException) => {
      problem ??= e.code === 'ECONNRESET' || e.code === 'EPIPE' ? 'reset' : e.message;
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ ...parseRaw(Buffer.concat(chunks)), via: 'raw', problem: chunks.length === 0 ? (problem ?? 'closed without an answer') : undefined });
    });
    // No half-close: Node's server aborts a request whose client ends its side (httpAllowHalfOpen
    // is off); `Connection: close` has the server close once it answered.
    socket.write(bytes);
  });
}

/** The first response in `data`: status, headers, body (Content-Length, chunked, or to the end). */
export function parseRaw(data: Buffer): { status: number; headers: Record<string, string>; body: string } {
  // An interim answer (100 Continue) precedes the final one.
  while (/^HTTP\/1\.[01] 1\d\d /.test(data.toString('latin1', 0, 16))) {
    const end = data.indexOf('\r\n\r\n');
    if (end < 0) break;
    data = data.subarray(end + 4);
  }
  const text = data.toString('latin1');
  const end = text.indexOf('\r\n\r\n');
  if (end < 0) return { status: 0, headers: {}, body: '' };
  const [statusLine, ...headerLines] = text.slice(0, end).split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of headerLines) {
    const i = line.indexOf(':');
    if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  let body = data.subarray(end + 4);
  if (headers['content-length'] !== undefined) body = body.subarray(0, Number(headers['content-length']));
  else if (/chunked/i.test(headers['transfer-encoding'] ?? '')) body = dechunk(body);
  return { status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? 0), headers, body: body.toString('utf8') };
}

function dechunk(data: Buffer): Buffer {
  const out: Buffer[] = [];
  let at = 0;
  for (;;) {
    const eol = data.indexOf('\r\n', at);
    if (eol < 0) break;
    const size = parseInt(data.subarray(at, eol).toString('latin1'), 16);
    if (!(size > 0)) break;
    out.push(data.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
  return Buffer.concat(out);
}

export function closeTransport(): void {
  agent.destroy();
}
