import type { RunningApp } from '@fpa/testing/app';
import type { LogCapture, LogLine } from '../support/log-capture';
import { COUNTED_TABLES } from './fixtures';
import type { FuzzRequest, FuzzResponse } from './transport';

/**
 * What must hold for every response to hostile input (CONTRACT §2, issue 8): no 5xx, an error is
 * JSON `{error, error_description?}` in RFC 6749 §5.2's character set with `Cache-Control:
 * no-store`, nothing internal in a body, no row written by a refused request, and no log line at
 * error (nor one from persistence's last line: the boundaries must have refused it first).
 */

/** Stack frames, ORM and SQL text, source paths — what leaks when an error escapes the filter. */
const LEAK = /\n\s+at |\bat [\w$.<>]+ \([^)]*:\d+:\d+\)|QueryFailedError|TypeORMError|node_modules|\.ts:\d+|\.js:\d+|"stack"|\bSELECT\s.+\sFROM\b|\bINSERT INTO\b|\bsyntax error at or near\b|<html|<pre>/i;
/** Key material: a private JWK member, a PEM private key. */
const KEY_MATERIAL = /"(d|p|q|dp|dq|qi|k)"\s*:\s*"|-----BEGIN [A-Z ]*PRIVATE KEY-----/;
const ERROR_CODE = /^[\x20-\x21\x23-\x5B\x5D-\x7E]+$/;
const DESCRIPTION = /^[\x20-\x21\x23-\x5B\x5D-\x7E]*$/;
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
/** Answers that continue a flow rather than refuse the request: they may store what the flow needs. */
const CONTINUATIONS = new Set(['insufficient_authorization', 'redirect_to_web']);
/** GET documents whose success is not JSON: Swagger UI, Prometheus text, the signed entity statement (application/entity-statement+jwt). */
const NOT_JSON = new Set(['/docs', '/metrics', '/.well-known/openid-federation']);

export interface Verdict {
  readonly problems: string[];
  /** The request was refused (an error that is not a flow's continuation). */
  readonly refused: boolean;
}

/** Requests whose framing the request itself broke (CR/LF injected into the request line or a header) need not be answered. */
function framingBroken(req: FuzzRequest): boolean {
  if (req.raw) return req.answerExpected === false;
  return /[\r\n]/.test(req.method + req.path) || req.headers.some(([n, v]) => /[\r\n]/.test(n + v));
}

/** The browser login: errors are pages (or redirects to the client), never JSON; the answer must still be safe. */
const BROWSER_PAGE_LEAK = /\n\s+at |\bat [\w$.<>]+ \([^)]*:\d+:\d+\)|QueryFailedError|TypeORMError|node_modules|\.ts:\d+|\.js:\d+|"stack"|\bSELECT\s.+\sFROM\b|\bINSERT INTO\b|<script>(?!<\/script>)|javascript:/i;
/** Where the browser login may send a browser: only the fuzz web client's registered URI. */
const BROWSER_REDIRECT = /^https:\/\/app\.example\.com\/cb\?/;

function judgeBrowser(req: FuzzRequest, res: FuzzResponse, secrets: readonly string[]): Verdict | undefined {
  if (!req.family.startsWith('browser:') || res.status === 0 || res.status >= 500) return undefined;
  if (!/^text\/html\b/.test(res.headers['content-type'] ?? '') && res.status !== 303) return undefined;
  const problems: string[] = [];
  if (res.headers['cache-control'] !== 'no-store') problems.push(`Cache-Control ${JSON.stringify(res.headers['cache-control'])}`);
  if (res.status === 303) {
    const location = res.headers.location ?? '';
    if (!BROWSER_REDIRECT.test(location)) problems.push(`redirect to ${JSON.stringify(location.slice(0, 80))}`);
  } else {
    if (!(res.headers['content-security-policy'] ?? '').includes("frame-ancestors 'none'")) problems.push('page without its Content-Security-Policy');
    if (res.headers['x-frame-options'] !== 'DENY') problems.push('page without X-Frame-Options: DENY');
    if (BROWSER_PAGE_LEAK.test(res.body)) problems.push(`internal detail or script in the page: ${JSON.stringify(BROWSER_PAGE_LEAK.exec(res.body)?.[0])}`);
  }
  for (const s of secrets) if (res.body.includes(s)) problems.push('a server secret in the body');
  const refused = res.status >= 400 || (res.status === 303 && /[?&]error=/.test(res.headers.location ?? ''));
  return { problems, refused };
}

