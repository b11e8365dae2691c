import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@fpa/config';
import { encryptSecret, randomToken, s256CodeChallenge } from '@fpa/crypto';
import type { EndpointOutcome, Turn } from '@fpa/interaction';
import { CLOCK, OAuthError, type Clock } from '@fpa/oauth-core';
import { AuditService } from '@fpa/platform';
import { DownstreamClient, DownstreamRefusal } from '../downstream/downstream-client';
import { DownstreamMetadataCache } from '../downstream/downstream-metadata.service';
import { DownstreamRegistry } from '../downstream/downstream-registry';
import { FederationMetrics } from '../federation.metrics';
import { sealContext, type FederationState } from './federation-state';

export const FEDERATION_CALLBACK_PATH = '/federation/callback';

/**
 * Starting a federation (FED-5, FED-9, FED-10, FED-11): the downstream's metadata must advertise a
 * native endpoint (`authorization_challenge_endpoint` or `native_authorization_endpoint`), else
 * `native_authorization_federate_unsupported` and no PAR is sent; then an authenticated PAR as our
 * client there, with a PKCE verifier that stays here (sealed in the flow) and our DPoP key's
 * `dpop_jkt`, forwarding the app's `native_callback_uri` (FED-3).
 */
@Injectable()
export class FederationStarter {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly registry: DownstreamRegistry,
    private readonly metadata: DownstreamMetadataCache,
    private readonly client: DownstreamClient,
    private readonly metrics: FederationMetrics,
    private readonly audit: AuditService,
  ) {}

  async start(turn: Turn, issuer: string, answers: Readonly<Record<string, string>> = {}): Promise<{ state: FederationState; outcome: Extract<EndpointOutcome, { kind: 'federate' }> }> {
    const authSession = turn.caller.session.authSession;
    const d = this.registry.find(issuer);
    if (!d) throw new OAuthError('access_denied', 'the server this request is routed to is not configured', { reason: 'downstream_not_configured' });
    const started = this.clock.nowMs();
    try {
      const meta = await this.metadata.metadataOf(d);
      // FED-9: checked before anything is pushed.
      if (!meta.nativeEndpoint) throw new OAuthError('native_authorization_federate_unsupported', `${d.issuer} offers no native authorization endpoint`);
      const verifier = randomToken(32);
      const request = turn.flow.request;
      const scope = d.scope ?? (request.scopes.length > 0 ? request.scopes.join(' ') : undefined);
      // FED-3: the app's callback travels on. The address the user gave for routing (FED-6) is the
      // downstream's login_hint: it spares its method_required round trip (the benchmark's finding).
      const loginHint = answers.email ?? answers.phone;
      const pushed = await this.client.push(d, meta, { codeChallenge: s256CodeChallenge(verifier), scope, acrValues: d.acrValues, nativeCallbackUri: request.nativeCallbackUri, loginHint }).catch((e: unknown) => {
        if (e instanceof DownstreamRefusal) throw new OAuthError('access_denied', `${d.issuer} refused the pushed authorization request (${e.error})`, { reason: 'par_refused' });
        throw e;
      });
      const id = randomToken(16);
      const state: FederationState = {
        id,
        issuer: d.issuer,
        federationUri: meta.nativeEndpoint,
        // FED-10: `client_id=<ours there>&request_uri=<its PAR request_uri>`.
        federationBody: new URLSearchParams({ client_id: d.clientId, request_uri: pushed.requestUri }).toString(),
        sealedVerifier: await encryptSecret(verifier, sealContext(authSession, id), this.kek()),
        expiresAt: this.clock.nowMs() + pushed.expiresIn * 1000,
        openid: (scope ?? '').split(' ').includes('openid'),
      };
      this.metrics.federations.inc({ downstream: d.issuer, outcome: 'started' });
      this.audit.record({ type: 'federation.started', clientId: turn.caller.client.id, authSession, ip: turn.request.ip, requestId: turn.request.requestId, details: { downstream: d.issuer } });
      return {
        state,
        outcome: { kind: 'federate', authSession, federationUri: state.federationUri, federationBody: state.federationBody, responseUri: this.responseUri() },
      };
    } catch (e) {
      const outcome = e instanceof OAuthError ? (e.code === 'native_authorization_federate_unsupported' ? 'unsupported' : `failed:${e.code}`) : 'failed:error';
      this.metrics.federations.inc({ downstream: d.issuer, outcome });
      this.audit.record({ type: 'federation.failed', outcome: 'failure', clientId: turn.caller.client.id, authSession, ip: turn.request.ip, requestId: turn.request.requestId, details: { downstream: d.issuer, step: 'start', reason: e instanceof OAuthError ? (e.reason ?? e.code) : 'error' } });
      throw e;
    } finally {
      this.metrics.downstreamSeconds.observe({ downstream: d.issuer, step: 'start' }, (this.clock.nowMs() - started) / 1000);
    }
  }

  /** FED-10: where the client posts the downstream's result. */
  responseUri(): string {
    return `${this.config.http.issuer}${FEDERATION_CALLBACK_PATH}`;
  }

  kek(): Uint8Array {
    const kek = this.config.keys.encryptionKey;
    if (!kek) throw new Error('KEY_ENCRYPTION_KEY is required to federate');
    return kek;
  }
}
