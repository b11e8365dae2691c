import { DcqlPresentationResult, DcqlQuery, type DcqlCredentialPresentation } from 'dcql';

/** A presentation already verified (signature, trust, holder binding), reduced to what DCQL looks at. */
export interface DcqlVerifiedSdJwt {
  readonly format: 'dc+sd-jwt';
  readonly vct: string;
  readonly claims: Readonly<Record<string, unknown>>;
  /** True when a KB-JWT was verified (this verifier always requires one). */
  readonly holderBound?: boolean;
}

/**
 * An mdoc presentation already verified (verifyMdocPresentation's `mdoc`: issuer trust, digests, device
 * signature over our SessionTranscript), reduced to what DCQL looks at: `doctype_value` and
 * `[namespace, element]` claim paths (OpenID4VP 1.0 §6.4.1 / §7.2 for ISO mdoc).
 */
export interface DcqlVerifiedMdoc {
  readonly format: 'mso_mdoc';
  readonly docType: string;
  readonly namespaces: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  /** True when the device signature was verified (this verifier always requires one). */
  readonly holderBound?: boolean;
}

export type DcqlVerifiedPresentation = DcqlVerifiedSdJwt | DcqlVerifiedMdoc;

export class DcqlQueryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DcqlQueryError';
  }
}

export type DcqlMatch =
  | { readonly satisfied: true; readonly result: DcqlPresentationResult }
  | { readonly satisfied: false; readonly reason: 'unknown_credential_query' | 'not_satisfied'; readonly detail: string };

/**
 * Parses and validates a DCQL query with `dcql` (configuration mistakes throw {@link DcqlQueryError}).
 * Run at configuration load so a bad query fails startup, not a login.
 */
export function parseDcqlQuery(query: unknown): DcqlQuery {
  try {
    const parsed = DcqlQuery.parse(query as DcqlQuery.Input);
    DcqlQuery.validate(parsed);
    return parsed;
  } catch (e) {
    throw new DcqlQueryError(`invalid DCQL query: ${e instanceof Error ? e.message.slice(0, 200) : 'unknown'}`);
  }
}

/**
 * VP-5 "query satisfaction" and "overall DCQL constraints": do the verified presentations of a
 * `vp_token` (credential query `id` → presentations) satisfy the query — formats, `vct_values` (SD-JWT VC)
 * or `doctype_value` (mdoc), claim paths and `values`, claim sets and credential sets? dcql itself decides. A presentation under an id the query
 * does not have is refused, not ignored.
 */
export function matchDcqlQuery(query: unknown, presentations: Readonly<Record<string, readonly DcqlVerifiedPresentation[]>>): DcqlMatch {
  const dcqlQuery = parseDcqlQuery(query);
  const known = new Set(dcqlQuery.credentials.map((c) => c.id));
  const unknown = Object.keys(presentations).find((id) => !known.has(id));
  if (unknown !== undefined) return { satisfied: false, reason: 'unknown_credential_query', detail: `no credential query ${unknown.slice(0, 64)}` };
  const record: Record<string, DcqlCredentialPresentation[]> = Object.fromEntries(Object.entries(presentations).map(([id, list]) => [id, list.map(toDcqlPresentation)]));
  let result: DcqlPresentationResult;
  try {
    result = DcqlPresentationResult.fromDcqlPresentation(record, { dcqlQuery });
  } catch (e) {
    return { satisfied: false, reason: 'not_satisfied', detail: e instanceof Error ? e.message.slice(0, 200) : 'unknown' };
  }
  if (!result.can_be_satisfied) return { satisfied: false, reason: 'not_satisfied', detail: 'the presentations do not satisfy the DCQL query' };
  return { satisfied: true, result };
}

/** The shape dcql checks, per format: SD-JWT VC claims are JSON; mdoc elements are namespace → identifier → value. */
function toDcqlPresentation(p: DcqlVerifiedPresentation): DcqlCredentialPresentation {
  const holderBinding = p.holderBound ?? true;
  if (p.format === 'mso_mdoc') {
    const namespaces = Object.fromEntries(Object.entries(p.namespaces).map(([ns, elements]) => [ns, { ...elements }]));
    return { credential_format: 'mso_mdoc', doctype: p.docType, namespaces, cryptographic_holder_binding: holderBinding };
  }
  // Claims are JSON (decoded from the credential), which is what dcql's `Json` type says.
  return { credential_format: p.format, vct: p.vct, claims: { ...p.claims }, cryptographic_holder_binding: holderBinding } as DcqlCredentialPresentation;
}
