import { encodeTransactionData, isTransactionDataHashAlg, type TransactionDataObject } from './transaction-data';

/**
 * RAR → OpenID4VP `transaction_data` (WALLET-3, VP-4): a per-type mapping in configuration turns each
 * `authorization_details` object of the native request into one `transaction_data` entry the wallet shows
 * the user and binds into the KB-JWT (`transaction_data_hashes`). What the wallet shows is what the token
 * grants: every member of a detail is either copied into the entry or listed in `omit` (deliberately not
 * shown, e.g. `locations`); anything else refuses the request, so a member nobody approved cannot slip in.
 *
 * Configuration (JSON, keyed by the RAR `type`; see examples/payment-initiation.transaction-data.json):
 * ```json
 * { "payment_initiation": {
 *     "type": "urn:fpa:transaction-data:payment_initiation:1",   // the transaction_data `type`
 *     "credential_ids": ["pid"],                                // optional: the DCQL ids that may approve it
 *     "copy": ["instructedAmount", "creditorName", "creditorAccount", "remittanceInformationUnstructured", "actions"],
 *     "omit": ["locations"],                                    // optional
 *     "transaction_data_hashes_alg": ["sha-256"] } }            // optional; sent in each entry when set
 * ```
 */
export interface TransactionDataTypeMapping {
  /** The `type` of the transaction data entry (a URN or name the wallets of this deployment understand). */
  readonly type: string;
  /** DCQL credential query ids that may authorize it; default: every id of the request's query. */
  readonly credentialIds?: readonly string[];
  /** Members of the authorization detail copied, unchanged, into the entry. */
  readonly copy: readonly string[];
  /** Members allowed in the detail but not shown to the wallet. */
  readonly omit: readonly string[];
  /** `transaction_data_hashes_alg` to send; default none (the wallet then uses sha-256). */
  readonly hashAlgs?: readonly string[];
}

/** Keyed by the RAR `authorization_details` `type`. */
export type TransactionDataMapping = Readonly<Record<string, TransactionDataTypeMapping>>;

/** A mapping that cannot be used: a deployment error, found at startup. */
export class TransactionDataConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TransactionDataConfigError';
  }
}

/** A request whose authorization details cannot be turned into transaction data: answer `invalid_authorization_details` (RFC 9396 §5). */
export class AuthorizationDetailsMappingError extends Error {
  readonly code = 'invalid_authorization_details';
  constructor(message: string) {
    super(message);
    this.name = 'AuthorizationDetailsMappingError';
  }
}

export interface MappedTransactionData {
  /** One entry per authorization detail, in order. */
  readonly objects: readonly TransactionDataObject[];
  /** The same, base64url JSON: the `transaction_data` request parameter, and what the KB-JWT hashes. */
  readonly encoded: readonly string[];
}

/** Members a mapping may not copy or omit: the entry's own. `type` is always the detail's and always mapped. */
const RESERVED = new Set(['type', 'credential_ids', 'transaction_data_hashes_alg']);
const ENTRY_KEYS = new Set(['type', 'credential_ids', 'copy', 'omit', 'transaction_data_hashes_alg']);
/** DCQL credential query ids: alphanumeric, underscore, hyphen. */
const CREDENTIAL_ID = /^[A-Za-z0-9_-]{1,64}$/;
/** A JSON member name as configured: printable, no spaces, bounded. */
const MEMBER = /^[\x21-\x7e]{1,64}$/;

