import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@fpa/config';
import { ClientRegistry } from '@fpa/clients';
import { CryptoInputError, parseDevicePublicKey, randomToken } from '@fpa/crypto';
import { KeyManager } from '@fpa/keys';
import { CLOCK, OAuthError, type Clock, type Form, type RequestInfo } from '@fpa/oauth-core';
import { AuditService } from '@fpa/platform';
import { RegistrationMetrics } from './registration.metrics';
import { DeviceSessionRepository } from '@fpa/session';
import { EPHEMERAL_STORE, enforceRateLimit, ipRateLimitSubject, type EphemeralStore } from '@fpa/store';

/** Parameters of a device registration request (CONTRACT §3; seed 004 "Device Registration Request"). */
export const REGISTRATION_PARAMS = ['client_id', 'public_key', 'alg', 'state', 'nonce'] as const;

export interface RegistrationResponse {
  readonly fp_token: string;
  readonly token_type: 'fp+jwt';
  readonly auth_session: string;
  readonly state?: string;
  readonly expires_in: number;
}

const MAX_ECHO = 512;

/**
 * Device registration (seed 000 (A)/(B), seed 004): binds a fresh `auth_session` to the device
 * key's thumbprint and answers with a signed `fp+jwt`. Served at `/register` and as the
 * `fp_register` grant at `/token`. Every refusal happens before anything is stored.
 */
@Injectable()
export class DeviceRegistrationService {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(EPHEMERAL_STORE) private readonly store: EphemeralStore,
    private readonly clients: ClientRegistry,
    private readonly sessions: DeviceSessionRepository,
    private readonly keys: KeyManager,
    private readonly audit: AuditService,
    private readonly metrics: RegistrationMetrics,
  ) {}

  async register(form: Form, request: RequestInfo): Promise<RegistrationResponse> {
    try {
      return await this.doRegister(form, request);
    } catch (e) {
      if (e instanceof OAuthError) this.metrics.registrations.inc({ outcome: e.reason ?? e.code });
      throw e;
    }
  }

  private async doRegister(form: Form, request: RequestInfo): Promise<RegistrationResponse> {
    const { rateLimit, rateWindowSeconds } = this.config.registration;
    await enforceRateLimit(this.store, 'register', ipRateLimitSubject(request.ip), rateLimit, rateWindowSeconds);

    const clientId = form.client_id;
    if (!clientId) throw new OAuthError('invalid_request', 'missing parameter client_id', { reason: 'missing_client_id' });
    const client = await this.clients.find(clientId);
    if (!client) throw new OAuthError('invalid_client', 'unknown or disabled client', { reason: 'unknown_client' });
    // FIPA-1: device registration belongs to first-party public apps.
    if (!client.firstParty || !client.grantTypes.includes('fp_register')) {
      throw new OAuthError('unauthorized_client', 'this client may not register devices', { reason: 'not_allowed' });
    }
    if (client.type !== 'public') {
      throw new OAuthError('unauthorized_client', 'device registration is for public first-party clients', { reason: 'not_public' });
    }
    const publicKeyInput = form.public_key;
    if (!publicKeyInput) throw new OAuthError('invalid_request', 'missing parameter public_key', { reason: 'missing_key' });
    for (const name of ['state', 'nonce'] as const) {
      const v = form[name];
      // eslint-disable-next-line no-control-regex -- refusing control characters is the point
      if (v !== undefined && (v.length > MAX_ECHO || /[\x00-\x1f]/.test(v))) {
        throw new OAuthError('invalid_request', `${name} is too long or contains control characters`, { reason: `bad_${name}` });
      }
    }

    let key;
    try {
      key = await parseDevicePublicKey(publicKeyInput, form.alg);
    } catch (e) {
      if (e instanceof CryptoInputError) throw new OAuthError('invalid_request', e.message, { reason: e.reason });
      throw e;
    }

    const nowMs = this.clock.nowMs();
    const now = Math.floor(nowMs / 1000);
    // FIPA-24: 256 bits from the CSPRNG.
    const authSession = randomToken(32);
    await this.sessions.create({
      authSession,
      clientId: client.id,
      keyJkt: key.jkt,
      publicJwk: key.jwk,
      keyAlg: key.alg,
      createdAt: new Date(nowMs),
      expiresAt: new Date(nowMs + this.config.tokens.deviceSessionTtl * 1000),
      absoluteExpiresAt: new Date(nowMs + this.config.sessions.maxLifetimeSeconds * 1000),
      registeredIp: request.ip,
    });

    const expiresIn = this.config.tokens.fpTokenTtl;
    const claims: Record<string, unknown> = {
      iss: this.config.http.issuer,
      aud: client.id,
      iat: now,
      nbf: now,
      exp: now + expiresIn,
      auth_session: authSession,
      cnf: { jkt: key.jkt },
    };
    if (form.nonce !== undefined) claims.nonce = form.nonce;
    const { token } = await this.keys.sign(claims, 'fp+jwt');

    this.metrics.registrations.inc({ outcome: 'success' });
    this.audit.record({
      type: 'device.registered',
      clientId: client.id,
      authSession,
      ip: request.ip,
      requestId: request.requestId,
      details: { jkt: key.jkt, alg: key.alg, kty: key.jwk.kty },
    });
    const response: RegistrationResponse = { fp_token: token, token_type: 'fp+jwt', auth_session: authSession, expires_in: expiresIn };
    return form.state !== undefined ? { ...response, state: form.state } : response;
  }
}
