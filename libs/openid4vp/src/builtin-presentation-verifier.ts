import type { X509Certificate } from 'node:crypto';
import { decodeJwtUnverified } from '@fpa/crypto';
import {
  matchDcqlQuery,
  PresentationRefusal,
  verifyMdocPresentation,
  verifySdJwtPresentation,
  type DcqlVerifiedPresentation,
  type IssuerTrust,
  type StatusListChecker,
  type VerifiedMdoc,
  type VerifiedSdJwtPresentation,
} from '@fpa/verifier';
import { refusal, type PresentationExpectations, type PresentationVerdict, type PresentationVerifier, type VerifiedCredential } from './presentation-verifier';

/** At most this many presentations per credential query, and credential queries per response. */
const MAX_PRESENTATIONS = 4;
const MAX_QUERIES = 8;

interface CredentialQuery {
  readonly id: string;
  readonly format: string;
  readonly meta?: { readonly vct_values?: readonly string[]; readonly doctype_value?: string };
}

/** The trust and status policy of the built-in verifier (credential-trust.provider.ts builds it from configuration). */
export interface BuiltinVerifierOptions extends IssuerTrust {
  /** Token Status List checks; without one, an SD-JWT VC carrying `status` is refused `status_unsupported`. */
  readonly statusLists?: StatusListChecker;
  /** Read at each verification instead of `trustAnchors` (the embedded default's watched DATA_DIR/trust-anchors). */
  readonly anchorSource?: () => readonly X509Certificate[];
}

type Decoded = { readonly transactionData: readonly { readonly raw: string; readonly ids: readonly string[] }[] };

/**
 * The built-in verifier: libs/verifier for each presentation (SD-JWT VC: x5c or issuer-metadata trust,
 * KB-JWT nonce, aud, iat, sd_hash, transaction_data_hashes, Token Status List; mdoc: IACA trust, device
 * signature over the OpenID4VP or DC API session transcript), then DCQL over what verified (VP-5: reject
 * the whole response when one presentation fails).
 */
export class BuiltinPresentationVerifier implements PresentationVerifier {
  /** An array is the anchors alone (no metadata trust, no status checks: a credential with `status` is refused). */
  constructor(private readonly options: BuiltinVerifierOptions | readonly X509Certificate[]) {}

  /** The issuer roots: fixed, or read at each verification (the embedded default's watched directory). */
  private get trustAnchors(): readonly X509Certificate[] {
    if (isAnchorList(this.options)) return this.options;
    return this.options.anchorSource ? this.options.anchorSource() : this.options.trustAnchors;
  }

  async verify(vpToken: unknown, e: PresentationExpectations): Promise<PresentationVerdict> {
    if (typeof vpToken !== 'object' || vpToken === null || Array.isArray(vpToken)) return refusal('invalid_request', 'malformed', 'vp_token must be a JSON object of credential query ids');
    const queries = (e.dcqlQuery.credentials as CredentialQuery[] | undefined) ?? [];
    const entries = Object.entries(vpToken as Record<string, unknown>);
    if (entries.length === 0 || entries.length > MAX_QUERIES) return refusal('invalid_request', 'malformed', 'vp_token names no credential query, or too many');
    const td = decodeTransactionData(e.transactionData);
    if (!td) return refusal('invalid_transaction_data', 'transaction_data', 'the request’s transaction data is malformed');
    const sdJwts: Record<string, VerifiedSdJwtPresentation[]> = {};
    const mdocs: Record<string, VerifiedMdoc[]> = {};
    const credentials: VerifiedCredential[] = [];
    for (const [id, list] of entries) {
      const q = queries.find((c) => c.id === id);
      if (!q) return refusal('invalid_presentation', 'unknown_credential_query', `the query has no credential ${id.slice(0, 64)}`);
      if (!Array.isArray(list) || list.length === 0 || list.length > MAX_PRESENTATIONS || !list.every((p) => typeof p === 'string')) {
        return refusal('invalid_request', 'malformed', `vp_token.${id.slice(0, 64)} must be a non-empty array of presentations`);
      }
      const tdFor = td.transactionData.filter((t) => t.ids.includes(id)).map((t) => t.raw);
      for (const p of list as string[]) {
        try {
          if (q.format === 'dc+sd-jwt') {
            const v = await this.sdJwt(p, q, e, tdFor);
            (sdJwts[id] ??= []).push(v);
            credentials.push({ credentialId: id, format: 'dc+sd-jwt', issuer: v.issuer, claims: v.claims });
          } else if (q.format === 'mso_mdoc') {
            // The built-in mdoc path does not bind transaction data (no KB-JWT): refuse rather than ignore it.
            if (tdFor.length > 0) return refusal('invalid_transaction_data', 'transaction_data', 'transaction data cannot be bound to an mdoc presentation');
            const v = await this.mdoc(p, q, e);
            if (!v.ok) return v.verdict;
            (mdocs[id] ??= []).push(v.mdoc);
            credentials.push({ credentialId: id, format: 'mso_mdoc', issuer: v.mdoc.issuer.issuer, claims: v.mdoc.namespaces });
          } else return refusal('vp_formats_not_supported', 'format', `format ${q.format} is not supported`);
        } catch (err) {
          if (err instanceof PresentationRefusal) return refusal(err.code, err.reason, err.message);
          throw err;
        }
      }
    }
    // Every transaction data entry must have been bound by a presentation of a credential it names (VP-4).
    for (const t of td.transactionData) if (!t.ids.some((id) => sdJwts[id]?.length)) return refusal('invalid_transaction_data', 'transaction_data_hashes', 'no presentation carries hashes of every transaction data entry');
    // VP-5 "query satisfaction" over everything that verified, both formats, by dcql.
    const presented: Record<string, DcqlVerifiedPresentation[]> = {};
    for (const [id, l] of Object.entries(sdJwts)) (presented[id] ??= []).push(...l.map((v) => ({ format: v.format, vct: v.vct, claims: v.claims, holderBound: true })));
    for (const [id, l] of Object.entries(mdocs)) (presented[id] ??= []).push(...l.map((m) => ({ format: 'mso_mdoc' as const, docType: m.docType, namespaces: m.namespaces, holderBound: true })));
    const match = matchDcqlQuery(e.dcqlQuery, presented);
    if (!match.satisfied) return refusal('invalid_presentation', 'dcql', `the presentations do not satisfy the query: ${match.detail}`);
    return { ok: true, credentials };
  }

