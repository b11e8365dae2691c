import { Inject, Injectable } from '@nestjs/common';
import type { Client } from '@fpa/clients';
import { APP_CONFIG, entityIdProblem, type AppConfig } from '@fpa/config';
import { OAuthError } from '@fpa/oauth-core';
import { MetricsRegistry } from '@fpa/platform';
import { TrustChainResolver, type ResolvedTrustChain } from './chain/trust-chain-resolver';
import { TRANSIENT_FAILURES, TrustChainError } from './chain/trust-chain-error';
import type { NativeCallbackTrustPolicy } from '@fpa/authz-request';

/** Entity types whose `redirect_uris` may list a native callback (OpenID Federation 1.0 §5.1.2, §5.1.4). */
export const CLIENT_ENTITY_TYPES = ['openid_relying_party', 'oauth_client'] as const;

/** Seconds a client is told to wait when a federation entity could not be reached. */
export const FEDERATION_RETRY_AFTER_SECONDS = 30;

/**
 * FED-4 / seed 003 "trust establishment": the URI's origin is taken as an entity id, its
 * `/.well-known/openid-federation` is resolved into a trust chain to a configured trust anchor, and
 * the URI must be listed among the `redirect_uris` of the resolved `openid_relying_party` or
 * `oauth_client` metadata (after the chain's metadata policies).
 *
 * - 'unknown': no trust anchor configured; the URI is not an https URL (a custom scheme is the
 *   allow-list's business); the origin publishes no entity configuration (not a federation entity).
 * - 'trusted': the chain verified and lists the URI exactly.
 * - OAuthError invalid_request: a chain that does not verify (signature, typ, expiry, iss/sub,
 *   unknown anchor, loop, depth, size, metadata policy…) or a URI it does not list.
 * - OAuthError temporarily_unavailable (503 + Retry-After): an entity of the chain could not be
 *   reached, answered 5xx/429, or resolution ran out of time — trying again may succeed, and
 *   refusing would tell the client a verified "no" that nobody gave.
 *
 * The client's own `client_id` is not matched to the entity id: the URI is what the other app will
 * open, and the chain is what vouches for it.
 */
@Injectable()
export class OpenIdFederationCallbackTrust implements NativeCallbackTrustPolicy {
  readonly name = 'openid_federation';
  private readonly checks;

  constructor(
    private readonly resolver: TrustChainResolver,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    metrics: MetricsRegistry,
  ) {
    this.checks = metrics.counter({
      name: 'fpa_native_callback_federation_checks_total',
      help: 'native_callback_uri trust checks through OpenID Federation by outcome: trusted, unknown, not_listed, or why the chain failed.',
      labelNames: ['outcome'] as const,
    });
  }

  async check(client: Client, uri: string): Promise<'trusted' | 'unknown'> {
    try {
      const answer = await this.decide(client, uri);
      this.checks.inc({ outcome: answer });
      return answer;
    } catch (e) {
      this.checks.inc({ outcome: e instanceof OAuthError && e.reason ? e.reason.replace(/^federation_/, '') : 'error' });
      throw e;
    }
  }

  private async decide(_client: Client, uri: string): Promise<'trusted' | 'unknown'> {
    if (!this.resolver.configured) return 'unknown';
    let url: URL;
    try {
      url = new URL(uri);
    } catch {
      return 'unknown';
    }
    const entityId = url.origin;
    if (entityIdProblem(entityId, this.config.openidFederation.allowHttpLoopback)) return 'unknown';
    let chain: ResolvedTrustChain;
    try {
      chain = await this.resolver.resolve(entityId);
    } catch (e) {
      if (!(e instanceof TrustChainError)) throw e;
      if (e.failure === 'not_a_federation_entity') return 'unknown';
      if (TRANSIENT_FAILURES.has(e.failure)) {
        throw new OAuthError('temporarily_unavailable', `native_callback_uri: the OpenID Federation trust chain of ${entityId} cannot be resolved now: ${e.message}`, {
          headers: { 'Retry-After': String(FEDERATION_RETRY_AFTER_SECONDS) },
          reason: `federation_${e.failure}`,
        });
      }
      throw new OAuthError('invalid_request', `native_callback_uri: no valid OpenID Federation trust chain for ${entityId}: ${e.message}`, { reason: `federation_${e.failure}` });
    }
    if (listsRedirectUri(chain, uri)) return 'trusted';
    throw new OAuthError('invalid_request', `native_callback_uri is not among the redirect_uris of ${entityId} in its OpenID Federation metadata`, { reason: 'federation_not_listed' });
  }
}

/** Exact string match, as for redirect URIs (RFC 6749 §3.1.2.3 with RFC 8252 §8.4's claimed https links). */
export function listsRedirectUri(chain: ResolvedTrustChain, uri: string): boolean {
  return CLIENT_ENTITY_TYPES.some((type) => {
    const uris = chain.metadata[type]?.redirect_uris;
    return Array.isArray(uris) && uris.includes(uri);
  });
}
