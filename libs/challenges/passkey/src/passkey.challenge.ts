import { Inject, Injectable } from '@nestjs/common';
import type { AuthenticationResponseJSON, RegistrationResponseJSON, verifyAuthenticationResponse, verifyRegistrationResponse } from '@simplewebauthn/server';
import { APP_CONFIG, type AppConfig } from '@fpa/config';
import { CLOCK, type Clock } from '@fpa/oauth-core';
import type { AuthSessionView, ChallengeMethod, ChallengeParams, ChallengeStep, Json, JsonObject } from '@fpa/challenge-kit';
import { UsersService, type StoredCredential } from '@fpa/users';

export const PASSKEY = 'passkey';

let simpleWebAuthn: typeof import('@simplewebauthn/server') | undefined;
/**
 * @simplewebauthn/server (with @peculiar's ASN.1 and X.509 stack, ~150 modules) is loaded at the
 * first passkey step, not at start-up (issue 13 goal 4: the embedded default's time to ready).
 */
function webauthn(): typeof import('@simplewebauthn/server') {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (simpleWebAuthn ??= require('@simplewebauthn/server') as typeof import('@simplewebauthn/server'));
}

/** What the method reads of the enrolled credentials (UsersService in the app, a fake in unit specs). */
export type PasskeyCredentials = Pick<UsersService, 'credential' | 'credentials'>;

/**
 * Flow state: the challenge we issued (not a secret: the client signs it), who it is for, and when
 * it lapses. `register` needs the session's user; `authenticate` remembers the user when one was
 * known (allowCredentials), else null (a discoverable credential names the user).
 */
export type PasskeyState =
  | { readonly mode: 'register'; readonly challenge: string; readonly userId: string; readonly expiresAt: number }
  | { readonly mode: 'authenticate'; readonly challenge: string; readonly userId: string | null; readonly expiresAt: number };

/** What `publicData` holds for a passkey (user_credentials.public_data). */
export interface PasskeyPublicData {
  /** COSE_Key, base64url. */
  readonly publicKey: string;
  readonly transports?: readonly string[];
  readonly aaguid?: string;
  /** WebAuthn BE flag at registration: a synced (multi-device) passkey, whose key can leave the device. */
  readonly backupEligible?: boolean;
}

const TTL_SECONDS = 300;
/** A JSON-string `credential` (form bodies) larger than this is not a WebAuthn response. */
const MAX_CREDENTIAL_CHARS = 32_768;
/** WebAuthn §5.1: a credential id is at most 1023 bytes. */
const CREDENTIAL_ID = /^[A-Za-z0-9_-]{16,1366}$/;
const B64U = /^[A-Za-z0-9_-]*$/;

type Rejected = Extract<ChallengeStep, { kind: 'rejected' }>;
const invalidInput = (description: string): Rejected => ({ kind: 'rejected', reason: 'invalid_input', description });
const invalidCode = (description?: string): Rejected => ({ kind: 'rejected', reason: 'invalid_code', ...(description ? { description } : {}) });

/**
 * `passkey`: WebAuthn (L3) through @simplewebauthn/server. `action=register` enrols a passkey for
 * the user the session already verified (the core applies the enrolment rule first); without an
 * action, an assertion — alone, with a discoverable credential — authenticates a returning user.
 * RFC 8176: `hwk` for a device-bound key, `swk` for a synced (backup-eligible) passkey, whose key
 * can leave the hardware; `user` (user presence); and when the authenticator verified the user
 * (UV: the key and a PIN or biometric) the step says so, which the core counts as two factors.
 */
