import { Inject, Injectable } from '@nestjs/common';
import { ClientRegistry, type Client } from '@fpa/clients';
import { APP_CONFIG, type AppConfig } from '@fpa/config';
import { DpopService } from '@fpa/dpop';
import { CLOCK, OAuthError, type Clock, type RequestInfo } from '@fpa/oauth-core';
import { DeviceSessionRepository, isUsable } from '@fpa/session';
import { CHALLENGE_PATH, stringParam, type ChallengeInput } from '../http/challenge-request';
import type { Caller, CallerBinding } from './caller';
import { newBoundSession } from './new-session';
import { RequestSessions } from './request-sessions';

/**
 * FED-11: the end user's app at a downstream server. A federating server (a confidential client
 * here, private_key_jwt) pushed the request (PAR, already authenticated) and told the app to post
 * `client_id=<its client id>&request_uri=<urn>` here: the request_uri stands in for the client's
 * authentication. The app proves its OWN DPoP key; the new session (kind `federated`) is bound to
 * it for every follow-up (FIPA-26), while the code stays bound to the pushed request's `dpop_jkt`
 * and PKCE challenge (RFC 9449 §10) — FlowStarter consumes the request_uri, once, for this client.
 * Such callers are not first-party (FED-16): the loop serves them only what their client's policy
 * lists.
 */
@Injectable()
export class FederatingClientBinding implements CallerBinding {
  readonly name = 'federating_client';

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly clients: ClientRegistry,
    private readonly sessions: DeviceSessionRepository,
    private readonly requestSessions: RequestSessions,
    private readonly dpop: DpopService,
  ) {}

  /** No Authorization header, and either a follow-up of a `federated` session or a confidential client's request_uri. */
  async applies(request: RequestInfo, input: ChallengeInput): Promise<boolean> {
    if (request.headers.authorization !== undefined) return false;
    const authSession = typeof input.auth_session === 'string' && input.auth_session.length <= 128 ? input.auth_session : undefined;
    if (authSession !== undefined) return (await this.requestSessions.find(input, authSession))?.kind === 'federated';
    if (input.request_uri === undefined || typeof input.client_id !== 'string' || input.client_id.length > 128) return false;
    return (await this.clients.find(input.client_id))?.type === 'confidential';
  }

  async bind(input: ChallengeInput, request: RequestInfo): Promise<Caller> {
    const nowMs = this.clock.nowMs();
    const proof = await this.dpop.validate(request, CHALLENGE_PATH);
    const authSession = stringParam(input, 'auth_session', 128);
    const known = authSession === undefined ? undefined : await this.requestSessions.find(input, authSession);
    if (known) {
      if (!proof) throw new OAuthError('invalid_session', 'this auth_session is bound to a DPoP key: send a DPoP proof with every request');
      // FIPA-19, FIPA-26: expired, revoked, or presented with another key → invalid_session.
      if (!isUsable(known, nowMs) || known.keyJkt !== proof.jkt) throw new OAuthError('invalid_session', 'auth_session is unknown, expired, or bound to another key');
      const client = await this.federatingClient(known.clientId, stringParam(input, 'client_id', 128));
      return { client, session: known, mode: 'federated', jkt: proof.jkt, created: false, claims: [this.dpop.replayCompanion(proof)] };
    }
    // FIPA-33: the session (not the code) is bound to the app's key; without a proof there is nothing to bind to.
    if (!proof) throw this.dpop.refuse('missing', 'a DPoP proof is required at the authorization challenge endpoint');
    const client = await this.federatingClient(String(input.client_id), undefined);
    // FED-11: only a pushed request: its client authenticated at PAR; nothing else is taken from the app.
    if (Object.keys(input).some((k) => k !== 'client_id' && k !== 'request_uri')) {
      throw new OAuthError('invalid_request', 'a federated request carries only client_id and request_uri: its parameters were pushed by the client');
    }
    const { session, pending } = newBoundSession('federated', client.id, proof, nowMs, this.config, this.sessions, request.ip);
    return { client, session, mode: 'federated', jkt: proof.jkt, created: true, pending, claims: [this.dpop.replayCompanion(proof)] };
  }

  /** A confidential client that may use the code flow; a client_id sent on a follow-up must match. */
  private async federatingClient(clientId: string, claimed: string | undefined): Promise<Client> {
    if (claimed !== undefined && claimed !== clientId) throw new OAuthError('invalid_request', 'client_id does not match the session');
    const client = await this.clients.find(clientId);
    if (!client) throw new OAuthError('invalid_client', 'unknown or disabled client');
    if (client.type !== 'confidential' || !client.grantTypes.includes('authorization_code')) {
      throw new OAuthError('unauthorized_client', 'this client may not obtain authorization codes here');
    }
    return client;
  }
}
