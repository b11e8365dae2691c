import { Inject, Injectable } from '@nestjs/common';
import { TokenMetrics } from './token.metrics';
import { DpopService, type ValidatedDpopProof } from '@fpa/dpop';
import { OAuthError, pickParams, type Form, type RequestInfo } from '@fpa/oauth-core';
import { AuditService } from '@fpa/platform';
import { EPHEMERAL_STORE, type EphemeralStore } from '@fpa/store';
import { CLIENT_AUTH_PARAMS, ClientAuthenticator, type AuthenticatedClient } from './client-authenticator.service';
import { GRANT_REGISTRY, type GrantRegistry } from './grant-handler';

export interface TokenEndpointResult {
  readonly body: Record<string, unknown>;
  readonly headers: Record<string, string>;
}

/**
 * The token endpoint pipeline: grant lookup → DPoP proof (nonce first, so a nonce retry costs the
 * client nothing) → client authentication → one round trip that claims every single-use value of
 * the request (assertion jti, proof jti) → the grant. Two racing requests with the same assertion
 * or proof cannot both get past the claim.
 */
@Injectable()
export class TokenEndpointService {
  constructor(
    @Inject(GRANT_REGISTRY) private readonly grants: GrantRegistry,
    @Inject(EPHEMERAL_STORE) private readonly store: EphemeralStore,
    private readonly dpop: DpopService,
    private readonly authenticator: ClientAuthenticator,
    private readonly metrics: TokenMetrics,
    private readonly audit: AuditService,
  ) {}

  async handle(form: Form, request: RequestInfo): Promise<TokenEndpointResult> {
    const grantType = form.grant_type;
    if (!grantType) throw new OAuthError('invalid_request', 'missing parameter grant_type');
    const grant = this.grants.get(grantType);
    if (!grant) throw new OAuthError('unsupported_grant_type', 'unsupported grant_type');
    try {
      return await this.run(grantType, form, request);
    } catch (e) {
      if (e instanceof OAuthError) this.metrics.tokenErrors.inc({ grant: grantType, error: e.code });
      throw e;
    }
  }

  private async run(grantType: string, form: Form, request: RequestInfo): Promise<TokenEndpointResult> {
    const grant = this.grants.get(grantType)!;
    const declared = grant.clientAuth === 'required' ? [...grant.parameters, ...CLIENT_AUTH_PARAMS] : grant.parameters;
    const params = pickParams(form, declared);

    // The proof and the client assertion are verified concurrently (each is a signature check plus,
    // for the assertion, one session lookup); a DPoP failure — the nonce challenge above all — is
    // reported first, so the answer does not depend on which finished first.
    const [proofResult, clientResult] = await Promise.allSettled([
      grant.dpop === 'supported' ? this.dpop.validate(request, '/token') : Promise.resolve(undefined),
      grant.clientAuth === 'required' ? this.authenticator.authenticate(params, request, '/token') : Promise.resolve(undefined),
    ]);
    if (proofResult.status === 'rejected') throw proofResult.reason;
    if (clientResult.status === 'rejected') throw clientResult.reason;
    const proof = proofResult.value;
    const client: AuthenticatedClient | undefined = clientResult.value;
    if (client) {
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
      await this.claimOnce(client, proof);
    } else if (proof) {
      await this.claimOnce(undefined, proof);
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

  private async claimOnce(client: AuthenticatedClient | undefined, proof: ValidatedDpopProof | undefined): Promise<void> {
    const claims = [...(client?.replayClaims ?? []), ...(proof ? [proof.replayClaim] : [])];
    if (claims.length === 0) return;
    const results = await this.store.claimEachOnce(claims);
    const assertionCount = client?.replayClaims.length ?? 0;
    if (results.slice(0, assertionCount).some((ok) => !ok)) {
      throw this.authenticator.fail(client!.method, 'replay', 'client_assertion jti was already used');
    }
    if (proof && !results[results.length - 1]) throw this.dpop.refuse('replay', 'DPoP proof jti was already used');
  }
}