@Injectable()
export class PasskeyChallenge implements ChallengeMethod<PasskeyState> {
  readonly id = PASSKEY;
  readonly amr = ['hwk', 'user'] as const;
  /** Phishing-resistant (origin-bound), and two factors in one when the authenticator verifies the user. */
  readonly assurance = { phishingResistant: true, multiFactorCapable: true, enrolAction: 'register' } as const;
  readonly parameters = ['action', 'credential'] as const;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(UsersService) private readonly users: PasskeyCredentials,
  ) {}

  /** An assertion alone authenticates a returning user, so it is always offered; registration checks for a user in `begin`. */
  async appliesTo(): Promise<boolean> {
    return true;
  }

  async begin(session: AuthSessionView, params: ChallengeParams): Promise<ChallengeStep<PasskeyState>> {
    const action = params.action;
    if (action === 'register') return this.beginRegistration(session);
    if (action === undefined || action === 'authenticate') return this.beginAuthentication(session);
    return invalidInput('action must be register (or absent to authenticate)');
  }

  async answer(session: AuthSessionView, state: PasskeyState, params: ChallengeParams): Promise<ChallengeStep<PasskeyState>> {
    const credential = parseCredential(params.credential);
    if (typeof credential === 'string') return invalidInput(credential);
    if (this.clock.nowMs() >= state.expiresAt) return { kind: 'rejected', reason: 'expired' };
    return state.mode === 'register' ? this.finishRegistration(session, state, credential) : this.finishAuthentication(session, state, credential);
  }

  // --- registration (WebAuthn §7.1) -----------------------------------------------------------------

  private async beginRegistration(session: AuthSessionView): Promise<ChallengeStep<PasskeyState>> {
    const user = session.user;
    // A passkey is bound to an account: only a user this session already verified may enrol one.
    if (!user) return invalidInput('passkey registration needs a verified user in this auth_session (verify an email or phone first)');
    const existing = await this.users.credentials(user.id, PASSKEY);
    const { rpId, rpName } = this.config.webauthn;
    const options = await webauthn().generateRegistrationOptions({
      rpName,
      rpID: rpId,
      // WebAuthn §5.4.3: the user handle is opaque bytes, never an email; the account id is.
      userID: new TextEncoder().encode(user.id),
      userName: user.email ?? user.phone ?? user.id,
      timeout: TTL_SECONDS * 1000,
      attestationType: 'none',
      excludeCredentials: existing.map((c) => ({ id: c.credentialId, transports: transportsOf(c) })),
      // A discoverable credential is what lets a later assertion alone name the user.
      authenticatorSelection: { residentKey: 'required', userVerification: 'preferred' },
    });
    return {
      kind: 'prompt',
      state: { mode: 'register', challenge: options.challenge, userId: user.id, expiresAt: this.clock.nowMs() + TTL_SECONDS * 1000 },
      reply: { status: 'registration_required', public_key_credential_creation_options: toJson(options) },
      expiresInSeconds: TTL_SECONDS,
    };
  }

  private async finishRegistration(session: AuthSessionView, state: Extract<PasskeyState, { mode: 'register' }>, credential: JsonObject): Promise<ChallengeStep<PasskeyState>> {
    if (session.user?.id !== state.userId) return invalidCode('the session user changed since registration began');
    if (typeof (credential.response as JsonObject).attestationObject !== 'string') return invalidInput('credential is not a registration response');
    let result: Awaited<ReturnType<typeof verifyRegistrationResponse>>;
    try {
      result = await webauthn().verifyRegistrationResponse({
        response: credential as unknown as RegistrationResponseJSON,
        expectedChallenge: state.challenge,
        expectedOrigin: [...this.config.webauthn.origins],
        expectedRPID: this.config.webauthn.rpId,
        // We asked for UV `preferred`: its absence is allowed, and only its presence earns `mfa`.
        requireUserVerification: false,
      });
    } catch {
      // Wrong challenge, origin, RP ID, type or a malformed attestation: a wrong answer, counted.
      return invalidCode();
    }
    if (!result.verified) return invalidCode();
    const info = result.registrationInfo;
    if (await this.users.credential(PASSKEY, info.credential.id)) return invalidInput('this passkey is already registered');
    const publicData: PasskeyPublicData = {
      publicKey: Buffer.from(info.credential.publicKey).toString('base64url'),
      ...(info.credential.transports ? { transports: [...info.credential.transports] } : {}),
      aaguid: info.aaguid,
      backupEligible: info.credentialDeviceType === 'multiDevice',
    };
    return {
      kind: 'verified',
      subject: { type: 'user', id: state.userId },
      amr: this.amrFor(info.userVerified, info.credentialDeviceType === 'multiDevice'),
      userVerified: info.userVerified,
      credential: { action: 'add', credential: { method: PASSKEY, credentialId: info.credential.id, publicData: { ...publicData }, counter: info.credential.counter } },
    };
  }

  // --- authentication (WebAuthn §7.2) ---------------------------------------------------------------

  private async beginAuthentication(session: AuthSessionView): Promise<ChallengeStep<PasskeyState>> {
    const user = session.user;
    // A known user is offered their passkeys; otherwise an empty list asks for a discoverable one.
    const allow = user ? await this.users.credentials(user.id, PASSKEY) : [];
    const options = await webauthn().generateAuthenticationOptions({
      rpID: this.config.webauthn.rpId,
      allowCredentials: allow.map((c) => ({ id: c.credentialId, transports: transportsOf(c) })),
      userVerification: 'preferred',
      timeout: TTL_SECONDS * 1000,
    });
    return {
      kind: 'prompt',
      state: { mode: 'authenticate', challenge: options.challenge, userId: user?.id ?? null, expiresAt: this.clock.nowMs() + TTL_SECONDS * 1000 },
      reply: { status: 'assertion_required', public_key_credential_request_options: toJson(options) },
      expiresInSeconds: TTL_SECONDS,
      // Failures count against the user's passkeys across flows. A discoverable ceremony names no
      // user beforehand, and an assertion cannot be guessed: nothing to lock then (locking on a
      // credential id the caller chooses would let anyone lock a user out).
      ...(user ? { guard: `passkey:${user.id}` } : {}),
    };
  }

  private async finishAuthentication(session: AuthSessionView, state: Extract<PasskeyState, { mode: 'authenticate' }>, credential: JsonObject): Promise<ChallengeStep<PasskeyState>> {
    const response = credential.response as JsonObject;
    if (typeof response.authenticatorData !== 'string' || typeof response.signature !== 'string') return invalidInput('credential is not an assertion response');
    // WebAuthn §7.2 step 5/6: the credential must be one we know, of the user the ceremony was for.
    const stored = await this.users.credential(PASSKEY, credential.id as string);
    if (!stored) return invalidCode('unknown passkey');
    const expectedUser = state.userId ?? session.user?.id;
    if (expectedUser !== undefined && expectedUser !== null && stored.userId !== expectedUser) return invalidCode('this passkey belongs to another account');
    const userHandle = response.userHandle;
    if (userHandle !== undefined && userHandle !== null) {
      if (typeof userHandle !== 'string' || !B64U.test(userHandle)) return invalidInput('userHandle must be base64url');
      if (Buffer.from(userHandle, 'base64url').toString('utf8') !== stored.userId) return invalidCode('the user handle does not match the passkey');
    } else if (expectedUser === undefined || expectedUser === null) {
      // §7.2 step 6: with no user identified beforehand, the response must name one.
      return invalidCode('a discoverable assertion must carry its user handle');
    }
    const publicKey = (stored.publicData as Partial<PasskeyPublicData>).publicKey;
    if (typeof publicKey !== 'string') return invalidCode('the stored passkey has no public key');
    let result: Awaited<ReturnType<typeof verifyAuthenticationResponse>>;
    try {
      result = await webauthn().verifyAuthenticationResponse({
        response: credential as unknown as AuthenticationResponseJSON,
        expectedChallenge: state.challenge,
        expectedOrigin: [...this.config.webauthn.origins],
        expectedRPID: this.config.webauthn.rpId,
        credential: { id: stored.credentialId, publicKey: new Uint8Array(Buffer.from(publicKey, 'base64url')), counter: stored.counter, transports: transportsOf(stored) },
        requireUserVerification: false,
      });
    } catch {
      // Wrong challenge, origin, RP ID, a sign count that went backwards, a malformed signature.
      return invalidCode();
    }
    if (!result.verified) return invalidCode();
    const { newCounter, userVerified, credentialDeviceType } = result.authenticationInfo;
    const synced = credentialDeviceType === 'multiDevice' || (stored.publicData as Partial<PasskeyPublicData>).backupEligible === true;
    return {
      kind: 'verified',
      subject: { type: 'user', id: stored.userId },
      amr: this.amrFor(userVerified, synced),
      userVerified,
      // WebAuthn §6.1.1: a counter that stays 0 means "not supported" (synced passkeys); otherwise it must move forward, which the core enforces once more.
      credential: { action: 'use', method: PASSKEY, credentialId: stored.credentialId, ...(newCounter > 0 ? { counter: newCounter } : {}) },
    };
  }

  /** RFC 8176: `swk` for a synced passkey (the key is not bound to one device's hardware), else `hwk`. */
  private amrFor(userVerified: boolean, synced: boolean): string[] {
    const amr = [synced ? 'swk' : 'hwk', 'user'];
    return userVerified ? [...amr, 'mfa'] : amr;
  }
}

