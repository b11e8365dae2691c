import { Inject, Injectable } from '@nestjs/common';
import type { JsonObject } from '@fpa/challenge-kit';
import { decryptSecret, sha256B64u } from '@fpa/crypto';
import type { ExternalAuthentication, Turn } from '@fpa/interaction';
import { CLOCK, OAuthError, type Clock } from '@fpa/oauth-core';
import { AuditService } from '@fpa/platform';
import { DownstreamClient, DownstreamRefusal } from '../downstream/downstream-client';
import { DownstreamMetadataCache } from '../downstream/downstream-metadata.service';
import { DownstreamRegistry } from '../downstream/downstream-registry';
import { FederationMetrics } from '../federation.metrics';
import { creditedAuthentication, downstreamIdentity } from '../identity/downstream-identity';
import { IDENTITY_LINKS, type IdentityLinks } from '../identity/identity-linker.service';
import { REDEEM_CLAIM_MS, sealContext, type FederationState } from './federation-state';
import { FederationStarter } from './federation-starter.service';

/** What the completer needs of the loop: write the flow's federation member, record the authentication. */
export interface CompletionContext {
  /** Writes `state` (undefined: the federation is over) at the turn's version (compare-and-set). */
  saveFederation(state: FederationState | undefined): Promise<void>;
  record(auth: ExternalAuthentication): Promise<void>;
}

/**
 * FED-12 [INF]: the downstream's result comes back to `response_uri`. A code is accepted once and
 * only for the federation this session started: claimed in the flow (compare-and-set) before it is
 * redeemed at the downstream's token endpoint with our client authentication, our DPoP key and the
 * sealed PKCE verifier — a code of another federation fails there (PKCE, client). Until a code was
 * redeemed, every failure leaves the federation as it was (resumable); once redeemed, it is over.
 */
@Injectable()
export class FederationCompleter {
  constructor(
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(IDENTITY_LINKS) private readonly links: IdentityLinks,
    private readonly registry: DownstreamRegistry,
    private readonly metadata: DownstreamMetadataCache,
    private readonly client: DownstreamClient,
    private readonly starter: FederationStarter,
    private readonly metrics: FederationMetrics,
    private readonly audit: AuditService,
  ) {}

  async complete(turn: Turn, f: FederationState, payload: JsonObject, ctx: CompletionContext): Promise<void> {
    const authSession = turn.caller.session.authSession;
    const fail = (reason: string, step: string): void => {
      this.metrics.federations.inc({ downstream: f.issuer, outcome: `failed:${reason}` });
      this.audit.record({ type: 'federation.failed', outcome: 'failure', clientId: turn.caller.client.id, authSession, ip: turn.request.ip, requestId: turn.request.requestId, details: { downstream: f.issuer, step, reason } });
    };
    if (this.clock.nowMs() >= f.expiresAt) {
      await ctx.saveFederation(undefined);
      fail('expired', 'callback');
      throw new OAuthError('invalid_request', 'the federation expired; start again');
    }
    const downstreamError = payload.error;
    const code = payload.authorization_code;
    if (downstreamError !== undefined) {
      // FED-13: the client forwards what the downstream answered; its error ends this federation.
      const error = typeof downstreamError === 'string' && /^[a-z_]{1,64}$/.test(downstreamError) ? downstreamError : 'invalid_response';
      await ctx.saveFederation(undefined);
      fail(`downstream_${known(error)}`, 'callback');
      throw new OAuthError('access_denied', `the downstream server answered ${error}`, { extra: { downstream_error: error } });
    }
    if (typeof code !== 'string' || code.length === 0 || code.length > 2048) throw new OAuthError('invalid_request', 'authorization_code (the downstream server’s code) is required');
    const d = this.registry.find(f.issuer);
    if (!d) throw new OAuthError('access_denied', 'the downstream server of this federation is no longer configured');
    if (f.redeeming !== undefined && this.clock.nowMs() - (f.redeemingSince ?? 0) < REDEEM_CLAIM_MS) {
      throw new OAuthError('invalid_request', 'a code of this federation is being redeemed; retry', { headers: { 'Retry-After': '1' } });
    }
    // One redemption at a time: the claim is a compare-and-set on the flow.
    const { redeeming: _r, redeemingSince: _s, ...open } = f;
    await ctx.saveFederation({ ...open, redeeming: sha256B64u(code), redeemingSince: this.clock.nowMs() });
    const started = this.clock.nowMs();
    let tokens;
    try {
      const meta = await this.metadata.metadataOf(d);
      const verifier = await decryptSecret(f.sealedVerifier, sealContext(authSession, f.id), this.starter.kek());
      tokens = await this.client.redeem(d, meta, code, verifier);
    } catch (e) {
      // Not redeemed (or refused): the federation is as it was, the same or the right code may come again.
      await ctx.saveFederation(open);
      if (e instanceof DownstreamRefusal) {
        fail(`token_${known(e.error)}`, 'token');
        throw new OAuthError(e.error === 'invalid_grant' ? 'invalid_grant' : 'access_denied', `the downstream server refused the code (${e.error})`);
      }
      fail(e instanceof OAuthError ? e.code : 'error', 'token');
      throw e;
    } finally {
      this.metrics.downstreamSeconds.observe({ downstream: d.issuer, step: 'token' }, (this.clock.nowMs() - started) / 1000);
    }
    // Redeemed: whatever happens next, this federation is over (its code is spent).
    await ctx.saveFederation(undefined);
    try {
      const identity = await downstreamIdentity(d, tokens, f.openid, this.metadata, this.clock);
      const linked = await this.links.link(d.issuer, identity.subject, new Date(this.clock.nowMs()));
      if (linked.created) this.audit.record({ type: 'federation.identity_linked', clientId: turn.caller.client.id, authSession, subject: linked.userId, details: { downstream: d.issuer } });
      const credit = creditedAuthentication(d, identity);
      await ctx.record({
        userId: linked.userId,
        method: 'federation',
        amr: credit.amr,
        factors: credit.factors,
        phishingResistant: credit.phishingResistant,
        verifiedValue: `${d.issuer}#${identity.subject}`,
        audit: { downstream: d.issuer, ...(identity.acr ? { downstream_acr: identity.acr } : {}) },
      });
      this.metrics.federations.inc({ downstream: d.issuer, outcome: 'completed' });
      this.audit.record({ type: 'federation.completed', clientId: turn.caller.client.id, authSession, subject: linked.userId, ip: turn.request.ip, requestId: turn.request.requestId, details: { downstream: d.issuer, from: identity.from } });
    } catch (e) {
      fail(e instanceof OAuthError ? e.code : 'error', 'identity');
      throw e;
    }
  }
}

/** A downstream's error code as a metric label: the RFC 6749 / FiPA codes, anything else `other` (bounded cardinality). */
const KNOWN = new Set(['invalid_request', 'invalid_client', 'invalid_grant', 'unauthorized_client', 'unsupported_grant_type', 'invalid_scope', 'access_denied', 'invalid_dpop_proof', 'use_dpop_nonce', 'server_error', 'temporarily_unavailable', 'invalid_response']);
function known(error: string): string {
  return KNOWN.has(error) ? error : 'other';
}