export function judge(req: FuzzRequest, res: FuzzResponse, secrets: readonly string[]): Verdict {
  const browser = judgeBrowser(req, res, secrets);
  if (browser) return browser;
  const problems: string[] = [];
  if (res.status === 0) {
    if (!framingBroken(req)) problems.push(`no answer (${res.problem ?? 'unknown'})`);
    return { problems, refused: true };
  }
  if (res.status >= 500) problems.push(`status ${res.status}`);
  const error = res.status >= 400;
  let body: unknown;
  try {
    body = res.body ? JSON.parse(res.body) : undefined;
  } catch {
    body = undefined;
  }
  const errorCode = error && body && typeof body === 'object' ? (body as Record<string, unknown>).error : undefined;
  if (error || req.method === 'POST') {
    if (res.headers['cache-control'] !== 'no-store') problems.push(`Cache-Control ${JSON.stringify(res.headers['cache-control'])}`);
  }
  if (error && req.method !== 'HEAD') {
    if (!/^application\/json\b/.test(res.headers['content-type'] ?? '')) problems.push(`error Content-Type ${JSON.stringify(res.headers['content-type'])}`);
    if (typeof errorCode !== 'string' || !ERROR_CODE.test(errorCode)) problems.push('error body without a valid `error` member');
    const description = body && typeof body === 'object' ? (body as Record<string, unknown>).error_description : undefined;
    if (description !== undefined && (typeof description !== 'string' || !DESCRIPTION.test(description))) problems.push('error_description outside RFC 6749 §5.2');
    if (LEAK.test(res.body)) problems.push(`internal detail in the body: ${JSON.stringify(LEAK.exec(res.body)?.[0])}`);
  } else if (res.status < 300 && req.method === 'POST' && res.body && body === undefined) {
    problems.push('success body is not JSON');
  } else if (res.status < 300 && req.method === 'GET' && res.body && body === undefined && !NOT_JSON.has(req.path.split('?')[0])) {
    problems.push('GET body is not JSON');
  }
  if (KEY_MATERIAL.test(res.body)) problems.push('key material in the body');
  for (const s of secrets) if (res.body.includes(s)) problems.push('a server secret in the body');
  const id = res.headers['x-request-id'];
  if (id !== undefined && !REQUEST_ID.test(id)) problems.push('X-Request-Id echoes a malformed value');
  if (res.headers['x-injected'] !== undefined) problems.push('a header injected through a request value');
  return { problems, refused: error && !(typeof errorCode === 'string' && CONTINUATIONS.has(errorCode)) };
}

/** Row counts of COUNTED_TABLES in one statement. */
export async function countRows(suite: RunningApp): Promise<Record<string, number>> {
  const [r] = await suite.env.db.query<Record<string, string>>(`SELECT ${COUNTED_TABLES.map((t) => `(SELECT count(*) FROM ${t}) AS ${t}`).join(', ')}`);
  return Object.fromEntries(Object.entries(r).map(([k, v]) => [k, Number(v)]));
}

export function rowChanges(before: Record<string, number>, after: Record<string, number>): string[] {
  return COUNTED_TABLES.filter((t) => before[t] !== after[t]).map((t) => `${t} ${before[t]} → ${after[t]}`);
}

/** Log lines an input must never cause: error level, or persistence's last line firing. */
export function badLogLines(logs: LogCapture): LogLine[] {
  return logs.lines.filter((l) => l.level >= 50 || /refused at the store/.test(String(l.msg)));
}

/** A request as a report line: family, method, path and the start of each header and the body (never sent anywhere). */
export function describeRequest(req: FuzzRequest): string {
  const cut = (s: string, n = 120): string => JSON.stringify(s.length > n ? `${s.slice(0, n)}…(${s.length})` : s);
  const headers = req.headers.map(([n, v]) => `${cut(n, 40)}: ${cut(v)}`).join('; ');
  return `[${req.family}] ${cut(req.method, 20)} ${cut(req.path)} | ${headers} | body ${req.body ? cut(req.body.toString('latin1'), 200) : '-'}`;
}
