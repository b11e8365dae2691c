import { readFileSync } from 'node:fs';
import { parseDcqlQuery, parseTransactionDataMapping, TransactionDataConfigError, type TransactionDataMapping } from '@fpa/verifier';

/** Formats the built-in verifier checks (OpenID4VP 1.0 Appendix B). */
export type CredentialFormat = 'dc+sd-jwt' | 'mso_mdoc';
export const CREDENTIAL_FORMATS: readonly CredentialFormat[] = ['dc+sd-jwt', 'mso_mdoc'];
export type JsonQuery = Readonly<Record<string, unknown>>;

/** Per client: queries by acr, the response mode (encrypted by default). */
export interface ClientCredentialPolicy {
  readonly dcql?: { readonly default?: JsonQuery; readonly acr: ReadonlyMap<string, JsonQuery> };
  readonly responseMode?: 'direct_post' | 'direct_post.jwt';
}

/**
 * The `digital_credential` method's policy (DIGITAL_CREDENTIALS_FILE, validated at start-up):
 * what is asked (DCQL per client and acr), which claim names the user (VP-7: stable, combined with
 * the issuer), which disclosed claims are kept (data minimisation) and how RAR types map to
 * transaction data.
 */
export class CredentialPolicy {
  constructor(
    private readonly defaultQuery: JsonQuery,
    private readonly acrQueries: ReadonlyMap<string, JsonQuery>,
    private readonly clients: ReadonlyMap<string, ClientCredentialPolicy>,
    /** Claim path naming the user, per format (`["sub"]`; mdoc `[namespace, element]`). */
    readonly subjectClaims: Readonly<Record<CredentialFormat, readonly string[]>>,
    /** Disclosed claims kept with the user's credential link (paths); nothing else is stored. */
    readonly keepClaims: readonly (readonly string[])[],
    /** RAR type → transaction_data entry (libs/verifier's mapping: what is copied, what omitted). */
    readonly transactionData: TransactionDataMapping,
    readonly responseMode: 'direct_post' | 'direct_post.jwt',
  ) {}

  /** The DCQL query for a client and the acr it asked (client's acr, client's default, acr, default). */
  queryFor(clientId: string, acr: string | undefined): JsonQuery {
    const c = this.clients.get(clientId)?.dcql;
    return (acr !== undefined ? c?.acr.get(acr) : undefined) ?? c?.default ?? (acr !== undefined ? this.acrQueries.get(acr) : undefined) ?? this.defaultQuery;
  }

  responseModeFor(clientId: string): 'direct_post' | 'direct_post.jwt' {
    return this.clients.get(clientId)?.responseMode ?? this.responseMode;
  }

  static fromFile(path: string | undefined): CredentialPolicy {
    if (path === undefined) return parseCredentialPolicy(DEFAULT_POLICY);
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(path, 'utf8')) as unknown;
    } catch (e) {
      throw new CredentialPolicyError(`DIGITAL_CREDENTIALS_FILE: cannot read ${path} as JSON (${(e as Error).message})`);
    }
    return parseCredentialPolicy(raw);
  }
}

export class CredentialPolicyError extends Error {}

/** The embedded default: an SD-JWT VC with a stable `sub`, and `email` when the wallet discloses it. */
export const DEFAULT_POLICY = {
  dcql: {
    default: {
      credentials: [
        {
          id: 'credential',
          format: 'dc+sd-jwt',
          meta: { vct_values: ['urn:eudi:pid:1'] },
          claims: [
            { id: 'sub', path: ['sub'] },
            { id: 'email', path: ['email'] },
          ],
          claim_sets: [['sub', 'email'], ['sub']],
        },
      ],
    },
  },
  subject_claims: { 'dc+sd-jwt': ['sub'], mso_mdoc: ['org.iso.18013.5.1', 'document_number'] },
  keep_claims: [['email']],
  transaction_data: {
    payment_initiation: { type: 'urn:fpa:transaction-data:payment_initiation:1', copy: ['instructedAmount', 'creditorName', 'creditorAccount', 'remittanceInformationUnstructured', 'actions'], omit: ['locations'] },
  },
  response_mode: 'direct_post.jwt',
} as const;

type Raw = Record<string, unknown>;
const isObject = (v: unknown): v is Raw => typeof v === 'object' && v !== null && !Array.isArray(v);
const isPath = (v: unknown): v is string[] => Array.isArray(v) && v.length > 0 && v.length <= 8 && v.every((p) => typeof p === 'string' && p.length > 0 && p.length <= 128);
const MODES = ['direct_post', 'direct_post.jwt'] as const;