  private async sdJwt(p: string, q: CredentialQuery, e: PresentationExpectations, transactionData: readonly string[]): Promise<VerifiedSdJwtPresentation> {
    let audience: string;
    if (e.binding.kind === 'redirect') audience = e.binding.clientId;
    else {
      // DC API: the KB-JWT is bound to the app's origin (`origin:<origin>`); it must be one of the client's.
      audience = kbAudience(p) ?? '';
      if (!e.binding.origins.some((o) => audience === `origin:${o}`)) throw new PresentationRefusal('invalid_presentation', 'audience', 'the key binding is not for an origin of this app');
    }
    return verifySdJwtPresentation(p, {
      nonce: e.nonce,
      audience,
      trustAnchors: this.trustAnchors,
      // VP-5 trust/revocation policy: metadata-trusted issuers (no x5c) and the credential's status list.
      ...(isAnchorList(this.options) ? {} : { ...(this.options.issuerMetadata ? { issuerMetadata: this.options.issuerMetadata } : {}), ...(this.options.statusLists ? { statusLists: this.options.statusLists } : {}) }),
      allowedVcts: q.meta?.vct_values ?? [],
      now: e.now,
      ...(transactionData.length > 0 ? { transactionData } : {}),
    });
  }

  private async mdoc(p: string, q: CredentialQuery, e: PresentationExpectations): Promise<{ ok: true; mdoc: VerifiedMdoc } | { ok: false; verdict: PresentationVerdict }> {
    const anchors = this.trustAnchors.map((c) => new Uint8Array(c.raw));
    const thumb = e.jwkThumbprint ? { jwkThumbprint: new Uint8Array(Buffer.from(e.jwkThumbprint, 'base64url')) } : {};
    const transcripts =
      e.binding.kind === 'redirect'
        ? [{ kind: 'openid4vp' as const, clientId: e.binding.clientId, nonce: e.nonce, responseUri: e.binding.responseUri, ...thumb }]
        : e.binding.origins.map((origin) => ({ kind: 'dc_api' as const, origin, nonce: e.nonce, ...thumb }));
    let last: PresentationVerdict = refusal('invalid_presentation', 'device_signature', 'no origin to bind the presentation to');
    for (const sessionTranscript of transcripts) {
      const r = await verifyMdocPresentation(p, { docType: q.meta?.doctype_value ?? '', sessionTranscript, trustAnchors: anchors, now: e.now });
      if (r.ok) return { ok: true, mdoc: r.mdoc };
      last = refusal('invalid_presentation', r.refusal.code, r.refusal.reason);
      if (r.refusal.code !== 'device_signature') break;
    }
    return { ok: false, verdict: last };
  }
}

const isAnchorList = (o: BuiltinVerifierOptions | readonly X509Certificate[]): o is readonly X509Certificate[] => Array.isArray(o);

/** The KB-JWT's `aud` (the last `~`-separated part), unverified: only to pick which registered origin to check against. */
function kbAudience(presentation: string): string | undefined {
  const kb = presentation.slice(presentation.lastIndexOf('~') + 1);
  if (!kb) return undefined;
  try {
    const aud = decodeJwtUnverified(kb, { maxLength: 8192 }).payload.aud;
    return typeof aud === 'string' ? aud : undefined;
  } catch {
    return undefined;
  }
}

function decodeTransactionData(list: readonly string[] | undefined): Decoded | undefined {
  const out: { raw: string; ids: string[] }[] = [];
  for (const raw of list ?? []) {
    try {
      const v = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as { credential_ids?: unknown };
      if (!Array.isArray(v.credential_ids) || !v.credential_ids.every((i) => typeof i === 'string')) return undefined;
      out.push({ raw, ids: v.credential_ids as string[] });
    } catch {
      return undefined;
    }
  }
  return { transactionData: out };
}
