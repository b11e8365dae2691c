import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import type {
  AuthenticationResponseJSON,
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
  RegistrationResponseJSON,
} from '@simplewebauthn/server';

// --- a tiny CBOR encoder (RFC 8949): just what attestation objects and COSE keys need -------------

export type CborValue = number | string | Uint8Array | readonly CborValue[] | CborMap | { readonly [key: string]: CborValue };
/** A map with integer keys (COSE) or an explicit key order. */
export type CborMap = ReadonlyMap<number | string, CborValue>;

function head(major: number, n: number): Buffer {
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`CBOR: cannot encode length/value ${n}`);
  if (n < 24) return Buffer.from([(major << 5) | n]);
  if (n < 0x100) return Buffer.from([(major << 5) | 24, n]);
  if (n < 0x10000) {
    const b = Buffer.alloc(3);
    b[0] = (major << 5) | 25;
    b.writeUInt16BE(n, 1);
    return b;
  }
  if (n < 0x100000000) {
    const b = Buffer.alloc(5);
    b[0] = (major << 5) | 26;
    b.writeUInt32BE(n, 1);
    return b;
  }
  const b = Buffer.alloc(9);
  b[0] = (major << 5) | 27;
  b.writeBigUInt64BE(BigInt(n), 1);
  return b;
}

/** Encodes integers, byte strings, text, arrays and maps (RFC 8949 §3.1 major types 0–5). */
export function cborEncode(value: CborValue): Buffer {
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) throw new Error('CBOR: only integers are supported');
    return value >= 0 ? head(0, value) : head(1, -1 - value);
  }
  if (typeof value === 'string') {
    const bytes = Buffer.from(value, 'utf8');
    return Buffer.concat([head(3, bytes.length), bytes]);
  }
  if (value instanceof Uint8Array) return Buffer.concat([head(2, value.length), Buffer.from(value)]);
  if (Array.isArray(value)) return Buffer.concat([head(4, value.length), ...value.map((v: CborValue) => cborEncode(v))]);
  const entries: [number | string, CborValue][] = value instanceof Map ? [...(value as CborMap).entries()] : Object.entries(value as Record<string, CborValue>);
  return Buffer.concat([head(5, entries.length), ...entries.flatMap(([k, v]) => [cborEncode(k), cborEncode(v)])]);
}

// --- the software authenticator ------------------------------------------------------------------

const b64u = (b: Uint8Array): string => Buffer.from(b).toString('base64url');
const sha256 = (b: Uint8Array | string): Buffer => createHash('sha256').update(b).digest();

/** Authenticator data flags (WebAuthn §6.1). */
export const FLAGS = { UP: 0x01, UV: 0x04, BE: 0x08, BS: 0x10, AT: 0x40, ED: 0x80 } as const;

/** Per-response deviations, to produce the responses a server must refuse. */
export interface ResponseVariant {
  /** Sign this challenge instead of the one in the options. */
  readonly challenge?: string;
  /** Claim this origin in clientDataJSON. */
  readonly origin?: string;
  /** Hash this RP ID into authenticatorData. */
  readonly rpId?: string;
  /** clientDataJSON `type` (webauthn.create / webauthn.get). */
  readonly type?: string;
  /** Sign other data than the WebAuthn signature base (a well-formed but wrong ES256 signature). */
  readonly badSignature?: boolean;
  /** Report (or not) user verification for this response. */
  readonly userVerified?: boolean;
  /** Report (or not) user presence for this response. */
  readonly userPresent?: boolean;
  /** Use this sign count instead of the next one. */
  readonly signCount?: number;
  /** Put this userHandle (base64url) in the assertion; null leaves it out. */
  readonly userHandle?: string | null;
}

export interface SoftwareAuthenticatorOptions {
  /** The RP ID the authenticator scopes the credential to (hashed into authenticatorData). */
  readonly rpId: string;
  /** The origin the "client platform" reports in clientDataJSON (a web origin or android:apk-key-hash:…). */
  readonly origin: string;
  /** Report UV (default true). */
  readonly userVerified?: boolean;
  /** Backup eligible/state flags: a synced passkey (default true). */
  readonly backedUp?: boolean;
  /** `increment` (default): the sign count moves forward on every assertion; `zero`: always reports 0 (as synced passkeys do). */
  readonly counter?: 'increment' | 'zero';
  /** AAGUID as 16 bytes (default all zero, as `none` attestation reports). */
  readonly aaguid?: Uint8Array;
  readonly transports?: readonly string[];
}

/**
 * A WebAuthn authenticator and client platform in software (WebAuthn L3 §6, §5.8.1): one ES256
 * (P-256) credential, `none` attestation, and assertions over authenticatorData ‖ SHA-256(clientDataJSON).
 * Tests drive it with the options the server returned and can ask for wrong variants.
 */
export class SoftwareAuthenticator {
  readonly credentialId: Buffer;
  readonly aaguid: Uint8Array;
  /** The user handle the RP gave at registration (base64url), returned with discoverable assertions. */
  userHandle: string | undefined;
  signCount = 0;
  private readonly privateKey: KeyObject;
  private readonly publicKey: KeyObject;

