import type { AssertionAudience, Client } from '@fpa/clients';

/** The audience rule for a client: its own `assertion_audience`, else the deployment default. */
export function assertionAudienceOf(client: Client, strictByDefault: boolean): AssertionAudience {
  return client.assertionAudience ?? (strictByDefault ? 'issuer' : 'issuer_or_endpoint');
}

/**
 * JWTCA-4 / JWTCA-9 (rfc7523bis): `aud` must be the issuer identifier as the sole value, compared as
 * a plain string — a one-element array holding it is the same statement. `issuer_or_endpoint` (an
 * explicit opt-out) also accepts the URL of the endpoint the assertion was sent to, alone or beside
 * the issuer; never another endpoint of ours (an assertion for `/par` is not one for `/token`).
 */
export function assertionAudienceAccepted(aud: unknown, issuer: string, endpointUrl: string, rule: AssertionAudience): boolean {
  if (aud === issuer || (Array.isArray(aud) && aud.length === 1 && aud[0] === issuer)) return true;
  if (rule === 'issuer') return false;
  const accepted = [issuer, endpointUrl];
  if (typeof aud === 'string') return accepted.includes(aud);
  return Array.isArray(aud) && aud.length > 0 && aud.every((a) => typeof a === 'string' && accepted.includes(a));
}
