import { Injectable } from '@nestjs/common';
import { MetricsRegistry } from '@fpa/platform';

/** The token service's metrics: issuance, refusals, client authentication, refresh reuse, revocation. */
@Injectable()
export class TokenMetrics {
  readonly tokensIssued;
  readonly tokenErrors;
  readonly clientAuthFailures;
  readonly refreshReuse;
  readonly revocations;
  readonly clientJwksFetches;
  readonly deviceSessionCache;

  constructor(registry: MetricsRegistry) {
    this.tokensIssued = registry.counter({ name: 'fpa_tokens_issued_total', help: 'Access tokens issued, by grant type and token type.', labelNames: ['grant', 'token_type'] as const });
    this.tokenErrors = registry.counter({ name: 'fpa_token_errors_total', help: 'Token endpoint refusals by grant type and OAuth error code.', labelNames: ['grant', 'error'] as const });
    this.clientAuthFailures = registry.counter({
      name: 'fpa_client_auth_failures_total',
      help: 'Failed client authentications (device assertions included) by method and reason.',
      labelNames: ['method', 'reason'] as const,
    });
    this.refreshReuse = registry.counter({ name: 'fpa_refresh_token_reuse_total', help: 'Reuse of a rotated refresh token (the whole family is revoked).' });
    this.revocations = registry.counter({ name: 'fpa_revocations_total', help: 'Tokens revoked, by token kind.', labelNames: ['kind'] as const });
    this.clientJwksFetches = registry.counter({
      name: 'fpa_client_jwks_fetches_total',
      help: "Fetches of private_key_jwt clients' jwks_uri by outcome (ok, a failure reason, or cooldown: a refetch for an unknown kid skipped).",
      labelNames: ['outcome'] as const,
    });
    this.deviceSessionCache = registry.counter({
      name: 'fpa_device_session_cache_total',
      help: 'Device-session lookups of device grants (DEVICE_SESSION_CACHE_SECONDS): hit (a cached copy the claim confirmed), stale (a cached copy re-read: revoked, changed or another store generation), miss (read from PostgreSQL).',
      labelNames: ['outcome'] as const,
    });
  }
}
