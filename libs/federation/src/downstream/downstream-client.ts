import { createDpopProof, randomToken, signJwt } from '@fpa/crypto';
import { OAuthError, type Clock } from '@fpa/oauth-core';
import { OutboundError, type OutboundHttp, type OutboundResponse } from '../http/outbound-http';
import type { FederationKeyring } from '../keys/federation-keys.service';
import { unavailable, type DownstreamMetadata } from './downstream-metadata.service';
import type { Downstream } from './downstream-registry';

const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

export interface PushParams {
  readonly codeChallenge: string;
  readonly scope: string | undefined;
  readonly acrValues: string | undefined;
  readonly nativeCallbackUri: string | undefined;
  /** RFC 6749 / OIDC `login_hint`: the e-mail or phone the user gave for routing (FED-6), when any. */
  readonly loginHint?: string;
}

export interface DownstreamTokens {
  readonly accessToken: string;
  readonly idToken: string | undefined;
  readonly scope: string | undefined;
}

/**
 * What a downstream answered with an OAuth error (its `error` code): the code was refused, our
 * client registration is wrong, … — not a transport failure. The federation stays resumable.
 */
export class DownstreamRefusal extends Error {
  constructor(
    readonly error: string,
    readonly status: number,
  ) {
    super(`the downstream server refused: ${error}`);
  }
}

/**
 * The suite as an OAuth client of a downstream server (FED-11, FED-12): an authenticated PAR
 * (private_key_jwt, RFC 7523, `aud` = the downstream issuer) with PKCE S256 and our DPoP key's
 * `dpop_jkt`, and the code's redemption with the same client authentication, a DPoP proof of our
 * key (one retry with the server's nonce, RFC 9449 §8) and the PKCE verifier.
 */
export class DownstreamClient {
  /**
   * The last DPoP nonce each downstream token endpoint gave (RFC 9449 §8): reused by the next
   * redemption, so a federation costs one token request, not two (the benchmark found every
   * redemption paying for a `use_dpop_nonce` round trip). Bounded: one entry per configured endpoint.
   */
  private readonly nonces = new Map<string, string>();
  private static readonly MAX_NONCES = 256;

  constructor(
    private readonly http: OutboundHttp,
    private readonly keys: FederationKeyring,
    private readonly clock: Clock,
  ) {}

  async push(d: Downstream, meta: DownstreamMetadata, p: PushParams): Promise<{ requestUri: string; expiresIn: number }> {
    if (!meta.parEndpoint) throw new OAuthError('native_authorization_federate_unsupported', `${d.issuer} offers no pushed authorization request endpoint`);
    const dpop = await this.keys.key('dpop');
    const form: Record<string, string> = {
      response_type: 'code',
      client_id: d.clientId,
      code_challenge: p.codeChallenge,
      code_challenge_method: 'S256',
      dpop_jkt: dpop.jkt,
      ...(await this.clientAuth(d)),
    };
    if (p.scope) form.scope = p.scope;
    if (p.acrValues) form.acr_values = p.acrValues;
    if (d.redirectUri) form.redirect_uri = d.redirectUri;
    // FED-3: the app's native_callback_uri travels on to the downstream.
    if (p.nativeCallbackUri) form.native_callback_uri = p.nativeCallbackUri;
    if (p.loginHint) form.login_hint = p.loginHint;
    const res = await this.post(meta.parEndpoint, form, d);
    const body = res.json as Record<string, unknown> | undefined;
    if (res.status !== 201 && res.status !== 200) throw refusal(res);
    if (typeof body?.request_uri !== 'string' || body.request_uri.length > 2048) throw unavailable(`${d.issuer} answered the PAR without a request_uri`);
    const expiresIn = typeof body.expires_in === 'number' && body.expires_in > 0 ? Math.min(body.expires_in, 3600) : 60;
    return { requestUri: body.request_uri, expiresIn };
  }

  async redeem(d: Downstream, meta: DownstreamMetadata, code: string, verifier: string): Promise<DownstreamTokens> {
    if (!meta.tokenEndpoint) throw unavailable(`${d.issuer} publishes no token endpoint`);
    const form: Record<string, string> = { grant_type: 'authorization_code', code, code_verifier: verifier, client_id: d.clientId };
    if (d.redirectUri) form.redirect_uri = d.redirectUri;
    const endpoint = meta.tokenEndpoint;
    for (let attempt = 0; ; attempt++) {
      const headers = { DPoP: await this.proof('POST', endpoint, this.nonces.get(endpoint)) };
      // A fresh assertion per attempt: its jti is single use at the downstream.
      const res = await this.post(endpoint, { ...form, ...(await this.clientAuth(d)) }, d, headers);
      const body = res.json as Record<string, unknown> | undefined;
      const fresh = res.headers['dpop-nonce'];
      if (fresh && fresh.length <= 1024) this.remember(endpoint, fresh);
      // RFC 9449 §8: the server wants a (new) nonce — the request was refused before the code was looked at.
      if (res.status === 400 && body?.error === 'use_dpop_nonce' && fresh && attempt === 0) continue;
      if (res.status !== 200) throw refusal(res);
      if (typeof body?.access_token !== 'string') throw unavailable(`${d.issuer} answered the token request without an access_token`);
      return { accessToken: body.access_token, idToken: typeof body.id_token === 'string' ? body.id_token : undefined, scope: typeof body.scope === 'string' ? body.scope : undefined };
    }
  }

  private remember(endpoint: string, nonce: string): void {
    if (!this.nonces.has(endpoint) && this.nonces.size >= DownstreamClient.MAX_NONCES) this.nonces.delete(this.nonces.keys().next().value as string);
    this.nonces.set(endpoint, nonce);
  }

  private async post(url: string, form: Record<string, string>, d: Downstream, headers: Record<string, string> = {}): Promise<OutboundResponse> {
    try {
      const res = await this.http.postForm(url, form, headers);
      if (res.status >= 500 || res.json === undefined) throw unavailable(`${d.issuer} answered ${res.status}${res.json === undefined ? ' without JSON' : ''}`);
      return res;
    } catch (e) {
      if (e instanceof OutboundError) throw unavailable(`${d.issuer}: ${e.message}`, e);
      throw e;
    }
  }

  /** RFC 7523 §2.2 / rfc7523bis: iss = sub = our client_id there, aud = its issuer, short-lived, single-use jti. */
  private async clientAuth(d: Downstream): Promise<Record<string, string>> {
    const key = await this.keys.key('assertion');
    const now = Math.floor(this.clock.nowMs() / 1000);
    const assertion = await signJwt({ iss: d.clientId, sub: d.clientId, aud: d.issuer, iat: now, exp: now + 60, jti: randomToken(16) }, { alg: key.alg, kid: key.kid, typ: 'JWT' }, key.privateKey);
    return { client_assertion_type: JWT_BEARER, client_assertion: assertion };
  }

  private async proof(htm: string, htu: string, nonce: string | undefined): Promise<string> {
    const key = await this.keys.key('dpop');
    return createDpopProof(key, { htm, htu, iat: Math.floor(this.clock.nowMs() / 1000), ...(nonce ? { nonce } : {}) });
  }
}

function refusal(res: OutboundResponse): DownstreamRefusal {
  const body = res.json as Record<string, unknown> | undefined;
  const error = typeof body?.error === 'string' && /^[\x20-\x7E]{1,64}$/.test(body.error) ? body.error : 'invalid_response';
  return new DownstreamRefusal(error, res.status);
}
