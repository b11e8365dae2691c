import { Inject, Injectable } from '@nestjs/common';
import { TokenMetrics } from './token.metrics';
import { DpopService, type ValidatedDpopProof } from '@fpa/dpop';
import { OAuthError, pickParams, type Form, type RequestInfo } from '@fpa/oauth-core';
import { AuditService } from '@fpa/platform';
import { EPHEMERAL_STORE, type EphemeralStore } from '@fpa/store';
import { CLIENT_AUTH_PARAMS, ClientAuthenticator, type AuthenticatedClient } from './client-authenticator.service';
import { GRANT_REGISTRY, type GrantHandler, type GrantRegistry } from './grant-handler';
import type { AuditTrail } from './ports';

export interface TokenEndpointResult {
  readonly body: Record<string, unknown>;
  readonly headers: Record<string, string>;
}

/**
 * The token endpoint pipeline: grant lookup (one map lookup on `grant_type`) → only the declared
 * parameters → DPoP proof and client authentication verified concurrently, the proof's failures
 * (the nonce challenge above all) reported first so a nonce retry costs the client nothing → one
 * round trip that claims every single-use value of the request (assertion jti, proof jti, inside
 * `ClientAuthenticator.authenticate`) → the client's permission for this grant → the grant.
 */
@Injectable()
export class TokenEndpointService {
  constructor(
    @Inject(GRANT_REGISTRY) private readonly grants: GrantRegistry,
    @Inject(EPHEMERAL_STORE) private readonly store: EphemeralStore,
    private readonly dpop: DpopService,
    private readonly authenticator: ClientAuthenticator,
    private readonly metrics: TokenMetrics,
    @Inject(AuditService) private readonly audit: AuditTrail,
  ) {}

  async handle(form: Form, request: RequestInfo): Promise<TokenEndpointResult> {
    const grantType = form.grant_type;
    if (!grantType) throw new OAuthError('invalid_request', 'missing parameter grant_type');
    const grant = this.grants.get(grantType);
    if (!grant) throw new OAuthError('unsupported_grant_type', 'unsupported grant_type');
    try {
      return await this.run(grant, form, request);
    } catch (e) {
      if (e instanceof OAuthError) this.metrics.tokenErrors.inc({ grant: grantType, error: e.code });
      throw e;
    }
  }

  private async run(grant: GrantHandler, form: Form, request: RequestInfo): Promise<TokenEndpointResult> {
    const grantType = grant.grantType;
    // Undeclared fields never reach a grant (node-oidc-provider's allow-list, STYLE.md).
    const declared = grant.clientAuth === 'required' ? [...grant.parameters, ...CLIENT_AUTH_PARAMS] : grant.parameters;
    const params = pickParams(form, declared);

    const proofCheck = grant.dpop === 'supported' ? this.dpop.validate(request, '/token') : Promise.resolve(undefined);
    let client: AuthenticatedClient | undefined;
    if (grant.clientAuth === 'required') {
      client = await this.authenticator.authenticate(params, request, '/token', {
        companion: proofCheck.then((p) => (p ? this.dpop.replayCompanion(p) : undefined)),
      });
    }
    // Settled by now when a client authenticated (its companion); otherwise awaited here.
    const proof = await proofCheck;
    if (client) this.checkClient(client, grantType, proof);
    else if (proof) {
      const refusal = this.dpop.claimRefusal((await this.store.claimEachOnce([proof.replayClaim]))[0]);
      if (refusal) throw refusal;
    }

    const result = await grant.handle({ form: params, client, dpop: proof, request });
    const headers: Record<string, string> = {};
    if (proof) headers['DPoP-Nonce'] = this.dpop.currentNonce();
    if (result.issued && client) {
      this.metrics.tokensIssued.inc({ grant: grantType, token_type: result.issued.tokenType });
      this.audit.record({
        type: grantType === 'refresh_token' ? 'token.refreshed' : 'token.issued',
        clientId: client.client.id,
        authSession: typeof result.body.auth_session === 'string' ? result.body.auth_session : undefined,
        ip: request.ip,
        requestId: request.requestId,
        details: { grant: grantType, tokenType: result.issued.tokenType, jkt: proof?.jkt, method: client.method },
      });
    }
    return { body: result.body, headers };
  }

  /** What the authenticated client may do at this endpoint, whatever the grant. */
  private checkClient(client: AuthenticatedClient, grantType: string, proof: ValidatedDpopProof | undefined): void {
    // RFC 6749 §5.2: a client uses only the grant types it is registered for.
    if (!client.client.grantTypes.includes(grantType)) {
      throw new OAuthError('unauthorized_client', `this client may not use ${grantType}`);
    }
    // DPOP-19: clients registered for DPoP-bound tokens must send a proof.
    if (client.client.dpopBoundAccessTokens && !proof) {
      throw this.dpop.refuse('missing', 'a DPoP proof is required for this client');
    }
    // Seed 000 (C): "DPoP does not use the same private, public key pair" as the device.
    if (proof && client.deviceSession && proof.jkt === client.deviceSession.keyJkt) {
      throw this.dpop.refuse('device_key', 'the DPoP key must not be the device key');
    }
  }
}
