import { createHash, randomBytes } from 'node:crypto';
// A third-party wallet shares nothing with our server: it uses jose directly, never libs/crypto (issue 11 §5).
// eslint-disable-next-line no-restricted-imports
import { calculateJwkThumbprint, CompactEncrypt, generateKeyPair, importJWK, type JWK } from 'jose';
import { createTestMdocHolder, type HolderTranscript, type TestMdocHolder } from './mdoc-holder';
import type { SdJwtPresentOptions, TestHolder } from './sd-jwt-wallet';
import { WalletError, type WalletRequest } from './wallet-request';
import { mdocDisclosure, sdJwtFrame, type Selection } from './wallet-select';

/**
 * Builds the `vp_token` a wallet sends (VP-3…5) and, for `*.jwt` response modes, the JWE around it. Each
 * {@link WalletMisbehaviour} changes exactly one thing on the wire so a verifier's refusal can be tested alone.
 */
export type WalletMisbehaviour =
  /** KB-JWT `nonce` / mdoc transcript nonce is not the request's. */
  | 'wrong_nonce'
  /** KB-JWT `aud` / mdoc transcript client_id or origin is another verifier's. */
  | 'wrong_aud'
  /** KB-JWT `iat` an hour old. */
  | 'stale_iat'
  /** KB-JWT `iat` an hour ahead. */
  | 'future_iat'
  /** SD-JWT without KB-JWT; an mdoc signed with a device key the credential is not bound to. */
  | 'no_key_binding'
  /** A disclosure's value changed (its digest is no longer in the credential). */
  | 'tampered_disclosure'
  /** KB-JWT `sd_hash` over something else. */
  | 'wrong_sd_hash'
  /** KB-JWT without `transaction_data_hashes` although the request has transaction_data for the credential. */
  | 'missing_transaction_data_hashes'
  /** KB-JWT `transaction_data_hashes` over other transaction data. */
  | 'wrong_transaction_data_hashes'
  /** The JWE is encrypted to a fresh key (with the request key's `kid`). */
  | 'encrypt_for_other_key'
  /** Posts `error=access_denied` (the user declined) instead of a vp_token. */
  | 'post_error'
  /** Fetches the request object without `wallet_nonce`. */
  | 'skip_wallet_nonce'
  /** Discloses every claim of the chosen credential, not only those the query asks for (over-disclosure). */
  | 'disclose_all'
  /** Answers each credential query with the first held credential of its format, satisfied or not, disclosing everything. */
  | 'ignore_dcql';

const SD_JWT_ONLY: readonly WalletMisbehaviour[] = ['stale_iat', 'future_iat', 'tampered_disclosure', 'wrong_sd_hash', 'missing_transaction_data_hashes', 'wrong_transaction_data_hashes'];

export interface PresentationContext {
  readonly request: WalletRequest;
  /** KB-JWT `aud`: the full client identifier, or `origin:<origin>` over the DC API. */
  readonly audience: string;
  /** The mdoc SessionTranscript input (OpenID4VP or DC API handover). */
  readonly transcript: HolderTranscript;
  readonly sdJwtHolder: TestHolder;
  readonly mdocHolder: TestMdocHolder;
  readonly misbehave?: WalletMisbehaviour;
}

const b64uSha256 = (value: string): string => createHash('sha256').update(value).digest('base64url');

/** `transaction_data` entries (as sent) whose `credential_ids` name this credential query (VP-4). */
export function transactionDataFor(request: WalletRequest, queryId: string): string[] {
  return (request.transaction_data ?? []).filter((entry) => {
    let decoded: unknown;
    try {
      decoded = JSON.parse(Buffer.from(entry, 'base64url').toString('utf8'));
    } catch {
      throw new WalletError('a transaction_data entry is not base64url JSON (VP-4)');
    }
    const ids = (decoded as { credential_ids?: unknown }).credential_ids;
    if (typeof (decoded as { type?: unknown }).type !== 'string' || !Array.isArray(ids) || ids.length === 0) {
      throw new WalletError('a transaction_data entry lacks type or credential_ids (VP-4)');
    }
    return ids.includes(queryId);
  });
}

function tamperFirst(disclosures: string[]): string[] {
  if (disclosures.length === 0) throw new WalletError('tampered_disclosure needs at least one disclosure');
  const [salt, name] = JSON.parse(Buffer.from(disclosures[0], 'base64url').toString('utf8')) as [string, string, unknown];
  return [Buffer.from(JSON.stringify([salt, name, 'tampered'])).toString('base64url'), ...disclosures.slice(1)];
}

