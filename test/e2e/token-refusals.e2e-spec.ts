import { expectToken, tokenRefusalsApp } from '../support/token-refusals';
import { clientAuthenticationRefusals } from './token-refusals/client-authentication';
import { dpopRefusals } from './token-refusals/dpop';
import { wireFormatRefusals } from './token-refusals/wire-format';

/**
 * Every refusal of the token endpoint for the device flow (CONTRACT §2, §4; seed 000 (C)/(D),
 * seed 002, seed 004): client authentication with the device assertion (RFC 7523 / rfc7523bis,
 * JWTCA-*) and DPoP at the authorization server (RFC 9449, DPOP-*), against the standalone app on
 * real PostgreSQL and Redis. Each refusal asserts status, `error`, `Cache-Control: no-store` and
 * that no token was issued.
 *
 * One app serves the whole file: the last test reads from /metrics what every refusal before it
 * counted. The describe blocks per subject are in test/e2e/token-refusals/, the app and the request
 * helpers in test/support/token-refusals.ts.
 */

describe('token endpoint refusals (standalone, PostgreSQL + Redis)', () => {
  const t = tokenRefusalsApp();
  const { ccRequest } = t;

  it('control: the well-formed request is accepted (so every refusal below is caused by its one defect)', async () => {
    const res = await ccRequest();
    expectToken(res);
    expect(res.body.auth_session).toBe(t.device.authSession);
  });

  clientAuthenticationRefusals(t);

  dpopRefusals(t);

  wireFormatRefusals(t);

  it('CONTRACT-8 /metrics counts DPoP failures and client-authentication failures by reason', async () => {
    const res = await fetch(`${t.suite.issuer}/metrics`);
    expect(res.status).toBe(200);
    const text = await res.text();
    const value = (metric: string, labels: string): number => {
      const line = text.split('\n').find((l) => l.startsWith(`${metric}{`) && labels.split(',').every((lab) => l.includes(lab)));
      return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
    };
    for (const reason of ['nonce', 'missing', 'htm', 'htu', 'iat', 'replay', 'private_jwk', 'typ', 'alg', 'signature', 'claims', 'malformed', 'device_key', 'multiple']) {
      expect({ reason, counted: value('fpa_dpop_failures_total', `reason="${reason}"`) > 0 }).toEqual({ reason, counted: true });
    }
    // Every test fetches a nonce with a nonce-less proof, plus the explicit nonce tests.
    expect(value('fpa_dpop_failures_total', 'reason="nonce"')).toBeGreaterThan(40);
    for (const reason of ['unknown_client', 'audience', 'lifetime', 'replay', 'expired', 'bad_signature', 'unknown_session', 'foreign_session', 'session_expired', 'assertion_type', 'missing_assertion', 'client_id_mismatch', 'typ', 'malformed', 'no_device_session', 'claim_invalid', 'missing_client_id']) {
      const n = value('fpa_client_auth_failures_total', `reason="${reason}"`);
      expect({ reason, counted: n > 0 }).toEqual({ reason, counted: true });
    }
    expect(value('fpa_token_errors_total', 'grant="client_credentials",error="invalid_client"')).toBeGreaterThan(10);
    expect(value('fpa_token_errors_total', 'grant="client_credentials",error="invalid_dpop_proof"')).toBeGreaterThan(10);
  });
});
