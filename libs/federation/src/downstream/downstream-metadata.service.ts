import { OAuthError, type Clock } from '@fpa/oauth-core';
import { OutboundError, type OutboundHttp } from '../http/outbound-http';
import type { Downstream } from './downstream-registry';

/** What the federating side reads of a downstream's RFC 8414 metadata. */
export interface DownstreamMetadata {
  readonly issuer: string;
  /** FED-1/FED-9: `authorization_challenge_endpoint`, or `native_authorization_endpoint` (the Dec 2025 name). */
  readonly nativeEndpoint: string | undefined;
  readonly parEndpoint: string | undefined;
  readonly tokenEndpoint: string | undefined;
  readonly jwksUri: string | undefined;
}

interface Entry<T> {
  readonly at: number;
  readonly value: T;
}

/** RFC 8414 §3.1: the well-known URI goes between the host and the issuer's path. */
export function metadataUrl(issuer: string): string {
  const u = new URL(issuer);
  const path = u.pathname === '/' ? '' : u.pathname.replace(/\/+$/, '');
  return `${u.origin}/.well-known/oauth-authorization-server${path}`;
}

/**
 * Downstream metadata and key sets, fetched through the one outbound client and cached per issuer
 * (one entry per configured downstream at most: bounded), trusted for FEDERATION_METADATA_CACHE_SECONDS,
 * then fetched again — a failed refresh serves the previous copy for one more period. Concurrent
 * misses for one issuer share one fetch.
 */
export class DownstreamMetadataCache {
  private readonly metadata = new Map<string, Entry<DownstreamMetadata>>();
  private readonly jwks = new Map<string, Entry<{ keys: Record<string, unknown>[] }>>();
  private readonly inflight = new Map<string, Promise<unknown>>();

  constructor(
    private readonly http: OutboundHttp,
    private readonly clock: Clock,
    private readonly ttlSeconds: number,
  ) {}

  async metadataOf(d: Downstream): Promise<DownstreamMetadata> {
    return this.cached(this.metadata, `m:${d.issuer}`, d.issuer, async () => {
      let res = await this.http.get(metadataUrl(d.issuer));
      // RFC 8414 §5: an OpenID provider may publish the same document only at its OIDC discovery URL.
      if (res.status === 404) res = await this.http.get(`${d.issuer}/.well-known/openid-configuration`);
      const m = res.json as Record<string, unknown> | undefined;
      if (res.status !== 200 || typeof m !== 'object' || m === null || Array.isArray(m)) throw unavailable(`${d.issuer} has no usable authorization server metadata`);
      // RFC 8414 §3.3: the metadata must name the issuer it was fetched for.
      if (m.issuer !== d.issuer) throw unavailable(`${d.issuer} metadata names another issuer`);
      const endpoint = (name: string): string | undefined => (typeof m[name] === 'string' && (m[name] as string).length <= 2048 ? (m[name] as string) : undefined);
      return {
        issuer: d.issuer,
        nativeEndpoint: endpoint('authorization_challenge_endpoint') ?? endpoint('native_authorization_endpoint'),
        parEndpoint: endpoint('pushed_authorization_request_endpoint'),
        tokenEndpoint: endpoint('token_endpoint'),
        jwksUri: endpoint('jwks_uri'),
      };
    });
  }

  /** The downstream's key set; `refresh` fetches again (an unknown kid) unless fetched in the last 10 s. */
  async jwksOf(d: Downstream, refresh = false): Promise<{ keys: Record<string, unknown>[] }> {
    const jwksUri = (await this.metadataOf(d)).jwksUri;
    if (!jwksUri) throw new OAuthError('access_denied', `${d.issuer} publishes no jwks_uri: its tokens cannot be verified`);
    const entry = this.jwks.get(d.issuer);
    if (refresh && entry && this.clock.nowMs() - entry.at > 10_000) this.jwks.delete(d.issuer);
    return this.cached(this.jwks, `k:${d.issuer}`, d.issuer, async () => {
      const res = await this.http.get(jwksUri);
      const body = res.json as { keys?: unknown } | undefined;
      if (res.status !== 200 || !body || !Array.isArray(body.keys) || body.keys.length > 100) throw unavailable(`${d.issuer} has no usable JWKS`);
      return { keys: body.keys as Record<string, unknown>[] };
    });
  }

  private async cached<T>(map: Map<string, Entry<T>>, flight: string, issuer: string, fetchIt: () => Promise<T>): Promise<T> {
    const now = this.clock.nowMs();
    const entry = map.get(issuer);
    const ttl = this.ttlSeconds * 1000;
    if (entry && now - entry.at < ttl) return entry.value;
    let pending = this.inflight.get(flight) as Promise<T> | undefined;
    if (!pending) {
      pending = (async () => {
        try {
          const value = await fetchIt().catch((e: unknown) => {
            throw e instanceof OutboundError ? unavailable(`${issuer}: ${e.message}`, e) : e;
          });
          map.set(issuer, { at: this.clock.nowMs(), value });
          return value;
        } finally {
          this.inflight.delete(flight);
        }
      })();
      this.inflight.set(flight, pending);
    }
    try {
      return await pending;
    } catch (e) {
      // A refresh that failed: the previous copy serves one more period.
      if (entry && now - entry.at < 2 * ttl) return entry.value;
      throw e;
    }
  }
}

export function unavailable(why: string, cause?: unknown): OAuthError {
  return new OAuthError('temporarily_unavailable', `the downstream server is unavailable; retry later (${why})`, { headers: { 'Retry-After': '5' }, cause, reason: 'downstream_unavailable' });
}