async function presentOne(selection: Selection, ctx: PresentationContext): Promise<string> {
  const m = ctx.misbehave;
  const credential = selection.credential;
  if (credential.format === 'mso_mdoc') {
    if (m && SD_JWT_ONLY.includes(m)) throw new WalletError(`${m} has no mdoc form`);
    let transcript: HolderTranscript = ctx.transcript;
    if (m === 'wrong_nonce') transcript = { ...transcript, nonce: randomBytes(16).toString('base64url') };
    if (m === 'wrong_aud') transcript = transcript.kind === 'openid4vp' ? { ...transcript, clientId: 'x509_san_dns:evil.example' } : { ...transcript, origin: 'https://evil.example' };
    return ctx.mdocHolder.present({
      issuerSigned: credential.raw,
      docType: credential.docType,
      transcript,
      disclose: mdocDisclosure(selection.paths, credential.namespaces),
      ...(m === 'no_key_binding' ? { signWith: createTestMdocHolder() } : {}),
    });
  }
  const now = Math.floor(Date.now() / 1000);
  const transactionData = transactionDataFor(ctx.request, selection.queryId);
  const options: SdJwtPresentOptions = {
    nonce: m === 'wrong_nonce' ? randomBytes(16).toString('base64url') : ctx.request.nonce,
    aud: m === 'wrong_aud' ? (ctx.audience.startsWith('origin:') ? 'origin:https://evil.example' : 'x509_san_dns:evil.example') : ctx.audience,
    frame: sdJwtFrame(selection.paths) as SdJwtPresentOptions['frame'],
    iat: m === 'stale_iat' ? now - 3600 : m === 'future_iat' ? now + 3600 : now,
    transactionData: transactionData.length > 0 && m !== 'missing_transaction_data_hashes' ? transactionData : undefined,
    ...(m === 'wrong_transaction_data_hashes' ? { transactionDataHashes: [b64uSha256(`${transactionData[0] ?? ''}x`)] } : {}),
    ...(m === 'wrong_sd_hash' ? { sdHash: b64uSha256('another presentation') } : {}),
    ...(m === 'no_key_binding' ? { omitKeyBinding: true } : {}),
    ...(m === 'tampered_disclosure' ? { tamperDisclosures: tamperFirst } : {}),
  };
  if ((m === 'missing_transaction_data_hashes' || m === 'wrong_transaction_data_hashes') && transactionData.length === 0) {
    throw new WalletError(`${m} needs transaction_data for ${selection.queryId}`);
  }
  return ctx.sdJwtHolder.present(credential.raw, options);
}

/** `{ "<credential query id>": ["<presentation>"] }` (VP-3). */
export async function buildVpToken(selections: readonly Selection[], ctx: PresentationContext): Promise<Record<string, string[]>> {
  const vpToken: Record<string, string[]> = {};
  for (const selection of selections) (vpToken[selection.queryId] ??= []).push(await presentOne(selection, ctx));
  return vpToken;
}

export interface EncryptionTarget {
  readonly jwk: JWK;
  readonly enc: 'A128GCM' | 'A256GCM';
  /** RFC 7638 SHA-256 thumbprint of the verifier's key: the mdoc session transcript binds it. */
  readonly thumbprint: Uint8Array;
}

/** The request's encryption key (`client_metadata.jwks`, ECDH-ES) and the first content encryption both sides support. */
export async function encryptionTarget(request: WalletRequest): Promise<EncryptionTarget> {
  const keys = request.client_metadata?.jwks?.keys ?? [];
  const jwk = keys.find((k) => k.kty === 'EC' && (k.use === undefined || k.use === 'enc') && (k.alg === undefined || k.alg === 'ECDH-ES')) as JWK | undefined;
  if (!jwk) throw new WalletError('the request has no ECDH-ES key in client_metadata.jwks for an encrypted response');
  const offered = request.client_metadata?.encrypted_response_enc_values_supported ?? ['A128GCM'];
  const enc = (['A128GCM', 'A256GCM'] as const).find((e) => offered.includes(e));
  if (!enc) throw new WalletError('no supported encrypted_response_enc_values_supported');
  const thumbprint = new Uint8Array(Buffer.from(await calculateJwkThumbprint(jwk, 'sha256'), 'base64url'));
  return { jwk, enc, thumbprint };
}

/** Compact JWE `ECDH-ES` to the verifier's key with its `kid` (direct_post.jwt / dc_api.jwt). */
export async function encryptResponse(plaintext: Record<string, unknown>, target: EncryptionTarget, misbehave?: WalletMisbehaviour): Promise<string> {
  let key: Parameters<CompactEncrypt['encrypt']>[0];
  if (misbehave === 'encrypt_for_other_key') {
    key = (await generateKeyPair('ECDH-ES', { crv: 'P-256' })).publicKey;
  } else {
    key = await importJWK(target.jwk, 'ECDH-ES');
  }
  const header = { alg: 'ECDH-ES', enc: target.enc, ...(typeof target.jwk.kid === 'string' ? { kid: target.jwk.kid } : {}) };
  return new CompactEncrypt(new TextEncoder().encode(JSON.stringify(plaintext))).setProtectedHeader(header).encrypt(key);
}
