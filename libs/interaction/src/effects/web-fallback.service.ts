import { Inject, Injectable } from '@nestjs/common';
import { PushedRequests } from '@fpa/authz-request';
import { APP_CONFIG, type AppConfig } from '@fpa/config';
import type { EndpointOutcome } from '../loop/outcome';
import type { Turn } from '../loop/turn';

/**
 * FIPA-21/22: `redirect_to_web`. When the flow had a code_challenge, its request is pushed with
 * PAR semantics (single use, short-lived, bound to the client, the PKCE challenge and the DPoP
 * key) and its `request_uri` returned — the browser endpoint continues it in the same
 * auth_session; without one, the client starts a fresh browser flow.
 */
@Injectable()
export class WebFallback {
  constructor(
    private readonly pushed: PushedRequests,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async redirect(turn: Turn): Promise<Extract<EndpointOutcome, { kind: 'redirect_to_web' }>> {
    const { flow, caller } = turn;
    const authSession = caller.session.authSession;
    if (!flow.request.codeChallenge) return { kind: 'redirect_to_web', authSession };
    // The code the browser login issues is bound to the app's DPoP key, as the native one would have been.
    const { requestUri, expiresIn } = await this.pushed.push({ request: { ...flow.request, dpopJkt: flow.request.dpopJkt ?? flow.dpopJkt }, authSession }, this.config.authorization.parRequestUriTtlSeconds);
    return { kind: 'redirect_to_web', authSession, requestUri, expiresIn };
  }
}
