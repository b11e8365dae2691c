import { Inject, Injectable } from '@nestjs/common';
import { AuthorizationDetailsRegistry, NativeCallbackTrust, parseAuthorizationRequest, PushedRequests } from '@fpa/authz-request';
import { APP_CONFIG, type AppConfig } from '@fpa/config';
import { DpopService, type ValidatedDpopProof } from '@fpa/dpop';
import { ClientAuthenticator } from '@fpa/grants';
import { OAuthError, type Form, type RequestInfo } from '@fpa/oauth-core';
import { ParMetrics } from './par.metrics';

export const PAR_PATH = '/par';

export interface PushResult {
  /** RFC 9126 §2.2 (PAR-6): `request_uri` and `expires_in`, answered with 201. */
  readonly body: { readonly request_uri: string; readonly expires_in: number };
  readonly headers: Record<string, string>;
}

/** What the service needs of its collaborators (unit specs hand in fakes of these shapes). */
export type PushAuthenticator = Pick<ClientAuthenticator, 'authenticate'>;
export type PushDpop = Pick<DpopService, 'validate' | 'replayCompanion' | 'currentNonce'>;
export type PushStore = Pick<PushedRequests, 'push'>;
export type PushTrust = Pick<NativeCallbackTrust, 'assertTrusted'>;

/**
 * The pushed authorization request endpoint (RFC 9126, PAR-1…10): the client authenticates exactly
 * as at `/token` (PAR-3), every authorization parameter is validated for it as the browser endpoint
 * would (PAR-5, the shared AuthorizationRequest), and the validated request is stored behind an
 * unguessable, client-bound, single-use `request_uri` (PAR-7). A DPoP proof binds the future code
 * to its key (RFC 9449 §10.1, DPOP-31). A refused request stores nothing.
 */
@Injectable()
export class PushedAuthorizationService {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(ClientAuthenticator) private readonly authenticator: PushAuthenticator,
    @Inject(DpopService) private readonly dpop: PushDpop,
    private readonly details: AuthorizationDetailsRegistry,
    @Inject(PushedRequests) private readonly pushed: PushStore,
    private readonly metrics: ParMetrics,
    @Inject(NativeCallbackTrust) private readonly trust: PushTrust,
  ) {}

  async push(form: Form, request: RequestInfo): Promise<PushResult> {
    try {
      const result = await this.run(form, request);
      this.metrics.requests.inc({ outcome: 'pushed' });
      return result;
    } catch (e) {
      if (e instanceof OAuthError) this.metrics.requests.inc({ outcome: e.code });
      throw e;
    }
  }

  private async run(form: Form, request: RequestInfo): Promise<PushResult> {
    // Refused before any credential is looked at: whoever sends them, these requests cannot succeed,
    // so they spend no client assertion and no DPoP proof.
    // PAR-2 (RFC 9126 §2.1): a pushed request never names another.
    if (form.request_uri !== undefined) throw new OAuthError('invalid_request', 'request_uri must not be sent to the pushed authorization request endpoint');
    // RFC 9126 §3 allows JAR; this server takes plain parameters only.
    if (form.request !== undefined) throw new OAuthError('request_not_supported', 'request objects (JAR, RFC 9101) are not supported: push the parameters themselves');
    // PAR-3 / RFC 6749 §4.1.1: client_id is an authorization parameter, whatever authenticates the client.
    if (form.client_id === undefined) throw new OAuthError('invalid_request', 'client_id is required');

    const proofCheck = this.dpop.validate(request, PAR_PATH);
    // PAR-3: the token endpoint's authentication, its nonce challenge first; the proof's jti is
    // claimed with the client's assertion in one round trip (ClientAuthenticator's companion).
    const client = await this.authenticator.authenticate(form, request, PAR_PATH, {
      companion: proofCheck.then((proof) => {
        if (!proof) return undefined;
        // DPOP-31 (RFC 9449 §10.1): both ways at once must agree. Refused before anything is claimed.
        if (form.dpop_jkt !== undefined && form.dpop_jkt !== proof.jkt) throw new OAuthError('invalid_request', 'dpop_jkt does not match the key of the DPoP proof');
        return this.dpop.replayCompanion(proof);
      }),
    });
    const proof: ValidatedDpopProof | undefined = await proofCheck;
    // PAR-5: only a request the client could make at the authorization endpoint.
    if (!client.client.grantTypes.includes('authorization_code')) throw new OAuthError('unauthorized_client', 'this client may not use the authorization code flow');
    const parsed = parseAuthorizationRequest(client.client, form, { channel: 'par', defaultAudience: this.config.tokens.defaultAudience, details: this.details });
    // FED-3/FED-4: a federating server forwards its app's native_callback_uri here; trusted before the request is stored.
    if (parsed.nativeCallbackUri !== undefined) await this.trust.assertTrusted(client.client, parsed.nativeCallbackUri);
    // RFC 9449 §10.1: a proof at PAR binds the code as if its thumbprint had been sent as dpop_jkt.
    const authRequest = proof ? { ...parsed, dpopJkt: proof.jkt } : parsed;
    // PAR-6/PAR-7: a 256-bit reference, bound to this client, single use, TTL ≤ 600 s (config).
    const { requestUri, expiresIn } = await this.pushed.push({ request: authRequest }, this.config.authorization.parRequestUriTtlSeconds);
    return { body: { request_uri: requestUri, expires_in: expiresIn }, headers: proof ? { 'DPoP-Nonce': this.dpop.currentNonce() } : {} };
  }
}
