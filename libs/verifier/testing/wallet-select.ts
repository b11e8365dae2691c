import { DcqlQuery, type DcqlCredential } from 'dcql';
import { WalletError } from './wallet-request';

/**
 * DCQL on the wallet side (issue 11 §5): which held credential answers which credential query and which claims
 * to disclose, decided with the `dcql` library like a wallet does (not with the verifier's matcher).
 */

export type HeldCredential =
  | { readonly format: 'dc+sd-jwt'; readonly raw: string; readonly vct: string; readonly claims: Record<string, unknown> }
  | { readonly format: 'mso_mdoc'; readonly raw: string; readonly docType: string; readonly namespaces: Record<string, Record<string, unknown>> };

type ClaimPath = readonly (string | number | null)[];

export interface Selection {
  readonly queryId: string;
  readonly credential: HeldCredential;
  /** Claim paths to disclose; undefined = the query names no claims, disclose everything. */
  readonly paths?: readonly ClaimPath[];
}

interface QueryCredential {
  readonly id: string;
  readonly claims?: readonly { readonly id?: string; readonly path?: ClaimPath; readonly namespace?: string; readonly claim_name?: string }[];
  readonly claim_sets?: readonly (readonly string[])[];
}

function toDcql(credential: HeldCredential): DcqlCredential {
  return credential.format === 'dc+sd-jwt'
    ? ({ credential_format: 'dc+sd-jwt', vct: credential.vct, claims: credential.claims, cryptographic_holder_binding: true } as DcqlCredential)
    : ({ credential_format: 'mso_mdoc', doctype: credential.docType, namespaces: credential.namespaces, cryptographic_holder_binding: true } as DcqlCredential);
}

/** Answers a DCQL query from the held credentials; throws {@link WalletError} when it cannot be satisfied. */
export function selectCredentials(query: unknown, held: readonly HeldCredential[]): Selection[] {
  let parsed: DcqlQuery;
  try {
    parsed = DcqlQuery.parse(query as DcqlQuery.Input);
    DcqlQuery.validate(parsed);
  } catch (e) {
    throw new WalletError(`the dcql_query is not valid: ${e instanceof Error ? e.message.slice(0, 200) : 'invalid'}`);
  }
  const result = DcqlQuery.query(parsed, held.map(toDcql));
  if (!result.can_be_satisfied) throw new WalletError('the wallet holds nothing that satisfies the dcql_query');
  const matchable = (id: string): boolean => result.credential_matches[id]?.success === true;
  const wanted = wantedQueryIds(parsed, matchable);
  return wanted.map((queryId) => {
    const match = result.credential_matches[queryId];
    if (!match?.success) throw new WalletError(`no credential for ${queryId}`);
    const chosen = match.valid_credentials[0];
    const q = (parsed.credentials as readonly QueryCredential[]).find((c) => c.id === queryId) as QueryCredential;
    return { queryId, credential: held[chosen.input_credential_index], paths: claimPaths(q, chosen.claims.valid_claim_sets[0]?.claim_set_index) };
  });
}

/**
 * The `ignore_dcql` misbehaviour: each credential query is answered with the first held credential of its format,
 * whether or not it satisfies the query (no paths: everything is disclosed), so a verifier's DCQL check can be tested.
 */
export function selectIgnoringQuery(query: unknown, held: readonly HeldCredential[]): Selection[] {
  const credentials = (query as { credentials?: unknown } | undefined)?.credentials;
  if (!Array.isArray(credentials)) throw new WalletError('the dcql_query has no credentials');
  return (credentials as { id: string; format: string }[]).map(({ id, format }) => {
    const credential = held.find((c) => c.format === format);
    if (!credential) throw new WalletError(`the wallet holds no ${format} credential for ${id}`);
    return { queryId: id, credential };
  });
}

/** Without `credential_sets` every credential query is answered; with them, the first satisfiable option of each required set. */
function wantedQueryIds(parsed: DcqlQuery, matchable: (id: string) => boolean): string[] {
  if (!parsed.credential_sets) return parsed.credentials.map((c) => c.id);
  const ids = new Set<string>();
  for (const set of parsed.credential_sets) {
    const option = set.options.find((o) => o.every(matchable));
    if (option) option.forEach((id) => ids.add(id));
    else if (set.required !== false) throw new WalletError('a required credential set cannot be satisfied');
  }
  return [...ids];
}

function claimPaths(query: QueryCredential, claimSetIndex: number | undefined): ClaimPath[] | undefined {
  if (!query.claims) return undefined;
  const ids = claimSetIndex !== undefined && query.claim_sets ? new Set(query.claim_sets[claimSetIndex]) : undefined;
  return query.claims
    .filter((c) => !ids || (c.id !== undefined && ids.has(c.id)))
    .map((c) => c.path ?? [c.namespace as string, c.claim_name as string]);
}

/**
 * SD-JWT presentation frame (`{ address: { locality: true } }`) for claim paths; an array index or null discloses
 * the whole array. Undefined (no claims asked) = disclose everything.
 */
export function sdJwtFrame(paths: readonly ClaimPath[] | undefined): Record<string, unknown> | undefined {
  if (!paths) return undefined;
  const frame: Record<string, unknown> = {};
  for (const path of paths) {
    let node = frame;
    for (let i = 0; i < path.length; i++) {
      const key = path[i];
      if (typeof key !== 'string') break;
      const last = i === path.length - 1 || typeof path[i + 1] !== 'string';
      if (last) {
        node[key] = true;
        break;
      }
      if (typeof node[key] !== 'object' || node[key] === null) node[key] = {};
      node = node[key] as Record<string, unknown>;
    }
  }
  return frame;
}

/** mdoc disclosure (namespace → element identifiers) for `[namespace, element]` paths. */
export function mdocDisclosure(paths: readonly ClaimPath[] | undefined, namespaces: Record<string, Record<string, unknown>>): Record<string, string[]> {
  if (!paths) return Object.fromEntries(Object.entries(namespaces).map(([ns, items]) => [ns, Object.keys(items)]));
  const out: Record<string, string[]> = {};
  for (const [ns, element] of paths) {
    if (typeof ns !== 'string' || typeof element !== 'string') throw new WalletError('an mdoc claim path is [namespace, element]');
    (out[ns] ??= []).push(element);
  }
  return out;
}
