import {
  algorithmsForSetKey,
  decodeJwtUnverified,
  hasPrivateMembers,
  importPublicJwk,
  sha256B64u,
  thumbprint,
  verifyJwt,
  JwtVerificationError,
  type JWK,
  type JWTPayload,
} from '@fpa/crypto';
import { decodeTransactionData, isTransactionDataHashAlg, TransactionDataError, transactionDataHashes, type TransactionDataObject } from '../transaction-data/transaction-data';
import { PresentationRefusal, refuse } from './presentation-refusal';

export interface KeyBindingExpectations {
  readonly nonce: string;
  /** Our full client identifier (`x509_san_dns:auth.example.com`) or `origin:<origin>` over the DC API (VP-1, VP-3). */
  readonly audience: string;
  /** The `transaction_data` strings of the request that name this credential, as sent (VP-4). */
  readonly transactionData?: readonly string[];
  /**
   * Hash algorithms the request allowed; default: those every entry's `transaction_data_hashes_alg` names, or
   * `sha-256` when the entries name none (VP-4).
   */
  readonly transactionDataHashAlgs?: readonly string[];
  readonly now: Date;
  readonly clockSkewSeconds: number;
  readonly maxKeyBindingAgeSeconds: number;
}

export interface VerifiedKeyBinding {
  readonly holderKey: JWK;
  /** The KB-JWT's `alg` (fits the holder key). */
  readonly alg: string;
  readonly holderKeyThumbprint: string;
  readonly payload: JWTPayload;
}

/**
 * Holder binding (VP-5), checked here rather than left to @sd-jwt (which skips it unless asked and
 * never checks `aud` or `iat`): a KB-JWT (`typ` `kb+jwt`) signed by the credential's `cnf.jwk`,
 * with our `nonce` and `aud`, an `iat` neither stale nor in the future beyond the skew, `sd_hash`
 * over the presentation as sent (issuer JWT and disclosures, each followed by `~`), and — when the
 * request carried transaction data — `transaction_data_hashes` over each string as sent (VP-4).
 */
export async function verifyKeyBinding(kbJwt: string, presented: string, cnf: unknown, expect: KeyBindingExpectations): Promise<VerifiedKeyBinding> {
  const holderKey = holderJwk(cnf);
  let header: Readonly<Record<string, unknown>>;
  try {
    header = decodeJwtUnverified(kbJwt).header;
  } catch {
    refuse('malformed', 'the key binding JWT is not a JWT');
  }
  if (header.typ !== 'kb+jwt') refuse('typ', 'the key binding JWT typ is not kb+jwt');
  const algs = algorithmsForSetKey(holderKey);
  if (typeof header.alg !== 'string' || !algs.includes(header.alg)) refuse('alg', 'the key binding JWT alg does not fit the holder key');
  let payload: JWTPayload;
  try {
    const key = await importPublicJwk(holderKey, header.alg);
    payload = (await verifyJwt(kbJwt, key, { algorithms: [header.alg], typ: 'kb+jwt', currentDate: expect.now, clockToleranceSeconds: expect.clockSkewSeconds })).payload;
  } catch (e) {
    if (e instanceof PresentationRefusal) throw e;
    const detail = e instanceof JwtVerificationError ? e.failure : 'invalid key';
    refuse('key_binding_signature', `the key binding JWT does not verify with the holder key (${detail})`);
  }
  if (typeof payload.nonce !== 'string' || payload.nonce !== expect.nonce) refuse('nonce', 'the key binding JWT nonce is not the request nonce');
  if (typeof payload.aud !== 'string' || payload.aud !== expect.audience) refuse('audience', 'the key binding JWT aud is not this verifier');
  assertIat(payload.iat, expect);
  if (typeof payload.sd_hash !== 'string' || payload.sd_hash !== sha256B64u(presented)) refuse('sd_hash', 'sd_hash does not match the presentation');
  if (expect.transactionData && expect.transactionData.length > 0) assertTransactionDataHashes(payload, expect);
  return { holderKey, alg: header.alg, holderKeyThumbprint: await thumbprint(holderKey), payload };
}

function holderJwk(cnf: unknown): JWK {
  const jwk = cnf !== null && typeof cnf === 'object' ? (cnf as Record<string, unknown>).jwk : undefined;
  if (jwk === null || typeof jwk !== 'object' || Array.isArray(jwk)) refuse('key_binding_missing', 'the credential has no cnf.jwk holder key');
  const record = jwk as Record<string, unknown>;
  if (hasPrivateMembers(record) || algorithmsForSetKey(record).length === 0) refuse('holder_key', 'cnf.jwk is not a supported public key');
  return record as JWK;
}

function assertIat(iat: unknown, expect: KeyBindingExpectations): void {
  if (typeof iat !== 'number' || !Number.isFinite(iat)) refuse('iat', 'the key binding JWT has no iat');
  const now = expect.now.getTime() / 1000;
  if (iat > now + expect.clockSkewSeconds) refuse('iat', 'the key binding JWT iat is in the future');
  if (now - iat > expect.maxKeyBindingAgeSeconds + expect.clockSkewSeconds) refuse('iat', 'the key binding JWT is stale');
}

function assertTransactionDataHashes(payload: JWTPayload, expect: KeyBindingExpectations): void {
  const data = expect.transactionData ?? [];
  let objects: TransactionDataObject[];
  try {
    objects = data.map(decodeTransactionData);
  } catch (e) {
    // Entries we sent ourselves that are not valid: our own mistake, VP-6 invalid_transaction_data.
    if (e instanceof TransactionDataError) throw new PresentationRefusal('invalid_transaction_data', 'transaction_data', e.message);
    throw e;
  }
  const alg = payload.transaction_data_hashes_alg ?? 'sha-256';
  const allowed = expect.transactionDataHashAlgs ?? allowedByEntries(objects);
  if (typeof alg !== 'string' || !allowed.includes(alg) || !isTransactionDataHashAlg(alg)) refuse('transaction_data_hashes', 'transaction_data_hashes_alg is not one the request allowed');
  const sent = payload.transaction_data_hashes;
  if (!Array.isArray(sent) || sent.length !== data.length || !sent.every((h) => typeof h === 'string')) {
    refuse('transaction_data_hashes', 'transaction_data_hashes is missing or does not cover the transaction data');
  }
  const wanted = new Set(transactionDataHashes(data, alg));
  if (new Set(sent).size !== sent.length || !sent.every((h: string) => wanted.has(h))) {
    refuse('transaction_data_hashes', 'transaction_data_hashes do not match the transaction data sent');
  }
}

/** VP-4: an entry's `transaction_data_hashes_alg` lists the algorithms it accepts; without one, sha-256. */
function allowedByEntries(objects: readonly TransactionDataObject[]): readonly string[] {
  return objects.reduce<readonly string[]>((acc, o) => acc.filter((a) => (o.transaction_data_hashes_alg ?? ['sha-256']).includes(a)), ['sha-256']);
}
