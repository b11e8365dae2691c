import { JwtVerificationError, localKeySet, verifyJwt, type JWK } from '@fpa/crypto';
import { OAuthError, type Clock } from '@fpa/oauth-core';
import type { DownstreamMetadataCache } from '../downstream/downstream-metadata.service';
import type { DownstreamTokens } from '../downstream/downstream-client';
import type { Downstream } from '../downstream/downstream-registry';

/** Who the downstream says authenticated, and how. */
export interface DownstreamIdentity {
  readonly subject: string;
  readonly acr: string | undefined;
  readonly amr: readonly string[];
  /** Which token said so. */
  readonly from: 'id_token' | 'access_token';
}

const ALGS = ['ES256', 'ES384', 'ES512', 'RS256', 'PS256', 'EdDSA'];

/**
 * FED-12 [INF]: the user the downstream authenticated — from its ID token when it is an OpenID
 * provider and `openid` was asked (OIDC Core §3.1.3.7: iss, aud = our client_id, exp), otherwise from
 * the access token's `sub` (a JWT, RFC 9068) — verified with the downstream's JWKS, fetched through
 * the one outbound client. An unknown `kid` fetches the set once more (a rotated key).
 */
export async function downstreamIdentity(d: Downstream, tokens: DownstreamTokens, askedOpenid: boolean, cache: DownstreamMetadataCache, clock: Clock): Promise<DownstreamIdentity> {
  const useId = askedOpenid && tokens.idToken !== undefined;
  const token = useId ? (tokens.idToken as string) : tokens.accessToken;
  const verify = async (refresh: boolean) => {
    const jwks = await cache.jwksOf(d, refresh);
    return verifyJwt(token, localKeySet(jwks as { keys: JWK[] }), {
      algorithms: ALGS,
      issuer: d.issuer,
      ...(useId ? { audience: d.clientId } : {}),
      requiredClaims: ['sub', 'exp'],
      currentDate: new Date(clock.nowMs()),
      clockToleranceSeconds: 30,
    });
  };
  let payload: Record<string, unknown>;
  try {
    payload = (await verify(false)).payload;
  } catch (e) {
    if (!(e instanceof JwtVerificationError)) throw e;
    if (e.failure !== 'no_matching_key') throw new OAuthError('access_denied', `the downstream server's ${useId ? 'ID token' : 'access token'} did not verify (${e.failure})`);
    try {
      payload = (await verify(true)).payload;
    } catch (again) {
      if (!(again instanceof JwtVerificationError)) throw again;
      throw new OAuthError('access_denied', `the downstream server's ${useId ? 'ID token' : 'access token'} did not verify (${again.failure})`);
    }
  }
  const sub = payload.sub;
  if (typeof sub !== 'string' || sub.length === 0 || sub.length > 255) throw new OAuthError('access_denied', 'the downstream server named no usable subject');
  const amr = Array.isArray(payload.amr) ? payload.amr.filter((v): v is string => typeof v === 'string' && v.length <= 64).slice(0, 16) : [];
  const acr = typeof payload.acr === 'string' && payload.acr.length <= 255 ? payload.acr : undefined;
  return { subject: sub, acr, amr, from: useId ? 'id_token' : 'access_token' };
}

/**
 * What we record of it (issue 10 item 4): `fed` always (RFC 8176), their `amr` values only as far as
 * this downstream is trusted for them, and the strength its `acr` proves only when that acr is one we
 * credit — otherwise one factor, not phishing-resistant.
 */
export function creditedAuthentication(d: Downstream, id: DownstreamIdentity): { amr: string[]; factors: 1 | 2; phishingResistant: boolean } {
  const trusted = id.amr.filter((v) => d.trust.amr.includes(v) && v !== 'fed');
  const credit = id.acr !== undefined ? d.trust.acr[id.acr] : undefined;
  return { amr: ['fed', ...new Set(trusted)], factors: credit?.factors ?? 1, phishingResistant: credit?.phishingResistant ?? false };
}
