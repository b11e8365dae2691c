/**
 * The one way the verifier reads a document from elsewhere (Token Status Lists, JWT VC Issuer Metadata and
 * its `jwks_uri`): a port, so the checks are unit-tested with a fake, and one fetch-based implementation whose
 * limits hold whatever the other side does — https only (plain http to a loopback address only when allowed,
 * for tests), one GET with no redirect followed, 200 with an expected media type, at most `maxBytes` counted
 * as the body streams in, everything within `timeoutMs`. Every failure is a {@link RemoteFetchError}; callers
 * fail closed on it. URLs reach this port only after the document naming them was verified (a status `uri`
 * inside a credential whose signature held) or from configuration (a metadata-trusted issuer).
 */
export interface RemoteDocument {
  readonly body: string;
  /** The media type, lower case, without parameters. */
  readonly contentType: string;
}

export interface RemoteFetcher {
  /** GET `url` asking for one of `accept` (media types); a response of another type is refused. */
  get(url: string, accept: readonly string[]): Promise<RemoteDocument>;
}

export type RemoteFetchFailure = 'insecure_url' | 'timeout' | 'network' | 'redirect' | 'http_status' | 'content_type' | 'too_large';

export class RemoteFetchError extends Error {
  constructor(
    readonly failure: RemoteFetchFailure,
    message: string,
  ) {
    super(message);
    this.name = 'RemoteFetchError';
  }
}

export interface HttpFetcherOptions {
  /** Whole request, body included; default 5000 ms. */
  readonly timeoutMs?: number;
  /** Response body cap (after content decoding); default 1 MiB. */
  readonly maxBytes?: number;
  /** Plain http to 127.0.0.1 / ::1 / localhost — tests and local development only. */
  readonly allowHttpLoopback?: boolean;
  readonly fetchImpl?: typeof fetch;
}

const LOOPBACK = new Set(['127.0.0.1', '[::1]', 'localhost']);

/** Why `url` may not be fetched, or undefined when it may. */
export function remoteUrlProblem(url: string, allowHttpLoopback: boolean): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'is not an absolute URL';
  }
  if (parsed.username || parsed.password) return 'must not carry credentials';
  if (parsed.protocol === 'https:') return undefined;
  if (parsed.protocol === 'http:' && allowHttpLoopback && LOOPBACK.has(parsed.hostname)) return undefined;
  return 'must use https';
}

export function createHttpFetcher(options: HttpFetcherOptions = {}): RemoteFetcher {
  const timeoutMs = options.timeoutMs ?? 5000;
  const maxBytes = options.maxBytes ?? 1_048_576;
  const allowHttpLoopback = options.allowHttpLoopback ?? false;
  const fetchImpl = options.fetchImpl ?? fetch;
  return {
    async get(url, accept) {
      const why = remoteUrlProblem(url, allowHttpLoopback);
      if (why) throw new RemoteFetchError('insecure_url', `${url.slice(0, 200)} ${why}`);
      let res: Response;
      try {
        res = await fetchImpl(url, { method: 'GET', redirect: 'manual', headers: { accept: accept.join(', ') }, signal: AbortSignal.timeout(timeoutMs) });
      } catch (e) {
        throw transportError(e, timeoutMs);
      }
      try {
        // No redirect is followed: the URL the credential or the configuration named is the one trusted.
        if (res.status >= 300 && res.status < 400) throw new RemoteFetchError('redirect', 'the server answered with a redirect');
        if (res.status !== 200) throw new RemoteFetchError('http_status', `the server answered ${res.status}`);
        const contentType = (res.headers.get('content-type') ?? '').split(';')[0].trim().toLowerCase();
        if (!accept.includes(contentType)) throw new RemoteFetchError('content_type', `the server answered ${contentType.slice(0, 80) || 'no content type'}, not ${accept.join(' or ')}`);
        if (Number(res.headers.get('content-length') ?? 0) > maxBytes) throw new RemoteFetchError('too_large', `the answer is larger than ${maxBytes} bytes`);
        return { body: await readCapped(res, maxBytes, timeoutMs), contentType };
      } finally {
        // Release the connection whatever happened (a no-op once the body was read).
        await res.body?.cancel().catch(() => undefined);
      }
    },
  };
}

async function readCapped(res: Response, maxBytes: number, timeoutMs: number): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > maxBytes) throw new RemoteFetchError('too_large', `the answer is larger than ${maxBytes} bytes`);
      chunks.push(value);
    }
  } catch (e) {
    if (e instanceof RemoteFetchError) throw e;
    throw transportError(e, timeoutMs);
  } finally {
    reader.releaseLock();
  }
  return Buffer.concat(chunks).toString('utf8');
}

function transportError(e: unknown, timeoutMs: number): RemoteFetchError {
  // Not `instanceof Error`: the abort reason is a DOMException, which may come from another realm.
  const name = e !== null && typeof e === 'object' ? (e as { name?: unknown }).name : undefined;
  if (name === 'TimeoutError' || name === 'AbortError') return new RemoteFetchError('timeout', `no answer within ${timeoutMs} ms`);
  return new RemoteFetchError('network', 'the server could not be reached');
}
