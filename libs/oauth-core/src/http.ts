import type { Request, Response } from 'express';

/**
 * RFC 6749 §5.1: token and error responses must not be cached. The body goes out as a string with
 * its Content-Length, so Node writes the head and the body in one `write` (Express's `res.json`
 * turns it into a Buffer, which Node sends as a second chunk of a `writev`, after its own type and
 * charset handling): the same bytes, less work per response (issue 13). A HEAD request gets the
 * head only (Node drops the body).
 */
export function sendJson(res: Response, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.statusCode = status;
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Pragma', 'no-cache');
  const text = JSON.stringify(body) ?? '';
  if (!res.hasHeader('Content-Type')) res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(text));
  res.end(text);
}

/** What domain code may know about the HTTP request, without Express types. */
export interface RequestInfo {
  readonly method: string;
  /** Path as routed (no query). */
  readonly path: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly ip: string;
  readonly requestId: string;
}

export function requestInfo(req: Request): RequestInfo {
  return {
    method: req.method,
    path: req.path,
    headers: req.headers,
    ip: req.ip ?? req.socket.remoteAddress ?? 'unknown',
    requestId: requestIdOf(req),
  };
}

/** A header that must appear at most once (DPOP-4). Returns undefined when absent. */
export function singleHeader(headers: RequestInfo['headers'], name: string): string | undefined | 'multiple' {
  const v = headers[name.toLowerCase()];
  if (v === undefined) return undefined;
  if (Array.isArray(v)) return v.length === 1 ? v[0] : 'multiple';
  // Node joins repeated unknown headers with ", "; a compact JWS never contains a comma or space.
  if (name.toLowerCase() === 'dpop' && /[,\s]/.test(v)) return 'multiple';
  return v;
}

/** The request id configureHttp assigns (`req.id`: a valid inbound X-Request-Id or a fresh UUID). */
export function requestIdOf(req: Request): string {
  const id = (req as Request & { id?: unknown }).id;
  return id === undefined ? '' : String(id);
}
