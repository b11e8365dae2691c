import { createHash } from 'node:crypto';
import { compactProtectedHeader, decryptEcdhEsJwe, decryptSecret, encryptSecret, generateEcdhEsKeyPair, JweError, randomToken, signJwtWithKeyObject, thumbprint, type JWK } from '@fpa/crypto';
import type { JsonQuery } from './credential-policy';
import type { VerifierIdentity } from './verifier-identity';

export type Openid4vpFlow = 'dc_api' | 'same_device' | 'cross_device';
export type ResponseMode = 'direct_post' | 'direct_post.jwt' | 'dc_api' | 'dc_api.jwt';

/**
 * One presentation request (VP-1), kept in the ephemeral store until it expires: what the
 * response must be bound to. `id` names it in the request URI, is the `state` and the `kid` of its
 * encryption key (a `direct_post.jwt` response names its request by it). The private half of the
 * per-request key is sealed under KEY_ENCRYPTION_KEY.
 */
export interface PresentationRequest {
  readonly id: string;
  readonly authSession: string;
  readonly clientId: string;
  readonly flow: Openid4vpFlow;
  readonly nonce: string;
  readonly responseMode: ResponseMode;
  readonly dcqlQuery: JsonQuery;
  /** Base64url JSON strings, as sent (VP-4). */
  readonly transactionData?: readonly string[];
  /** DC API: the app's registered origins (`expected_origins`). */
  readonly origins?: readonly string[];
  /** Same device: the app's registered `openid4vp_redirect_uri` the wallet is sent to with the response code. */
  readonly redirectUri?: string;
  readonly encryption: { readonly publicJwk: JWK; readonly sealedPrivateJwk: string };
  readonly createdAt: number;
  readonly expiresAt: number;
}

export const ENC_VALUES = ['A128GCM', 'A256GCM'] as const;
/** A response larger than this is refused unread (no JWE or vp_token of a login is near it). */
export const MAX_RESPONSE_CHARS = 262_144;

const aad = (id: string): string => `openid4vp:${id}`;

/** A fresh request: CSPRNG id and nonce (≥ 128 bits, base64url: VP-1), and its own ECDH-ES key pair. */
export async function newPresentationRequest(
  input: Omit<PresentationRequest, 'id' | 'nonce' | 'encryption' | 'createdAt' | 'expiresAt'>,
  kek: Uint8Array,
  nowMs: number,
  ttlSeconds: number,
): Promise<PresentationRequest> {
  const id = randomToken(24);
  const pair = await generateEcdhEsKeyPair();
  const publicJwk = { ...pair.publicJwk, kid: id, use: 'enc', alg: 'ECDH-ES' };
  const sealedPrivateJwk = await encryptSecret(JSON.stringify(pair.privateJwk), aad(id), kek);
  return { ...input, id, nonce: randomToken(32), encryption: { publicJwk, sealedPrivateJwk }, createdAt: nowMs, expiresAt: nowMs + ttlSeconds * 1000 };
}

/** `client_metadata` (VP-1): our encryption key, the enc values we accept, the formats we verify. */
export function clientMetadata(r: PresentationRequest): Record<string, unknown> {
  return {
    jwks: { keys: [r.encryption.publicJwk] },
    encrypted_response_enc_values_supported: [...ENC_VALUES],
    vp_formats_supported: { 'dc+sd-jwt': { 'sd-jwt_alg_values': ['ES256', 'ES384', 'ES512', 'EdDSA'], 'kb-jwt_alg_values': ['ES256', 'ES384', 'ES512', 'EdDSA'] }, mso_mdoc: {} },
  };
}

/** The members every form of the request shares (the unsigned DC API request is exactly these, VP-3: no client_id). */
export function requestMembers(r: PresentationRequest): Record<string, unknown> {
  return {
    response_type: 'vp_token',
    response_mode: r.responseMode,
    nonce: r.nonce,
    dcql_query: r.dcqlQuery,
    client_metadata: clientMetadata(r),
    ...(r.transactionData ? { transaction_data: [...r.transactionData] } : {}),
  };
}

/**
 * The signed request object (VP-2, JAR): `typ: oauth-authz-req+jwt`, ES256 with the verifier's
 * `x5c`. Redirect flows carry `client_id`, `response_uri`, `state` and `aud`; the DC API's signed
 * request carries `expected_origins` (VP-3). `wallet_nonce` is echoed when the wallet sent one.
 */
export async function signRequestObject(r: PresentationRequest, identity: VerifierIdentity, responseUri: string, nowMs: number, walletNonce?: string): Promise<string> {
  const dcApi = r.flow === 'dc_api';
  const payload = {
    ...requestMembers(r),
    client_id: identity.clientId,
    ...(dcApi ? { expected_origins: [...(r.origins ?? [])] } : { response_uri: responseUri, state: r.id, aud: 'https://self-issued.me/v2' }),
    ...(walletNonce !== undefined ? { wallet_nonce: walletNonce } : {}),
  };
  return signJwtWithKeyObject({ ...payload, iat: Math.floor(nowMs / 1000), exp: Math.floor(r.expiresAt / 1000) }, { alg: 'ES256', typ: 'oauth-authz-req+jwt', x5c: [...identity.x5c] }, identity.signingKey);
}

export class ResponseDecryptionError extends Error {}

/** The `kid` a `direct_post.jwt` / `dc_api.jwt` response names (our request id), without decrypting. */
export function responseKid(jwe: string): string | undefined {
  const kid = compactProtectedHeader(jwe)?.kid;
  return typeof kid === 'string' && kid.length <= 64 ? kid : undefined;
}

/** Decrypts a response encrypted to the request's key (ECDH-ES, A128GCM/A256GCM); its plaintext is a JSON object. */
export async function decryptResponse(r: PresentationRequest, jwe: string, kek: Uint8Array): Promise<Record<string, unknown>> {
  if (jwe.length > MAX_RESPONSE_CHARS) throw new ResponseDecryptionError('the encrypted response is too large');
  const privateJwk = JSON.parse(await decryptSecret(r.encryption.sealedPrivateJwk, aad(r.id), kek)) as JWK;
  let plaintext: Uint8Array;
  try {
    plaintext = await decryptEcdhEsJwe(jwe, privateJwk, ENC_VALUES);
  } catch (e) {
    if (!(e instanceof JweError)) throw e;
    throw new ResponseDecryptionError(`the response does not decrypt with this request's key (${e.message})`);
  }
  let body: unknown;
  try {
    body = JSON.parse(Buffer.from(plaintext).toString('utf8'));
  } catch {
    throw new ResponseDecryptionError('the decrypted response is not JSON');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new ResponseDecryptionError('the decrypted response is not a JSON object');
  return body as Record<string, unknown>;
}

/** RFC 7638 thumbprint of the request's encryption key, as bytes (mdoc session transcripts of encrypted responses). */
export async function encryptionKeyThumbprint(r: PresentationRequest): Promise<Uint8Array> {
  const { kid: _k, use: _u, alg: _a, ...key } = r.encryption.publicJwk;
  return Buffer.from(await thumbprint(key as JWK), 'base64url');
}

/** SHA-256 of a response code, base64url: what the flow keeps (never the code). */
export function hashResponseCode(code: string): string {
  return createHash('sha256').update(code).digest('base64url');
}