/** Validates the policy JSON; every problem is named at once. */
export function parseCredentialPolicy(input: unknown): CredentialPolicy {
  const problems: string[] = [];
  if (!isObject(input)) throw new CredentialPolicyError('DIGITAL_CREDENTIALS_FILE must hold a JSON object');
  for (const k of Object.keys(input)) if (!['dcql', 'clients', 'subject_claims', 'keep_claims', 'transaction_data', 'response_mode'].includes(k)) problems.push(`unknown member ${k}`);
  const query = (q: unknown, where: string): JsonQuery | undefined => {
    try {
      parseDcqlQuery(q);
      const formats = ((q as { credentials: { format: string }[] }).credentials ?? []).map((c) => c.format);
      const bad = formats.find((f) => !(CREDENTIAL_FORMATS as readonly string[]).includes(f));
      if (bad) problems.push(`${where}: format ${bad} is not supported (dc+sd-jwt, mso_mdoc)`);
      return q as JsonQuery;
    } catch (e) {
      problems.push(`${where}: not a valid DCQL query (${(e as Error).message.slice(0, 200)})`);
      return undefined;
    }
  };
  const queries = (v: unknown, where: string): { default?: JsonQuery; acr: Map<string, JsonQuery> } => {
    const out = { acr: new Map<string, JsonQuery>() } as { default?: JsonQuery; acr: Map<string, JsonQuery> };
    if (v === undefined) return out;
    if (!isObject(v)) {
      problems.push(`${where} must be an object {default, acr}`);
      return out;
    }
    for (const k of Object.keys(v)) if (k !== 'default' && k !== 'acr') problems.push(`${where}.${k} is unknown`);
    if (v.default !== undefined) out.default = query(v.default, `${where}.default`);
    if (v.acr !== undefined) {
      if (!isObject(v.acr)) problems.push(`${where}.acr must map acr values to DCQL queries`);
      else for (const [acr, q] of Object.entries(v.acr)) out.acr.set(acr, query(q, `${where}.acr["${acr}"]`) ?? {});
    }
    return out;
  };
  const mode = (v: unknown, where: string): (typeof MODES)[number] | undefined => {
    if (v === undefined) return undefined;
    if (!(MODES as readonly unknown[]).includes(v)) problems.push(`${where} must be direct_post or direct_post.jwt`);
    return v as (typeof MODES)[number];
  };
  const top = queries(input.dcql ?? DEFAULT_POLICY.dcql, 'dcql');
  if (!top.default) problems.push('dcql.default is required');
  const clients = new Map<string, ClientCredentialPolicy>();
  if (input.clients !== undefined) {
    if (!isObject(input.clients)) problems.push('clients must map client ids to {dcql, response_mode}');
    else
      for (const [id, c] of Object.entries(input.clients)) {
        if (!isObject(c)) {
          problems.push(`clients["${id}"] must be an object`);
          continue;
        }
        for (const k of Object.keys(c)) if (k !== 'dcql' && k !== 'response_mode') problems.push(`clients["${id}"].${k} is unknown`);
        const responseMode = mode(c.response_mode, `clients["${id}"].response_mode`);
        clients.set(id, { ...(c.dcql !== undefined ? { dcql: queries(c.dcql, `clients["${id}"].dcql`) } : {}), ...(responseMode ? { responseMode } : {}) });
      }
  }
  const subjects = (input.subject_claims ?? DEFAULT_POLICY.subject_claims) as Raw;
  const subjectClaims = { 'dc+sd-jwt': subjects['dc+sd-jwt'] ?? DEFAULT_POLICY.subject_claims['dc+sd-jwt'], mso_mdoc: subjects.mso_mdoc ?? DEFAULT_POLICY.subject_claims.mso_mdoc } as Record<CredentialFormat, string[]>;
  if (!isObject(subjects)) problems.push('subject_claims must map formats to claim paths');
  for (const f of CREDENTIAL_FORMATS) if (!isPath(subjectClaims[f])) problems.push(`subject_claims["${f}"] must be a claim path (list of strings)`);
  const keep = input.keep_claims ?? DEFAULT_POLICY.keep_claims;
  if (!Array.isArray(keep) || !keep.every(isPath)) problems.push('keep_claims must be a list of claim paths');
  let mappings: TransactionDataMapping = {};
  try {
    mappings = parseTransactionDataMapping(input.transaction_data ?? DEFAULT_POLICY.transaction_data);
  } catch (e) {
    if (!(e instanceof TransactionDataConfigError)) throw e;
    problems.push(`transaction_data: ${e.message}`);
  }
  const responseMode = mode(input.response_mode, 'response_mode') ?? 'direct_post.jwt';
  if (problems.length > 0) throw new CredentialPolicyError(`DIGITAL_CREDENTIALS_FILE: ${problems.join('; ')}`);
  return new CredentialPolicy(top.default as JsonQuery, top.acr, clients, subjectClaims, keep as string[][], mappings, responseMode);
}
