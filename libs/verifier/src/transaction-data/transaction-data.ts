import { createHash } from 'node:crypto';

/**
 * OpenID4VP 1.0 `transaction_data` (VP-4): a non-empty array of base64url-encoded JSON objects, each with a
 * `type` and non-empty `credential_ids` (the DCQL credential query ids that may authorize it), optionally
 * `transaction_data_hashes_alg`; the wallet returns, for SD-JWT VC, `transaction_data_hashes` in the KB-JWT —
 * each a hash of one entry *as sent* (the base64url string), default `sha-256`. One implementation of that
 * hash and of the entry check, for the request builder (RAR mapping) and the KB-JWT check alike.
 */
export interface TransactionDataObject {
  readonly type: string;
  readonly credential_ids: readonly string[];
  readonly transaction_data_hashes_alg?: readonly string[];
  readonly [member: string]: unknown;
}

/** Hash algorithms (IANA "Named Information Hash Algorithm" names) this verifier computes. */
export const TRANSACTION_DATA_HASH_ALGS = ['sha-256'] as const;
export type TransactionDataHashAlg = (typeof TRANSACTION_DATA_HASH_ALGS)[number];

const HASHES: Record<TransactionDataHashAlg, string> = { 'sha-256': 'sha256' };

export class TransactionDataError extends Error {
  readonly code = 'invalid_transaction_data';
  constructor(message: string) {
    super(message);
    this.name = 'TransactionDataError';
  }
}

export function isTransactionDataHashAlg(alg: unknown): alg is TransactionDataHashAlg {
  return typeof alg === 'string' && (TRANSACTION_DATA_HASH_ALGS as readonly string[]).includes(alg);
}

/** VP-4: base64url(SHA-256(entry as sent)) for each entry, in order. Throws TransactionDataError for an unsupported alg. */
export function transactionDataHashes(encoded: readonly string[], alg: string = 'sha-256'): string[] {
  if (!isTransactionDataHashAlg(alg)) throw new TransactionDataError(`transaction_data_hashes_alg ${alg.slice(0, 32)} is not supported`);
  return encoded.map((entry) => createHash(HASHES[alg]).update(entry, 'utf8').digest('base64url'));
}

/** base64url JSON, as `transaction_data` carries an object. */
export function encodeTransactionData(object: TransactionDataObject): string {
  return Buffer.from(JSON.stringify(object), 'utf8').toString('base64url');
}

/** One entry decoded and checked (VP-4: `type`, non-empty `credential_ids` of strings). Throws TransactionDataError. */
export function decodeTransactionData(entry: unknown): TransactionDataObject {
  let value: unknown;
  try {
    if (typeof entry !== 'string' || !/^[A-Za-z0-9_-]+$/.test(entry)) throw new Error('not base64url');
    value = JSON.parse(Buffer.from(entry, 'base64url').toString('utf8'));
  } catch {
    throw new TransactionDataError('a transaction_data entry is not base64url JSON');
  }
  const record = value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
  const ids = record.credential_ids;
  if (typeof record.type !== 'string' || record.type.length === 0 || !Array.isArray(ids) || ids.length === 0 || !ids.every((i) => typeof i === 'string')) {
    throw new TransactionDataError('transaction_data entries must be JSON objects with a type and non-empty credential_ids');
  }
  const algs = record.transaction_data_hashes_alg;
  if (algs !== undefined && (!Array.isArray(algs) || algs.length === 0 || !algs.every((a) => typeof a === 'string'))) {
    throw new TransactionDataError('transaction_data_hashes_alg must be a non-empty array of strings');
  }
  return record as TransactionDataObject;
}
