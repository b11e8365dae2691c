import { Inject, Injectable } from '@nestjs/common';
import { TokenMetrics } from './token.metrics';
import { APP_CONFIG, type AppConfig } from '@fpa/config';
import { ClientRegistry, verifyClientSecret, type Client, type ClientAuthMethod } from '@fpa/clients';
import { CryptoInputError, decodeJwtUnverified, importPublicJwk, JwtVerificationError, verifyJwt, type JWTPayload, type VerificationKey } from '@fpa/crypto';
import { CLOCK, OAuthError, type Clock, type Form, type RequestInfo } from '@fpa/oauth-core';
import { DeviceSessionCache, isUsable, type DeviceSession, type SessionLookup } from '@fpa/session';
import { acceptableSince, EPHEMERAL_STORE, StoreKeys, type ClaimResult, type EphemeralStore, type SingleUseClaim, type WatchedClaims } from '@fpa/store';
import { assertionAudienceAccepted, assertionAudienceOf } from './assertion-audience';
import { BASIC_CHALLENGE, readAuthorizationHeader } from './basic-credentials';
import { ClientKeySets, KeySetUnavailable, type AssertionCheck } from './client-keys/client-key-sets.service';
import type { ClientLookup, SessionSource } from './ports';

export const JWT_BEARER_ASSERTION = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
export const CLIENT_AUTH_PARAMS = ['client_id', 'client_secret', 'client_assertion', 'client_assertion_type'] as const;

export type { SingleUseClaim } from '@fpa/store';

/**
 * Another single-use value of the same request — the DPoP proof — verified alongside the client's
 * credentials and claimed in the same store round trip.
 */
export interface CompanionClaim {
  readonly claim: SingleUseClaim;
  /** The refusal when that value was already used, or predates the store's generation. */
  readonly refuse: (result: Exclude<ClaimResult, 'claimed'>) => OAuthError;
}

export interface AuthenticateOptions {
  /**
   * Settled before anything is claimed; its rejection is reported before any client-authentication
   * failure, so a DPoP nonce challenge never spends the client's assertion.
   */
  readonly companion?: Promise<CompanionClaim | undefined>;
}

export interface AuthenticatedClient {
  readonly client: Client;
  readonly method: ClientAuthMethod;
  /** The device session whose key signed the assertion (seed 000 (C)). */
  readonly deviceSession?: DeviceSession;
}

interface VerifiedClient extends AuthenticatedClient {
  /** JWTCA-7: the assertion's jti, not yet claimed. */
  readonly singleUse?: SingleUseClaim;
  /** How `deviceSession` was found: a cached copy is confirmed (or replaced) by the claim's reply. */
  readonly sessionLookup?: SessionLookup;
}

const ALLOWED_ASSERTION_TYP = new Set(['JWT', 'client-authentication+jwt']);
const DEVICE_KEY_CACHE_MAX = 10_000;

/**
 * Client authentication at every endpoint that authenticates clients — `/token`, `/introspect`,
 * `/revoke` (and `/par` once it lands) — per RFC 6749 §2.3 and RFC 7523, CONTRACT §4.
 * `private_key_jwt` comes two ways, chosen by the assertion itself: one carrying
 * `device_auth_session` is a device's, verified only with the key registered for that session
 * (seed 000 (C)); any other is verified only with the client's own key set (`jwks` / `jwks_uri`,
 * ClientKeySets). A client holding both (a first-party client with devices and a key set) gets
 * exactly that: the claim decides, and one path never falls back to the other.
 * Exactly one method per request; every failure is `invalid_client`, 401, with a `Basic` challenge
 * whenever the request carried an `Authorization` header (RFC 6749 §5.2).
 *
 * `authenticate` verifies *and* spends the request's single-use values: it is the only way to an
 * `AuthenticatedClient`, so no endpoint can accept an assertion without claiming its `jti`
 * (JWTCA-7; the same store key at every endpoint, so an assertion used at `/revoke` is spent for
 * `/token` too).
 */
