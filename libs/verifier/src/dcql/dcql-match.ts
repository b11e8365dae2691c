import { DcqlPresentationResult, DcqlQuery, type DcqlCredentialPresentation } from 'dcql';

/** A presentation already verified (signature, trust, holder binding), reduced to what DCQL looks at. */
export interface DcqlVerifiedSdJwt {
  readonly format: 'dc+sd-jwt';
  readonly vct: string;
  readonly claims: Readonly<Record<string, unknown>>;
  /** True when a KB-JWT was verified (this verifier always requires one). */
  readonly holderBound?: boolean;
}

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
 * `vp_token` (credential query `id` → presentations) satisfy the query — formats, `vct_values`,
 * claim paths and `values`, claim sets and credential sets? A presentation under an id the query
 * does not have is refused, not ignored.
 */
export function matchDcqlQuery(query: unknown, presentations: Readonly<Record<string, readonly DcqlVerifiedSdJwt[]>>): DcqlMatch {
  const dcqlQuery = parseDcqlQuery(query);
  const known = new Set(dcqlQuery.credentials.map((c) => c.id));
  const unknown = Object.keys(presentations).find((id) => !known.has(id));
  if (unknown !== undefined) return { satisfied: false, reason: 'unknown_credential_query', detail: `no credential query ${unknown.slice(0, 64)}` };
  // Claims are JSON (decoded from the credential), which is what dcql's `Json` type says.
  const record: Record<string, DcqlCredentialPresentation[]> = Object.fromEntries(
    Object.entries(presentations).map(([id, list]) => [
      id,
      list.map((p) => ({ credential_format: p.format, vct: p.vct, claims: { ...p.claims }, cryptographic_holder_binding: p.holderBound ?? true }) as DcqlCredentialPresentation),
    ]),
  );
  let result: DcqlPresentationResult;
  try {
    result = DcqlPresentationResult.fromDcqlPresentation(record, { dcqlQuery });
  } catch (e) {
    return { satisfied: false, reason: 'not_satisfied', detail: e instanceof Error ? e.message.slice(0, 200) : 'unknown' };
  }
  if (!result.can_be_satisfied) return { satisfied: false, reason: 'not_satisfied', detail: 'the presentations do not satisfy the DCQL query' };
  return { satisfied: true, result };
}