  constructor(readonly options: SoftwareAuthenticatorOptions) {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    this.privateKey = privateKey;
    this.publicKey = publicKey;
    this.credentialId = randomBytes(32);
    this.aaguid = options.aaguid ?? new Uint8Array(16);
  }

  /** The credential id as base64url (what the RP stores and lists in allowCredentials). */
  get id(): string {
    return b64u(this.credentialId);
  }

  /** The credential public key as a COSE_Key (RFC 9053 §7.1.1: EC2, ES256, P-256). */
  cosePublicKey(): Buffer {
    const jwk = this.publicKey.export({ format: 'jwk' });
    return cborEncode(
      new Map<number, CborValue>([
        [1, 2], // kty: EC2
        [3, -7], // alg: ES256
        [-1, 1], // crv: P-256
        [-2, Buffer.from(jwk.x!, 'base64url')],
        [-3, Buffer.from(jwk.y!, 'base64url')],
      ]),
    );
  }

  /** navigator.credentials.create(): a RegistrationResponseJSON for these creation options. */
  register(creation: PublicKeyCredentialCreationOptionsJSON, variant: ResponseVariant = {}): RegistrationResponseJSON {
    this.userHandle = creation.user.id;
    const clientDataJSON = this.clientData('webauthn.create', creation.challenge, variant);
    const attested = Buffer.concat([Buffer.from(this.aaguid), u16(this.credentialId.length), this.credentialId, this.cosePublicKey()]);
    const authData = this.authenticatorData(variant.rpId ?? creation.rp.id ?? this.options.rpId, FLAGS.AT, variant.signCount ?? this.signCount, variant, attested);
    const attestationObject = cborEncode(new Map<string, CborValue>([['fmt', 'none'], ['attStmt', new Map()], ['authData', authData]]));
    return {
      id: this.id,
      rawId: this.id,
      type: 'public-key',
      clientExtensionResults: {},
      authenticatorAttachment: 'platform',
      response: {
        clientDataJSON: b64u(clientDataJSON),
        attestationObject: b64u(attestationObject),
        transports: [...(this.options.transports ?? ['internal', 'hybrid'])] as RegistrationResponseJSON['response']['transports'],
      },
    };
  }

  /** navigator.credentials.get(): an AuthenticationResponseJSON for these request options. */
  assert(request: PublicKeyCredentialRequestOptionsJSON, variant: ResponseVariant = {}): AuthenticationResponseJSON {
    const allowed = request.allowCredentials ?? [];
    if (allowed.length > 0 && !allowed.some((c) => c.id === this.id)) throw new Error('software authenticator: this credential is not in allowCredentials');
    if (this.options.counter !== 'zero' && variant.signCount === undefined) this.signCount += 1;
    const count = variant.signCount ?? (this.options.counter === 'zero' ? 0 : this.signCount);
    const clientDataJSON = this.clientData('webauthn.get', request.challenge, variant);
    const authData = this.authenticatorData(variant.rpId ?? request.rpId ?? this.options.rpId, 0, count, variant);
    // WebAuthn §6.3.3 step 11: sign authenticatorData ‖ SHA-256(clientDataJSON); ES256 signatures are DER.
    const signed = variant.badSignature ? Buffer.concat([authData, sha256('not the client data')]) : Buffer.concat([authData, sha256(clientDataJSON)]);
    const signature = sign('sha256', signed, this.privateKey);
    const userHandle = variant.userHandle === null ? undefined : (variant.userHandle ?? this.userHandle);
    return {
      id: this.id,
      rawId: this.id,
      type: 'public-key',
      clientExtensionResults: {},
      authenticatorAttachment: 'platform',
      response: {
        clientDataJSON: b64u(clientDataJSON),
        authenticatorData: b64u(authData),
        signature: b64u(signature),
        ...(userHandle === undefined ? {} : { userHandle }),
      },
    };
  }

  private clientData(type: string, challenge: string, variant: ResponseVariant): Buffer {
    // WebAuthn §5.8.1: the members in this order, crossOrigin false.
    return Buffer.from(JSON.stringify({ type: variant.type ?? type, challenge: variant.challenge ?? challenge, origin: variant.origin ?? this.options.origin, crossOrigin: false }), 'utf8');
  }

  private authenticatorData(rpId: string, extraFlags: number, signCount: number, variant: ResponseVariant, attested?: Buffer): Buffer {
    let flags = extraFlags;
    if (variant.userPresent ?? true) flags |= FLAGS.UP;
    if (variant.userVerified ?? this.options.userVerified ?? true) flags |= FLAGS.UV;
    if (this.options.backedUp ?? true) flags |= FLAGS.BE | FLAGS.BS;
    const count = Buffer.alloc(4);
    count.writeUInt32BE(signCount >>> 0);
    // WebAuthn §6.1: rpIdHash(32) ‖ flags(1) ‖ signCount(4, big-endian) ‖ [attestedCredentialData].
    return Buffer.concat([sha256(rpId), Buffer.from([flags]), count, ...(attested ? [attested] : [])]);
  }
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

/** An Android app's WebAuthn origin (the SHA-256 of its signing certificate). */
export function androidOrigin(certificate: string | Uint8Array = 'test-signing-certificate'): string {
  return `android:apk-key-hash:${sha256(certificate).toString('base64url')}`;
}