@Injectable()
export class ClientAuthenticator {
  /** Imported device public keys by auth_session (a session's key never changes). */
  private readonly deviceKeys = new Map<string, VerificationKey>();

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(ClientRegistry) private readonly clients: ClientLookup,
    @Inject(DeviceSessionCache) private readonly sessions: SessionSource,
    @Inject(EPHEMERAL_STORE) private readonly store: EphemeralStore,
    private readonly metrics: TokenMetrics,
    private readonly keySets: ClientKeySets,
  ) {}

  /**
   * Verifies the client's credentials (concurrently with `options.companion`), then claims the
   * assertion `jti` and the companion's value in one round trip. Two racing requests with the same
   * assertion or proof cannot both get past the claim.
   */
  async authenticate(form: Form, request: RequestInfo, endpointPath: string, options: AuthenticateOptions = {}): Promise<AuthenticatedClient> {
    const [verified, companion] = await Promise.allSettled([this.verify(form, request, endpointPath), options.companion]);
    if (companion.status === 'rejected') throw companion.reason;
    if (verified.status === 'rejected') throw withChallenge(verified.reason, request);
    const { singleUse, sessionLookup, ...client } = verified.value;
    const watched = await this.claim(client.method, singleUse, companion.value, sessionLookup);
    if (sessionLookup && this.sessions.enabled) {
      // A cached copy counts only once the claim's reply confirmed it (DeviceSessionCache).
      const outcome = !sessionLookup.fromCache ? 'miss' : watched && this.sessions.isCurrent(sessionLookup, watched) ? 'hit' : 'stale';
      this.metrics.deviceSessionCache.inc({ outcome });
      if (outcome === 'stale') return { ...client, deviceSession: await this.reread(client.client, sessionLookup, watched) };
    }
    return client;
  }

  /**
   * Claims the request's single-use values; with a cached device session, the same round trip
   * reports the session's flags and the store generation (the reply; undefined: nothing watched).
   */
  private async claim(method: ClientAuthMethod, singleUse: SingleUseClaim | undefined, companion: CompanionClaim | undefined, lookup?: SessionLookup): Promise<WatchedClaims | undefined> {
    const claims = [...(singleUse ? [singleUse] : []), ...(companion ? [companion.claim] : [])];
    if (claims.length === 0) return undefined;
    let results: ClaimResult[];
    let watched: WatchedClaims | undefined;
    if (lookup?.fromCache) {
      watched = await this.store.claimEachOnceWatching(claims, this.sessions.watchKeys(lookup.session.authSession));
      results = watched.results;
    } else {
      results = await this.store.claimEachOnce(claims);
    }
    // JWTCA-7: an assertion is accepted once, whichever endpoint saw it first.
    if (singleUse && results[0] === 'replayed') throw this.fail(method, 'replay', 'client_assertion jti was already used');
    // Issue 8: its claim may have been lost with the store's data.
    if (singleUse && results[0] === 'predates_generation') {
      throw this.fail(method, 'predates_generation', 'client_assertion was issued before the replay cache lost its data; sign a new one');
    }
    const last = results[results.length - 1];
    if (companion && last !== 'claimed') throw companion.refuse(last);
    return watched;
  }

  /**
   * The cached copy that verified the assertion is stale (revoked, changed, or from before a store
   * loss): the session as PostgreSQL has it now, checked again. The request's values stay spent.
   * The device key never changes for an auth_session, so the signature check stands; the key is
   * compared anyway.
   */
  private async reread(client: Client, stale: SessionLookup, watched: WatchedClaims | undefined): Promise<DeviceSession> {
    const m = 'private_key_jwt';
    this.sessions.forget(stale.session.authSession);
    const found = await this.sessions.read(stale.session.authSession, watched);
    const session = this.checkSession(client, found, this.clock.nowMs());
    if (session.keyJkt !== stale.session.keyJkt || session.keyAlg !== stale.session.keyAlg) throw this.fail(m, 'unknown_session', 'unknown device_auth_session');
    this.sessions.remember(found!);
    return session;
  }

  private async verify(form: Form, request: RequestInfo, endpointPath: string): Promise<VerifiedClient> {
    const header = readAuthorizationHeader(request.headers.authorization);
    if (header.kind === 'malformed') throw this.fail('client_secret_basic', 'malformed_basic', 'malformed Basic credentials');
    if (header.kind === 'unstorable') {
      // Issue 8's input rule: the registry is never asked about a value no store can hold.
      this.metrics.clientAuthFailures.inc({ method: 'client_secret_basic', reason: 'input_text' });
      throw new OAuthError('invalid_client', 'malformed Basic credentials', { reason: 'input_text' });
    }
    if (header.kind === 'other_scheme') throw this.fail('client_secret_basic', 'unsupported_scheme', 'the Authorization header must use Basic client credentials');
    const basic = header.kind === 'basic' ? header : undefined;
    const methods = [basic !== undefined, form.client_secret !== undefined, form.client_assertion !== undefined].filter(Boolean).length;
    if (methods > 1) throw new OAuthError('invalid_request', 'use exactly one client authentication method');
    if (basic !== undefined) return this.bySecret('client_secret_basic', basic.id, basic.secret, form.client_id);
    if (form.client_secret !== undefined) {
      if (!form.client_id) throw this.fail('client_secret_post', 'missing_client_id', 'client_id is required');
      return this.bySecret('client_secret_post', form.client_id, form.client_secret, form.client_id);
    }
    if (form.client_assertion !== undefined || form.client_assertion_type !== undefined) {
      return this.byAssertion(form, endpointPath);
    }
    if (!form.client_id) throw this.fail('none', 'missing_client_id', 'client authentication is required');
    const client = await this.clients.find(form.client_id);
    if (!client) throw this.fail('none', 'unknown_client', 'unknown or disabled client');
    if (client.type !== 'public' || !client.authMethods.includes('none')) {
      throw this.fail('none', 'method_not_allowed', 'this client must authenticate');
    }
    return { client, method: 'none' };
  }

  /** RFC 6749 §2.3.1; the Basic challenge is added by authenticate() (withChallenge). */
  private async bySecret(method: ClientAuthMethod, id: string, secret: string, formClientId: string | undefined): Promise<VerifiedClient> {
    if (formClientId !== undefined && formClientId !== id) throw this.fail(method, 'client_id_mismatch', 'client_id does not match the credentials');
    const client = await this.clients.find(id);
    if (!client || !client.authMethods.includes(method) || !verifyClientSecret(client, secret)) {
      throw this.fail(method, client ? 'bad_secret' : 'unknown_client', 'client authentication failed');
    }
    return { client, method };
  }

  private async byAssertion(form: Form, endpointPath: string): Promise<VerifiedClient> {
    const m = 'private_key_jwt';
    if (form.client_assertion_type !== JWT_BEARER_ASSERTION) {
      throw this.fail(m, 'assertion_type', `client_assertion_type must be ${JWT_BEARER_ASSERTION}`);
    }
    const assertion = form.client_assertion;
    if (!assertion) throw this.fail(m, 'missing_assertion', 'client_assertion is required');
    let decoded;
    try {
      decoded = decodeJwtUnverified(assertion);
    } catch (e) {
      // A claim the lookups below would use (iss, device_auth_session, jti …) that is not an identifier.
      throw this.fail(m, 'malformed', e instanceof JwtVerificationError && e.claim ? `client_assertion ${e.message}` : 'client_assertion is not a JWT');
    }
    const { header, payload } = decoded;
    const iss = payload.iss;
    // JWTCA-1/2: the assertion names the client; a client_id parameter must agree.
    if (typeof iss !== 'string') throw this.fail(m, 'claims', 'client_assertion has no iss');
    if (form.client_id !== undefined && form.client_id !== iss) throw this.fail(m, 'client_id_mismatch', 'client_id does not match the assertion issuer');
    if (header.typ !== undefined && !ALLOWED_ASSERTION_TYP.has(String(header.typ))) {
      throw this.fail(m, 'typ', 'client_assertion has an unexpected typ');
    }
    const client = await this.clients.find(iss);
    if (!client) throw this.fail(m, 'unknown_client', 'unknown or disabled client');
    if (!client.authMethods.includes('private_key_jwt')) throw this.fail(m, 'method_not_allowed', 'private_key_jwt is not allowed for this client');

    const nowMs = this.clock.nowMs();
    const check: AssertionCheck = {
      // JWTCA-2/3/5/8; JWTCA-6: an `nbf` still ahead (beyond the skew) is refused here too.
      subject: client.id,
      issuer: client.id,
      requiredClaims: ['exp', 'jti'],
      currentDate: new Date(nowMs),
      clockToleranceSeconds: this.config.clockSkewSeconds,
    };
    let deviceSession: DeviceSession | undefined;
    let sessionLookup: SessionLookup | undefined;
    try {
      if (payload.device_auth_session !== undefined) {
        // Seed 000 (C): the key registered for device_auth_session verifies the assertion.
        sessionLookup = await this.deviceSessionOf(client, payload.device_auth_session, nowMs);
        deviceSession = sessionLookup.session;
        await verifyJwt(assertion, await this.deviceKey(deviceSession), { ...check, algorithms: [deviceSession.keyAlg] });
      } else if (ClientKeySets.hasKeySet(client) || client.type === 'confidential') {
        // RFC 7523 §3 item 9: a key the client registered (jwks / jwks_uri) verifies it.
        await this.keySets.verify(client, assertion, check);
      } else {
        throw this.fail(m, 'no_device_session', 'client_assertion must carry device_auth_session');
      }
    } catch (e) {
      if (e instanceof KeySetUnavailable) throw this.fail(m, e.reason, e.message);
      if (e instanceof CryptoInputError) throw this.fail(m, e.reason, `client_assertion: ${e.message}`);
      throw e;
    }
    return { client, method: m, deviceSession, sessionLookup, singleUse: this.checkClaims(client, payload, endpointPath, nowMs) };
  }

  /**
   * The session from the cache or PostgreSQL, checked; a session just read is cached once it passed.
   * A cached copy that fails a check is not trusted with the refusal either (the session may have
   * been extended since): PostgreSQL decides.
   */
  private async deviceSessionOf(client: Client, authSession: unknown, nowMs: number): Promise<SessionLookup> {
    if (typeof authSession !== 'string') throw this.fail('private_key_jwt', 'no_device_session', 'device_auth_session must be a string');
    let found = await this.sessions.lookup(authSession);
    if (found?.fromCache && sessionProblem(client, found.session, nowMs)) {
      this.sessions.forget(authSession);
      found = await this.sessions.read(authSession);
    }
    this.checkSession(client, found, nowMs);
    this.sessions.remember(found!);
    return found!;
  }

  private checkSession(client: Client, found: SessionLookup | undefined, nowMs: number): DeviceSession {
    const problem = found ? sessionProblem(client, found.session, nowMs) : SESSION_PROBLEMS.unknown;
    if (problem) throw this.fail('private_key_jwt', problem[0], problem[1]);
    return found!.session;
  }

  /** The claims of a verified assertion, whichever key verified it; yields its jti claim. */
  private checkClaims(client: Client, payload: JWTPayload, endpointPath: string, nowMs: number): SingleUseClaim {
    const m = 'private_key_jwt';
    const now = Math.floor(nowMs / 1000);
    const skew = this.config.clockSkewSeconds;
    const issuer = this.config.http.issuer;
    // JWTCA-4 / JWTCA-9: the issuer as the sole audience, unless the client opted out.
    const rule = assertionAudienceOf(client, this.config.assertions.strictAudience);
    if (!assertionAudienceAccepted(payload.aud, issuer, `${issuer}${endpointPath}`, rule)) {
      throw this.fail(m, 'audience', 'client_assertion audience must be the issuer');
    }
    // JWTCA-5: no long-lived assertions.
    const exp = payload.exp as number;
    if (exp > now + this.config.assertions.maxLifetimeSeconds + skew) throw this.fail(m, 'lifetime', 'client_assertion expires too far in the future');
    // JWTCA-6: an assertion is not issued in the future (a wrong clock, or one minted ahead to
    // outlive its replay record), nor long ago.
    if (typeof payload.iat === 'number' && payload.iat > now + skew) throw this.fail(m, 'iat_future', 'client_assertion iat is in the future');
    if (typeof payload.iat === 'number' && payload.iat < now - this.config.assertions.maxLifetimeSeconds - skew) {
      throw this.fail(m, 'stale', 'client_assertion was issued too long ago');
    }
    const jti = payload.jti;
    if (typeof jti !== 'string' || jti.length === 0 || jti.length > 256) throw this.fail(m, 'jti', 'client_assertion jti is missing or invalid');
    // Remembered until the assertion could no longer be accepted anyway (JWTCA-7); refused after
    // a store loss when it could have been accepted before it (issuance: iat, or exp − the
    // longest lifetime accepted when iat is absent).
    return {
      key: StoreKeys.assertionJti(client.id, jti),
      ttlSeconds: Math.max(1, exp - now + skew + 1),
      acceptableSince: acceptableSince({ issuedAt: payload.iat, expiresAt: exp, maxLifetimeSeconds: this.config.assertions.maxLifetimeSeconds, skewSeconds: skew }),
    };
  }

  private async deviceKey(session: DeviceSession): Promise<VerificationKey> {
    const cached = this.deviceKeys.get(session.authSession);
    if (cached) return cached;
    const key = await importPublicJwk(session.publicJwk, session.keyAlg);
    if (this.deviceKeys.size >= DEVICE_KEY_CACHE_MAX) this.deviceKeys.clear();
    this.deviceKeys.set(session.authSession, key);
    return key;
  }

  /** JWTCA-8: every failure is invalid_client; the reason goes to metrics only. */
  private fail(method: string, reason: string, description: string, headers?: Record<string, string>): OAuthError {
    this.metrics.clientAuthFailures.inc({ method, reason });
    return new OAuthError('invalid_client', description, { reason: `client_auth_${reason}`, headers });
  }
}