/** Validates the configuration (JSON.parse'd); throws TransactionDataConfigError naming the first problem. */
export function parseTransactionDataMapping(input: unknown): TransactionDataMapping {
  if (!isRecord(input)) throw new TransactionDataConfigError('the transaction data mapping must be a JSON object keyed by authorization_details type');
  const result: Record<string, TransactionDataTypeMapping> = {};
  for (const [rarType, raw] of Object.entries(input)) {
    const where = `transaction data mapping ${JSON.stringify(rarType.slice(0, 64))}`;
    if (rarType.length === 0 || rarType.length > 256) throw new TransactionDataConfigError(`${where}: the authorization_details type must be 1-256 characters`);
    if (!isRecord(raw)) throw new TransactionDataConfigError(`${where} must be an object`);
    const unknown = Object.keys(raw).find((k) => !ENTRY_KEYS.has(k));
    if (unknown !== undefined) throw new TransactionDataConfigError(`${where}: unknown member ${JSON.stringify(unknown.slice(0, 64))}`);
    if (typeof raw.type !== 'string' || raw.type.length === 0 || raw.type.length > 256) throw new TransactionDataConfigError(`${where}: type must be a non-empty string`);
    const copy = stringList(raw.copy, `${where}: copy`, MEMBER, false);
    const omit = raw.omit === undefined ? [] : stringList(raw.omit, `${where}: omit`, MEMBER, true);
    for (const member of [...copy, ...omit]) {
      if (RESERVED.has(member)) throw new TransactionDataConfigError(`${where}: ${member} cannot be copied or omitted (the entry sets it)`);
    }
    const both = copy.find((m) => omit.includes(m));
    if (both !== undefined) throw new TransactionDataConfigError(`${where}: ${both} is both copied and omitted`);
    const credentialIds = raw.credential_ids === undefined ? undefined : stringList(raw.credential_ids, `${where}: credential_ids`, CREDENTIAL_ID, false);
    const hashAlgs = raw.transaction_data_hashes_alg === undefined ? undefined : stringList(raw.transaction_data_hashes_alg, `${where}: transaction_data_hashes_alg`, MEMBER, false);
    if (hashAlgs && !hashAlgs.some(isTransactionDataHashAlg)) throw new TransactionDataConfigError(`${where}: transaction_data_hashes_alg names no algorithm this verifier computes (sha-256)`);
    result[rarType] = { type: raw.type, credentialIds, copy, omit, hashAlgs };
  }
  if (Object.keys(result).length === 0) throw new TransactionDataConfigError('the transaction data mapping maps no authorization_details type');
  return result;
}

/**
 * Maps the request's (already validated, RAR-4) `authorization_details` to `transaction_data`. `credentialIds`
 * are the ids of the DCQL query sent with it. Throws AuthorizationDetailsMappingError for a type without a
 * mapping, a member neither copied nor omitted, or no credential of the query that may approve it.
 */
export function mapAuthorizationDetailsToTransactionData(details: unknown, mapping: TransactionDataMapping, credentialIds: readonly string[]): MappedTransactionData {
  if (!Array.isArray(details) || details.length === 0) throw new AuthorizationDetailsMappingError('authorization_details must be a non-empty array');
  const objects = details.map((detail, i) => mapOne(detail, i, mapping, credentialIds));
  return { objects, encoded: objects.map(encodeTransactionData) };
}

function mapOne(detail: unknown, index: number, mapping: TransactionDataMapping, credentialIds: readonly string[]): TransactionDataObject {
  if (!isRecord(detail) || typeof detail.type !== 'string') throw new AuthorizationDetailsMappingError(`authorization_details[${index}] has no type`);
  const rule = Object.prototype.hasOwnProperty.call(mapping, detail.type) ? mapping[detail.type] : undefined;
  if (!rule) throw new AuthorizationDetailsMappingError(`authorization_details type ${JSON.stringify(detail.type.slice(0, 64))} cannot be approved with a credential`);
  const unshown = Object.keys(detail).find((k) => k !== 'type' && !rule.copy.includes(k) && !rule.omit.includes(k));
  if (unshown !== undefined) throw new AuthorizationDetailsMappingError(`authorization_details[${index}] member ${JSON.stringify(unshown.slice(0, 64))} would not be shown to the wallet`);
  const ids = rule.credentialIds ? rule.credentialIds.filter((id) => credentialIds.includes(id)) : [...credentialIds];
  if (ids.length === 0) throw new AuthorizationDetailsMappingError(`authorization_details[${index}] (${detail.type.slice(0, 64)}) cannot be approved by a credential of this request`);
  const copied = Object.fromEntries(rule.copy.filter((k) => detail[k] !== undefined).map((k) => [k, detail[k]]));
  return { type: rule.type, credential_ids: ids, ...(rule.hashAlgs ? { transaction_data_hashes_alg: rule.hashAlgs } : {}), ...copied };
}

function stringList(value: unknown, where: string, pattern: RegExp, mayBeEmpty: boolean): string[] {
  if (!Array.isArray(value) || (!mayBeEmpty && value.length === 0) || !value.every((v) => typeof v === 'string' && pattern.test(v))) {
    throw new TransactionDataConfigError(`${where} must be a ${mayBeEmpty ? '' : 'non-empty '}array of names`);
  }
  if (new Set(value).size !== value.length) throw new TransactionDataConfigError(`${where} names one twice`);
  return value as string[];
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
