import { Inject, Injectable } from '@nestjs/common';
import { randomToken } from '@fpa/crypto';
import { EPHEMERAL_STORE, StoreKeys, type EphemeralStore } from '@fpa/store';
import type { EndpointOutcome } from '../loop/outcome';
import type { Turn } from '../loop/turn';

const REQUEST_URI_TTL_SECONDS = 60;

/**
 * FIPA-21/22: `redirect_to_web`. When the flow had a code_challenge, its request is pushed with
 * PAR semantics (single use, short-lived, bound to the client, the PKCE challenge and the DPoP
 * key) and its `request_uri` returned; without one, the client starts a fresh browser flow.
 */
@Injectable()
export class WebFallback {
  constructor(@Inject(EPHEMERAL_STORE) private readonly store: EphemeralStore) {}

  async redirect(turn: Turn): Promise<Extract<EndpointOutcome, { kind: 'redirect_to_web' }>> {
    const { flow, caller } = turn;
    const authSession = caller.session.authSession;
    if (!flow.request.codeChallenge) return { kind: 'redirect_to_web', authSession };
    const reference = randomToken(32);
    await this.store.setJson(
      StoreKeys.pushedRequest(reference),
      {
        client_id: caller.client.id,
        response_type: 'code',
        scope: flow.request.scopes.join(' '),
        code_challenge: flow.request.codeChallenge,
        code_challenge_method: 'S256',
        acr_values: flow.request.acrValues,
        max_age: flow.request.maxAge,
        login_hint: flow.request.loginHint,
        resource: flow.request.resource,
        dpop_jkt: flow.dpopJkt,
        auth_session: authSession,
      },
      REQUEST_URI_TTL_SECONDS,
    );
    return { kind: 'redirect_to_web', authSession, requestUri: `urn:ietf:params:oauth:request_uri:${reference}`, expiresIn: REQUEST_URI_TTL_SECONDS };
  }
}
