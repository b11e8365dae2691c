import { Inject, Injectable } from '@nestjs/common';
import { ClientRegistry } from '@fpa/clients';
import { APP_CONFIG, type AppConfig } from '@fpa/config';
import { DpopService } from '@fpa/dpop';
import { KeyManager } from '@fpa/keys';
import { CLOCK, OAuthError, type Clock, type RequestInfo } from '@fpa/oauth-core';
import { DeviceSessionRepository, isUsable } from '@fpa/session';
import { EPHEMERAL_STORE, StoreKeys, type EphemeralStore } from '@fpa/store';
import { CHALLENGE_PATH, stringParam, type ChallengeInput } from '../http/challenge-request';
import type { Caller, CallerBinding } from './caller';
import { firstPartyClient } from './first-party';

const INVALID_TOKEN = { 'WWW-Authenticate': 'DPoP error="invalid_token"' };

/**
 * Way (b): a registered device with `Authorization: DPoP <device access token>` and a proof with
 * `ath` (seed 000 (E), CONTRACT §5). The user attaches to the device's own session.
 */
@Injectable()
export class DeviceTokenBinding implements CallerBinding {
  readonly name = 'device_token';

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(EPHEMERAL_STORE) private readonly store: EphemeralStore,
    private readonly clients: ClientRegistry,
    private readonly sessions: DeviceSessionRepository,
    private readonly dpop: DpopService,
    private readonly keys: KeyManager,
  ) {}

  applies(request: RequestInfo): boolean {
    const authorization = request.headers.authorization;
    return typeof authorization === 'string' && /^dpop\s/i.test(authorization);
  }

  async bind(input: ChallengeInput, request: RequestInfo): Promise<Caller> {
    const token = String(request.headers.authorization).slice(5).trim();
    const nowMs = this.clock.nowMs();
    let claims: Record<string, unknown>;
    try {
      ({ payload: claims } = await this.keys.verify(token, {
        typ: 'at+jwt',
        issuer: this.config.http.issuer,
        requiredClaims: ['exp', 'jti', 'client_id', 'auth_session'],
        currentDate: new Date(nowMs),
        clockToleranceSeconds: this.config.clockSkewSeconds,
      }));
    } catch {
      throw new OAuthError('invalid_client', 'the access token is invalid or expired', { headers: INVALID_TOKEN });
    }
    const proof = await this.dpop.validate(request, CHALLENGE_PATH, token);
    if (!proof) throw new OAuthError('invalid_session', "the device session is bound to the access token's DPoP key: send a DPoP proof with every request");
    if ((claims.cnf as { jkt?: unknown } | undefined)?.jkt !== proof.jkt) throw this.dpop.refuse('key_mismatch', 'the DPoP proof key does not match the access token');
    const authSession = String(claims.auth_session);
    if (await this.store.anyFlagged([StoreKeys.revokedAccessToken(String(claims.jti)), StoreKeys.revokedSession(authSession)])) {
      throw new OAuthError('invalid_client', 'the access token is revoked', { headers: INVALID_TOKEN });
    }
    const given = stringParam(input, 'auth_session');
    if (given !== undefined && given !== authSession) throw new OAuthError('invalid_session', 'auth_session does not match the access token');
    const client = await firstPartyClient(this.clients, String(claims.client_id), stringParam(input, 'client_id'));
    const session = await this.sessions.find(authSession);
    if (!session || !isUsable(session, nowMs) || session.kind !== 'device' || session.clientId !== client.id) {
      throw new OAuthError('invalid_session', 'the device session is unknown, expired or revoked');
    }
    const refusal = this.dpop.claimRefusal((await this.store.claimEachOnce([proof.replayClaim]))[0]);
    if (refusal) throw refusal;
    return { client, session, mode: 'device', jkt: proof.jkt, created: false };
  }
}
