import { OAuthError } from '@fpa/oauth-core';
import type { CredentialFormat } from './credential-policy';
import { refusal, type PresentationExpectations, type PresentationVerdict, type PresentationVerifier, type VerifiedCredential } from './presentation-verifier';

const MAX_BYTES = 262_144;

/**
 * The verifier port over HTTP (docs/verifier.md, "HTTP contract"): the presentation and what it
 * must be bound to are POSTed as JSON to DIGITAL_CREDENTIALS_VERIFIER_URL; the service answers
 * `200 {"ok": true, "credentials": [...]}` or `200 {"ok": false, "code", "reason", "description"}`.
 * Anything else (a timeout, a 5xx, a malformed answer) is `temporarily_unavailable`: a login is
 * never accepted on a verifier's silence.
 */
export class HttpPresentationVerifier implements PresentationVerifier {
  constructor(
    private readonly url: string,
    private readonly timeoutMs = 5000,
    private readonly fetcher: typeof fetch = fetch,
  ) {}

  async verify(vpToken: unknown, e: PresentationExpectations): Promise<PresentationVerdict> {
    const body = {
      vp_token: vpToken,
      expectations: {
        dcql_query: e.dcqlQuery,
        nonce: e.nonce,
        binding: e.binding.kind === 'redirect' ? { kind: 'redirect', client_id: e.binding.clientId, response_uri: e.binding.responseUri } : { kind: 'dc_api', origins: [...e.binding.origins] },
        ...(e.transactionData ? { transaction_data: [...e.transactionData] } : {}),
        ...(e.jwkThumbprint ? { jwk_thumbprint: e.jwkThumbprint } : {}),
        now: Math.floor(e.now.getTime() / 1000),
      },
    };
    let answer: unknown;
    try {
      const res = await this.fetcher(this.url, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(this.timeoutMs), redirect: 'error' });
      const text = await res.text();
      if (res.status !== 200 || text.length > MAX_BYTES) throw new Error(`status ${res.status}`);
      answer = JSON.parse(text) as unknown;
    } catch (err) {
      throw new OAuthError('temporarily_unavailable', 'the presentation verifier did not answer', { headers: { 'Retry-After': '5' }, cause: err });
    }
    return parseVerdict(answer);
  }
}

function parseVerdict(a: unknown): PresentationVerdict {
  const bad = (): never => {
    throw new OAuthError('temporarily_unavailable', 'the presentation verifier answered something unusable', { headers: { 'Retry-After': '5' } });
  };
  if (typeof a !== 'object' || a === null) return bad();
  const o = a as Record<string, unknown>;
  if (o.ok === false) return refusal(str(o.code) ?? 'invalid_presentation', str(o.reason) ?? 'refused', str(o.description) ?? 'refused by the verifier');
  if (o.ok !== true || !Array.isArray(o.credentials) || o.credentials.length === 0) return bad();
  const credentials: VerifiedCredential[] = o.credentials.map((c: unknown) => {
    const x = (c ?? {}) as Record<string, unknown>;
    const format = x.format === 'dc+sd-jwt' || x.format === 'mso_mdoc' ? (x.format as CredentialFormat) : bad();
    const claims = typeof x.claims === 'object' && x.claims !== null && !Array.isArray(x.claims) ? (x.claims as Record<string, unknown>) : bad();
    return { credentialId: str(x.credential_id) ?? bad(), format, issuer: str(x.issuer) ?? bad(), claims };
  });
  return { ok: true, credentials };
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 && v.length <= 2048 ? v : undefined);