const SESSION_PROBLEMS = {
  unknown: ['unknown_session', 'unknown device_auth_session'],
  foreign: ['foreign_session', 'device_auth_session belongs to another client'],
  notDevice: ['not_device_session', 'device_auth_session is not a registered device'],
  unusable: ['session_expired', 'device_auth_session is expired or revoked'],
} as const satisfies Record<string, readonly [string, string]>;

/** Why `session` cannot authenticate `client` now (metrics reason, description); undefined: it can. */
function sessionProblem(client: Client, session: DeviceSession, nowMs: number): readonly [string, string] | undefined {
  if (session.clientId !== client.id) return SESSION_PROBLEMS.foreign;
  // A challenge session is bound to a DPoP key, not a registered device key (seed 000 (C)).
  if (session.kind !== 'device') return SESSION_PROBLEMS.notDevice;
  if (!isUsable(session, nowMs)) return SESSION_PROBLEMS.unusable;
  return undefined;
}

/** RFC 6749 §5.2: an invalid_client after an Authorization header is 401 with a challenge. */
function withChallenge(error: unknown, request: RequestInfo): unknown {
  if (!(error instanceof OAuthError) || error.code !== 'invalid_client' || request.headers.authorization === undefined) return error;
  return error.headers['WWW-Authenticate'] ? error : error.withHeaders({ 'WWW-Authenticate': BASIC_CHALLENGE });
}
