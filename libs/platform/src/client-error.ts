import { type IncomingMessage, type Server, STATUS_CODES } from 'node:http';
import { OAuthError, sendOAuthError } from '@fpa/oauth-core';
import type { Duplex } from 'node:stream';
import type { Response } from 'express';

/**
 * Errors Node's HTTP parser raises before any middleware runs — headers over `maxHeaderSize`
 * (16 kB), a malformed request line or header, a request that timed out — get the JSON error shape
 * of CONTRACT §2 instead of Node's bare `HTTP/1.1 400 Bad Request` (which its default handler
 * writes and then destroys the socket, often before the bytes leave: an empty answer or a reset);
 * so does CONNECT, which Node otherwise drops unanswered.
 */

/** Node's error codes for which HTTP has a more precise status than 400. */
const STATUS_BY_CODE: Readonly<Record<string, number>> = {
  HPE_HEADER_OVERFLOW: 431, // RFC 6585 §5
  HPE_CHUNK_EXTENSIONS_OVERFLOW: 413,
  ERR_HTTP_REQUEST_TIMEOUT: 408, // requestTimeout / headersTimeout
};

const DESCRIPTION_BY_STATUS: Readonly<Record<number, string>> = {
  431: 'request header fields too large',
  413: 'request too large',
  408: 'request timeout',
  400: 'malformed HTTP request',
};

/** How long a peer may keep the connection open after the answer was sent. */
const LINGER_MS = 2000;

/** The complete HTTP/1.1 response for a client error: JSON, no-store, and the connection closes. */
export function clientErrorResponse(code: string | undefined): { status: number; raw: string } {
  const status = (code && STATUS_BY_CODE[code]) || 400;
  return { status, raw: rawJsonError(status, 'invalid_request', DESCRIPTION_BY_STATUS[status]) };
}

/** RFC 6749 §5.2 shape; the description is ours (%x20-7E), never the request's bytes. */
function rawJsonError(status: number, error: string, description: string): string {
  const body = JSON.stringify({ error, error_description: description });
  return [
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}`,
    'Content-Type: application/json; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(body)}`,
    'Cache-Control: no-store',
    'Pragma: no-cache',
    'X-Content-Type-Options: nosniff',
    'Connection: close',
    '',
    body,
  ].join('\r\n');
}

/** Ends `socket` with `raw`, and destroys it should the peer neither read nor close. */
function answerAndClose(socket: Duplex, raw: string): void {
  const timer = setTimeout(() => socket.destroy(), LINGER_MS);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
  if (socket.writable) socket.end(raw);
  else socket.destroy();
}

/** Socket fields Node's own handler consults (lib/_http_server.js socketOnError). */
type InFlight = NodeJS.EventEmitter & { _headerSent?: boolean; writableFinished?: boolean; req?: { complete?: boolean } };
type ClientSocket = Duplex & { _httpMessage?: InFlight | null };

/**
 * Answers like Node's default handler would — only while the socket is writable and no byte of
 * an in-flight response has been sent (anything else would corrupt what the peer reads) — but
 * with a body, and it lets the bytes drain (`end`) before closing. When the bytes in error follow
 * a complete request still being answered (pipelining), that answer goes first and the error
 * follows it; when they are part of the request being answered (a broken chunked body), the error
 * is the answer.
 */
export function handleClientError(err: NodeJS.ErrnoException, socket: ClientSocket): void {
  const inFlight = socket._httpMessage;
  if (err.code === 'ECONNRESET' || !socket.writable || (inFlight && inFlight._headerSent && !inFlight.writableFinished)) {
    socket.destroy();
    return;
  }
  const answer = (): void => answerAndClose(socket, clientErrorResponse(err.code).raw);
  if (inFlight && !inFlight.writableFinished && inFlight.req?.complete) inFlight.once('finish', answer);
  else answer();
}

/**
 * CONNECT never reaches Express: without a listener Node drops the connection unanswered. An
 * authorization server tunnels nothing, so it is a 405 like any other method no endpoint takes.
 */
export function handleConnect(_req: IncomingMessage, socket: Duplex): void {
  answerAndClose(socket, rawJsonError(405, 'method_not_allowed', 'method not allowed'));
}

export function installClientErrorHandler(server: Server): void {
  server.on('clientError', handleClientError);
  server.on('connect', handleConnect);
  // Node answers an HTTP/1.1 request without Host with a bare 400 of its own; refuseMissingHost
  // gives the same refusal the JSON shape instead.
  (server as Server & { requireHostHeader: boolean }).requireHostHeader = false;
}

/**
 * RFC 9112 §3.2: "A server MUST respond with a 400 (Bad Request) status code to any HTTP/1.1
 * request message that lacks a Host header field" — here as `invalid_request` JSON (Express
 * middleware, first in the chain).
 */
export function refuseMissingHost(req: IncomingMessage, res: Response): boolean {
  if (req.httpVersion !== '1.1' || req.headers.host !== undefined) return false;
  res.setHeader('Connection', 'close');
  sendOAuthError(res, new OAuthError('invalid_request', 'the Host header is required'));
  return true;
}
