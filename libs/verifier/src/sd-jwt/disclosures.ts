import { sha256B64u } from '@fpa/crypto';
import { refuse } from './presentation-refusal';

/** At most this many disclosures per presentation (a credential has tens of claims, not thousands). */
export const MAX_DISCLOSURES = 256;

/**
 * RFC 9901 (SD-JWT) §7.1 step 3: every disclosure sent must be referenced by a digest in the
 * issuer-signed payload or in another disclosure sent, and no digest may be used twice. The
 * @sd-jwt library silently drops a disclosure it cannot place — so a disclosure altered in transit
 * (a changed value, salt or name) would just vanish from the claims instead of failing: this check
 * turns it into a refusal (`disclosure_tampered`). Only `sha-256` (the default `_sd_alg`) is accepted.
 */
export function assertDisclosuresReferenced(issuerPayload: Record<string, unknown>, disclosures: readonly string[]): void {
  const alg = issuerPayload._sd_alg ?? 'sha-256';
  if (alg !== 'sha-256') refuse('malformed', `_sd_alg ${String(alg).slice(0, 32)} is not supported`);
  if (disclosures.length > MAX_DISCLOSURES) refuse('malformed', 'too many disclosures');
  const referenced = new Set<string>();
  collectDigests(issuerPayload, referenced);
  const decoded = disclosures.map((d) => ({ digest: sha256B64u(d), value: decodeDisclosure(d) }));
  for (const { value } of decoded) collectDigests(value[value.length - 1], referenced);
  const seen = new Set<string>();
  for (const { digest } of decoded) {
    if (seen.has(digest)) refuse('disclosure_tampered', 'a disclosure is sent twice');
    seen.add(digest);
    if (!referenced.has(digest)) refuse('disclosure_tampered', 'a disclosure is not referenced by the credential (altered or foreign)');
  }
}

function decodeDisclosure(disclosure: string): unknown[] {
  if (!/^[A-Za-z0-9_-]+$/.test(disclosure)) refuse('malformed', 'a disclosure is not base64url');
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(disclosure, 'base64url').toString('utf8'));
  } catch {
    refuse('malformed', 'a disclosure is not JSON');
  }
  const ok = Array.isArray(value) && typeof value[0] === 'string' && (value.length === 2 || (value.length === 3 && typeof value[1] === 'string'));
  if (!ok) refuse('malformed', 'a disclosure is not [salt, name, value] or [salt, value]');
  return value as unknown[];
}

function collectDigests(node: unknown, into: Set<string>, depth = 0): void {
  if (depth > 32 || node === null || typeof node !== 'object') return;
  if (Array.isArray(node)) {
    for (const item of node) {
      const ref = item !== null && typeof item === 'object' && !Array.isArray(item) ? (item as Record<string, unknown>)['...'] : undefined;
      if (typeof ref === 'string') into.add(ref);
      else collectDigests(item, into, depth + 1);
    }
    return;
  }
  for (const [key, value] of Object.entries(node)) {
    if (key === '_sd' && Array.isArray(value)) {
      for (const digest of value) if (typeof digest === 'string') into.add(digest);
    } else {
      collectDigests(value, into, depth + 1);
    }
  }
}
