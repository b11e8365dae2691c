import type { VerifiedMdoc, VerifiedSdJwtPresentation } from '@fpa/verifier';
import type { JsonQuery } from './credential-policy';

type Match = { readonly satisfied: true } | { readonly satisfied: false; readonly detail: string };
interface ClaimQuery {
  readonly id?: string;
  readonly path: readonly (string | number | null)[];
  readonly values?: readonly unknown[];
}
interface CredentialQuery {
  readonly id: string;
  readonly format: string;
  readonly meta?: { readonly doctype_value?: string };
  readonly claims?: readonly ClaimQuery[];
  readonly claim_sets?: readonly (readonly string[])[];
}

/**
 * LOCAL ADAPTER (issue 11; to be replaced by libs/verifier's mdoc DCQL matching when it lands):
 * DCQL satisfaction for mdoc presentations — every credential query is answered, the docType is
 * the query's `doctype_value`, and the claims (`[namespace, element]`, `values`) of every claim, or
 * of one claim set, were disclosed. SD-JWT credential queries in the same query must be answered too.
 * Credential sets are not evaluated here (every credential query is required).
 */
export function matchMdocQuery(query: JsonQuery, mdocs: Readonly<Record<string, readonly VerifiedMdoc[]>>, sdJwts: Readonly<Record<string, readonly VerifiedSdJwtPresentation[]>>): Match {
  for (const q of (query.credentials as CredentialQuery[] | undefined) ?? []) {
    if (q.format === 'dc+sd-jwt') {
      if (!sdJwts[q.id]?.length) return { satisfied: false, detail: `credential query ${q.id} was not answered` };
      continue;
    }
    const list = mdocs[q.id] ?? [];
    if (list.length === 0) return { satisfied: false, detail: `credential query ${q.id} was not answered` };
    if (!list.every((m) => m.docType === q.meta?.doctype_value && satisfiesClaims(q, m))) return { satisfied: false, detail: `credential query ${q.id} is not satisfied` };
  }
  return { satisfied: true };
}

function satisfiesClaims(q: CredentialQuery, m: VerifiedMdoc): boolean {
  const claims = q.claims ?? [];
  const has = (c: ClaimQuery): boolean => {
    const [ns, element] = c.path;
    if (typeof ns !== 'string' || typeof element !== 'string') return false;
    const ns_ = m.namespaces[ns];
    if (!ns_ || !Object.prototype.hasOwnProperty.call(ns_, element)) return false;
    return c.values === undefined || c.values.some((v) => v === ns_[element]);
  };
  if (!q.claim_sets) return claims.every(has);
  return q.claim_sets.some((set) => set.every((id) => {
    const c = claims.find((x) => x.id === id);
    return c !== undefined && has(c);
  }));
}
