import * as http from 'node:http';
import * as https from 'node:https';
import { Inject, Injectable } from '@nestjs/common';
import { jwksUriProblem } from '@fpa/clients';
import { APP_CONFIG, type AppConfig } from '@fpa/config';
import { JwkSetError, parsePublicJwkSet, type JwkSetFailure, type PublicJwkSet } from '@fpa/crypto';

/** Why a `jwks_uri` gave no usable key set; a bounded set of metric labels. */
export type JwksFetchFailure = 'insecure_url' | 'timeout' | 'network' | 'redirect' | 'http_status' | 'content_type' | 'too_large' | 'malformed_json' | JwkSetFailure;

export class JwksFetchError extends Error {
  constructor(
    readonly failure: JwksFetchFailure,
    message: string,
  ) {
    super(message);
    this.name = 'JwksFetchError';
  }
}

export interface FetchedJwks {
  readonly set: PublicJwkSet;
  /** `Cache-Control: max-age` (0 for `no-store` / `no-cache`); undefined = the response said nothing. */
  readonly maxAgeSeconds: number | undefined;
}

/** The port RemoteKeySets fetches through (a fake in the unit specs). */
export interface JwksSource {
  fetch(uri: string): Promise<FetchedJwks>;
}
export const JWKS_SOURCE = Symbol('JWKS_SOURCE');

const JSON_TYPES = new Set(['application/json', 'application/jwk-set+json']);

/**
 * Fetches a client's `jwks_uri` (RFC 7591 §2) within fixed limits, whatever the other side does:
 * https only (loopback http outside production), one GET with no redirect followed, 200 with a JSON
 * media type, at most CLIENT_JWKS_MAX_BYTES counted as the body streams in (the connection is cut at
 * the first byte over), everything within CLIENT_JWKS_FETCH_TIMEOUT_MS, then the set checked like a
 * registered one (public keys only, CLIENT_JWKS_MAX_KEYS). Every failure is a JwksFetchError.
 */
@Injectable()
export class HttpJwksFetcher implements JwksSource {
  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  async fetch(uri: string): Promise<FetchedJwks> {
    const limits = this.config.clientJwks;
    const why = jwksUriProblem(uri, limits.allowHttpLoopback);
    if (why) throw new JwksFetchError('insecure_url', `jwks_uri ${why}`);
    const { body, cacheControl } = await this.get(new URL(uri));
    let json: unknown;
    try {
      json = JSON.parse(body.toString('utf8'));
    } catch {
      throw new JwksFetchError('malformed_json', 'jwks_uri did not answer with JSON');
    }
    try {
      return { set: await parsePublicJwkSet(json, { maxKeys: limits.maxKeys }), maxAgeSeconds: maxAge(cacheControl) };
    } catch (e) {
      if (e instanceof JwkSetError) throw new JwksFetchError(e.failure, `jwks_uri set ${e.message}`);
      throw new JwksFetchError('malformed_json', 'jwks_uri did not answer with a JWK Set');
    }
  }

  private get(url: URL): Promise<{ body: Buffer; cacheControl: string | undefined }> {
    const { fetchTimeoutMs, maxBytes } = this.config.clientJwks;
    return new Promise((resolve, reject) => {
      let settled = false;
      const finish = (error: JwksFetchError | undefined, value?: { body: Buffer; cacheControl: string | undefined }): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (error) {
          req.destroy();
          reject(error);
        } else resolve(value!);
      };
      // agent: false — a connection of its own, closed after this one response.
      const req = (url.protocol === 'https:' ? https : http).request(url, {
        method: 'GET',
        agent: false,
        headers: { accept: 'application/jwk-set+json, application/json', 'user-agent': 'first-party-auth' },
      });
      const timer = setTimeout(() => finish(new JwksFetchError('timeout', `jwks_uri did not answer within ${fetchTimeoutMs} ms`)), fetchTimeoutMs);
      req.on('error', () => finish(new JwksFetchError('network', 'jwks_uri could not be reached')));
      req.on('response', (res) => {
        res.on('error', () => finish(new JwksFetchError('network', 'jwks_uri connection failed')));
        const status = res.statusCode ?? 0;
        // No redirect is followed: the registered URL is the one trusted.
        if (status >= 300 && status < 400) return finish(new JwksFetchError('redirect', 'jwks_uri answered with a redirect'));
        if (status !== 200) return finish(new JwksFetchError('http_status', `jwks_uri answered ${status}`));
        const type = String(res.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
        if (!JSON_TYPES.has(type)) return finish(new JwksFetchError('content_type', 'jwks_uri must answer application/json or application/jwk-set+json'));
        const tooLarge = (): void => finish(new JwksFetchError('too_large', `jwks_uri answered more than ${maxBytes} bytes`));
        if (Number(res.headers['content-length'] ?? 0) > maxBytes) return tooLarge();
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxBytes) tooLarge();
          else chunks.push(chunk);
        });
        res.on('end', () => finish(undefined, { body: Buffer.concat(chunks), cacheControl: headerValue(res.headers['cache-control']) }));
        // Closed before 'end': the other side cut the connection mid-body.
        res.on('close', () => finish(new JwksFetchError('network', 'jwks_uri connection was cut')));
      });
      req.end();
    });
  }
}

function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v.join(',') : v;
}

/** RFC 9111 §5.2.2: `max-age`; `no-store` and `no-cache` mean "as short as allowed". */
export function maxAge(cacheControl: string | undefined): number | undefined {
  if (!cacheControl) return undefined;
  const directives = cacheControl.toLowerCase().split(',').map((d) => d.trim());
  if (directives.some((d) => d === 'no-store' || d === 'no-cache')) return 0;
  for (const d of directives) {
    const m = /^max-age\s*=\s*"?(\d{1,10})"?$/.exec(d);
    if (m) return Number(m[1]);
  }
  return undefined;
}
