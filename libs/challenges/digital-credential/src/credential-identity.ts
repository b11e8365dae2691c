import type { JsonObject } from '@fpa/challenge-kit';
import type { CredentialPolicy, PresentationVerdict } from '@fpa/openid4vp';

/** Who a verified presentation proved (VP-7) and the disclosed claims the policy keeps (JSON, storable in flow state). */
export type CredentialIdentity = { readonly issuer: string; readonly subject: string; readonly format: string; readonly kept: JsonObject };

const at = (claims: Readonly<Record<string, unknown>>, path: readonly string[]): unknown => path.reduce<unknown>((v, k) => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>)[k] : undefined), claims);

/**
 * The identity of the first credential of a verified response: the configured claim of its format
 * (a stable identifier never reassigned, VP-7), always with the credential's issuer; plus the kept
 * claims (data minimisation: nothing else of the disclosure is stored).
 */
export function identityOf(verdict: Extract<PresentationVerdict, { ok: true }>, policy: CredentialPolicy): { ok: true; identity: CredentialIdentity } | { ok: false; description: string } {
  const c = verdict.credentials[0];
  if (!c) return { ok: false, description: 'the response carries no credential' };
  const path = policy.subjectClaims[c.format];
  const value = at(c.claims, path);
  if ((typeof value !== 'string' && typeof value !== 'number') || String(value).length === 0 || String(value).length > 255) {
    return { ok: false, description: `the credential discloses no usable ${path.join('.')} to identify the user` };
  }
  const kept: JsonObject = {};
  for (const p of policy.keepClaims) {
    const v = at(c.claims, p);
    if (v !== undefined && (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean')) kept[p.join('.')] = v;
  }
  return { ok: true, identity: { issuer: c.issuer, subject: String(value), format: c.format, kept } };
}
