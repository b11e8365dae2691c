import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@fpa/config';
import { AuthorizationServerMetadata } from '@fpa/grants';
import { CLOCK, type Clock } from '@fpa/oauth-core';
import { ENTITY_STATEMENT_TYP } from '../chain/entity-statement';
import { FederationEntityKeys } from './federation-entity-keys.service';

/** Longest a signed entity configuration is served again (and cached by others) before a fresh one is signed. */
const MAX_REUSE_SECONDS = 300;

/**
 * The suite's entity configuration (OpenID Federation 1.0 §3.1, CONTRACT §1): a self-signed entity
 * statement with `iss` = `sub` = ISSUER, `iat`, `exp` (OPENID_FEDERATION_STATEMENT_TTL_SECONDS),
 * the federation entity keys in `jwks`, `authority_hints` when superiors are configured, and
 * `metadata`: `oauth_authorization_server` is the RFC 8414 document the token service serves (one
 * provider builds both) and `federation_entity` describes the entity. Signed once and reused for at
 * most five minutes (or half its lifetime), so a scrape storm does not sign on every request.
 */
@Injectable()
export class EntityConfigurationService {
  private signed: { jwt: string; iat: number } | undefined;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly keys: FederationEntityKeys,
    private readonly asMetadata: AuthorizationServerMetadata,
  ) {}

  /** Seconds a served configuration may be reused (also its `Cache-Control: max-age`). */
  get reuseSeconds(): number {
    return Math.min(MAX_REUSE_SECONDS, Math.floor(this.config.openidFederation.statementTtlSeconds / 2));
  }

  async current(): Promise<string> {
    const now = this.clock.nowSeconds();
    if (this.signed && now >= this.signed.iat && now < this.signed.iat + this.reuseSeconds) return this.signed.jwt;
    const jwt = await this.keys.sign(this.claims(now), ENTITY_STATEMENT_TYP);
    this.signed = { jwt, iat: now };
    return jwt;
  }

  claims(now: number): Record<string, unknown> {
    const f = this.config.openidFederation;
    const issuer = this.config.http.issuer;
    const federationEntity: Record<string, unknown> = {};
    if (f.organizationName) federationEntity.organization_name = f.organizationName;
    return {
      iss: issuer,
      sub: issuer,
      iat: now,
      exp: now + f.statementTtlSeconds,
      jwks: this.keys.jwks(),
      // §3.1.1: present (and non-empty) only for an entity with superiors; a trust anchor has none.
      ...(f.authorityHints.length > 0 ? { authority_hints: [...f.authorityHints] } : {}),
      metadata: {
        oauth_authorization_server: this.asMetadata.document(),
        federation_entity: federationEntity,
      },
    };
  }
}
