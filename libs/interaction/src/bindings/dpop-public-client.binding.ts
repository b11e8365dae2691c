import { Inject, Injectable } from '@nestjs/common';
import { ClientRegistry } from '@fpa/clients';
import { APP_CONFIG, type AppConfig } from '@fpa/config';
import { DpopService } from '@fpa/dpop';
import { CLOCK, OAuthError, type Clock, type RequestInfo } from '@fpa/oauth-core';
import { DeviceSessionRepository, isUsable } from '@fpa/session';
import { CHALLENGE_PATH, stringParam, type ChallengeInput } from '../http/challenge-request';
import type { Caller, CallerBinding } from './caller';
import { firstPartyClient } from './first-party';
import { newBoundSession } from './new-session';
import { RequestSessions } from './request-sessions';

/**
 * Way (a): a first-party public client with a DPoP proof (CONTRACT §5). The first request creates
 * an auth_session bound to the proof's key; every follow-up proves the same key (FIPA-26/33).
 */
@Injectable()
export class DpopPublicClientBinding implements CallerBinding {
  readonly name = 'dpop_public_client';

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly clients: ClientRegistry,
    private readonly sessions: DeviceSessionRepository,
    private readonly requestSessions: RequestSessions,
    private readonly dpop: DpopService,
  ) {}

  applies(request: RequestInfo): boolean {
    return request.headers.authorization === undefined;
  }

  async bind(input: ChallengeInput, request: RequestInfo): Promise<Caller> {
    const nowMs = this.clock.nowMs();
    const proof = await this.dpop.validate(request, CHALLENGE_PATH);
    const authSession = stringParam(input, 'auth_session', 128);
    // FIPA-26: a follow-up without a proof for the session's key is refused as invalid_session.
    if (!proof && authSession !== undefined) throw new OAuthError('invalid_session', 'this auth_session is bound to a DPoP key: send a DPoP proof with every request');
    // FIPA-33: DPoP binds the flow and the code; without it there is nothing to bind to.
    if (!proof) throw this.dpop.refuse('missing', 'a DPoP proof is required at the authorization challenge endpoint');
    if (authSession !== undefined) {
      const session = await this.requestSessions.find(input, authSession);
      // FIPA-19, FIPA-26: unknown, expired, revoked, or presented with another key → invalid_session.
      if (!session || !isUsable(session, nowMs) || session.kind !== 'challenge' || session.keyJkt !== proof.jkt) {
        throw new OAuthError('invalid_session', 'auth_session is unknown, expired, or bound to another key');
      }
      const client = await firstPartyClient(this.clients, session.clientId, stringParam(input, 'client_id'));
      // DPOP-14: the loop claims the proof's jti in its first store round trip.
      return { client, session, mode: 'public', jkt: proof.jkt, created: false, claims: [this.dpop.replayCompanion(proof)] };
    }
    const clientId = stringParam(input, 'client_id', 128);
    if (!clientId) throw new OAuthError('invalid_request', 'client_id is required (or auth_session for a follow-up)');
    const client = await firstPartyClient(this.clients, clientId, undefined);
    if (client.type !== 'public') throw new OAuthError('unauthorized_client', 'this way in is for public first-party clients');
    // FIPA-10 (-03/-04): response_type is required and must be code (a pushed request carries its own).
    if (input.request_uri === undefined && stringParam(input, 'response_type') !== 'code') throw new OAuthError('invalid_request', 'response_type must be code');
    const { session, pending } = newBoundSession('challenge', client.id, proof, nowMs, this.config, this.sessions, request.ip);
    return { client, session, mode: 'public', jkt: proof.jkt, created: true, pending, claims: [this.dpop.replayCompanion(proof)] };
  }
}