/** `credential`: an object (JSON body) or a JSON string (form body); a message when it is not a WebAuthn response. */
function parseCredential(value: Json | undefined): JsonObject | string {
  let v: unknown = value;
  if (v === undefined || v === null) return 'credential is required';
  if (typeof v === 'string') {
    if (v.length > MAX_CREDENTIAL_CHARS) return 'credential is too large';
    try {
      v = JSON.parse(v);
    } catch {
      return 'credential must be a WebAuthn response (JSON)';
    }
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'credential must be a WebAuthn response object';
  const c = v as JsonObject;
  if (typeof c.id !== 'string' || !CREDENTIAL_ID.test(c.id) || c.rawId !== c.id) return 'credential id and rawId must be the same base64url credential id';
  if (c.type !== 'public-key') return 'credential type must be public-key';
  const r = c.response;
  if (typeof r !== 'object' || r === null || Array.isArray(r) || typeof r.clientDataJSON !== 'string') return 'credential response must carry clientDataJSON';
  for (const k of ['clientDataJSON', 'attestationObject', 'authenticatorData', 'signature'] as const) {
    const part = r[k];
    if (part !== undefined && (typeof part !== 'string' || !B64U.test(part))) return `credential response ${k} must be base64url`;
  }
  return c;
}

function transportsOf(c: StoredCredential): string[] | undefined {
  const t = (c.publicData as Partial<PasskeyPublicData>).transports;
  return Array.isArray(t) ? t.filter((x): x is string => typeof x === 'string') : undefined;
}

/** The options as plain JSON (drops undefined members), ready for the 403 reply. */
function toJson(options: object): JsonObject {
  return JSON.parse(JSON.stringify(options)) as JsonObject;
}
