/**
 * The one way the federating side talks to downstream servers (issue 10): metadata, JWKS, PAR and
 * token requests all pass here, so the rules hold for every call — a host allow-list (no request to
 * a host no downstream names), a timeout, a response size cap, no redirects followed, and retries
 * only for idempotent GETs. A port, so the core is unit-tested with a fake.
 */
export interface OutboundResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  readonly json: unknown;
}

export interface OutboundHttp {
  get(url: string): Promise<OutboundResponse>;
  postForm(url: string, form: Readonly<Record<string, string>>, headers?: Readonly<Record<string, string>>): Promise<OutboundResponse>;
}

export const OUTBOUND_HTTP = Symbol('OUTBOUND_HTTP');

/** Why a call failed before a usable answer: the downstream is unreachable, slow, too big, or not allowed. */
export class OutboundError extends Error {
  constructor(
    readonly reason: 'not_allowed' | 'timeout' | 'unreachable' | 'too_large' | 'redirect' | 'server_error',
    message: string,
  ) {
    super(message);
    this.name = 'OutboundError';
  }
}

export interface OutboundLimits {
  readonly timeoutMs: number;
  readonly maxBytes: number;
  /** Hosts (`host[:port]`) that may be called. */
  readonly allowedHosts: () => ReadonlySet<string>;
  readonly allowHttpLoopback: boolean;
  /** Extra attempts for a GET that failed in transport or with a 5xx. */
  readonly getRetries?: number;
}

type Fetch = typeof fetch;

/** The fetch-based implementation. */
export class FetchOutboundHttp implements OutboundHttp {
  constructor(
    private readonly limits: OutboundLimits,
    private readonly fetchImpl: Fetch = fetch,
  ) {}

  async get(url: string): Promise<OutboundResponse> {
    const retries = this.limits.getRetries ?? 1;
    for (let attempt = 0; ; attempt++) {
      try {
        const res = await this.send(url, { method: 'GET', headers: { accept: 'application/json' } });
        if (res.status >= 500 && attempt < retries) continue;
        return res;
      } catch (e) {
        // A GET is idempotent: one more try for a transport failure; never for a refused host or a redirect.
        if (!(e instanceof OutboundError) || !['timeout', 'unreachable'].includes(e.reason) || attempt >= retries) throw e;
      }
    }
  }

  /** Never retried: a PAR or a code redemption may have taken effect. */
  postForm(url: string, form: Readonly<Record<string, string>>, headers: Readonly<Record<string, string>> = {}): Promise<OutboundResponse> {
    return this.send(url, {
      method: 'POST',
      body: new URLSearchParams(form as Record<string, string>).toString(),
      headers: { ...headers, accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded' },
    });
  }

  private async send(url: string, init: RequestInit): Promise<OutboundResponse> {
    this.check(url);
    let res: Response;
    try {
      res = await this.fetchImpl(url, { ...init, redirect: 'manual', signal: AbortSignal.timeout(this.limits.timeoutMs) });
    } catch (e) {
      const name = (e as Error).name;
      throw new OutboundError(name === 'TimeoutError' || name === 'AbortError' ? 'timeout' : 'unreachable', `${new URL(url).host}: ${name === 'TimeoutError' ? 'timed out' : 'unreachable'}`);
    }
    if (res.status >= 300 && res.status < 400) {
      await res.body?.cancel();
      throw new OutboundError('redirect', `${new URL(url).host} answered with a redirect (not followed)`);
    }
    const text = await this.read(res, url);
    const headers: Record<string, string> = {};
    res.headers.forEach((v, k) => (headers[k] = v));
    let json: unknown;
    try {
      json = text.length > 0 ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    return { status: res.status, headers, json };
  }

  /** Reads at most maxBytes; a larger body (by header or by count) is refused unread, within the same timeout. */
  private async read(res: Response, url: string): Promise<string> {
    const declared = Number(res.headers.get('content-length') ?? '0');
    if (declared > this.limits.maxBytes) {
      await res.body?.cancel();
      throw new OutboundError('too_large', `${new URL(url).host}: the answer is larger than ${this.limits.maxBytes} bytes`);
    }
    if (!res.body) return '';
    const chunks: Uint8Array[] = [];
    let size = 0;
    const reader = res.body.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        size += value.byteLength;
        if (size > this.limits.maxBytes) {
          await reader.cancel();
          throw new OutboundError('too_large', `${new URL(url).host}: the answer is larger than ${this.limits.maxBytes} bytes`);
        }
        chunks.push(value);
      }
    } catch (e) {
      if (e instanceof OutboundError) throw e;
      const name = (e as Error).name;
      throw new OutboundError(name === 'TimeoutError' || name === 'AbortError' ? 'timeout' : 'unreachable', `${new URL(url).host}: the answer was cut off`);
    }
    return Buffer.concat(chunks).toString('utf8');
  }

  private check(url: string): void {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      throw new OutboundError('not_allowed', 'not an absolute URL');
    }
    const loopback = ['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname);
    const schemeOk = u.protocol === 'https:' || (u.protocol === 'http:' && loopback && this.limits.allowHttpLoopback);
    if (!schemeOk || u.username || u.password || !this.limits.allowedHosts().has(u.host)) {
      throw new OutboundError('not_allowed', `${u.host} is not an allowed downstream host`);
    }
  }
}
