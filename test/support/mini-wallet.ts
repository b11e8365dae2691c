import { createHash } from 'node:crypto';
import { encryptEcdhEsJwe, thumbprint, verifyJwsWithX5c, type JWK } from '@fpa/crypto';
import { TestHolder, TestSdJwtIssuer, type SdJwtPresentOptions, type TestMdocHolder } from '@fpa/verifier/testing';
import { postForm, type FormResponse } from '@fpa/testing';

/**
 * A minimal wallet for the issue-11 e2e tests (the lead switches them to TestWallet from
 * libs/verifier/testing/wallet.ts when it lands): it fetches the request object like a wallet
 * (POST with wallet_nonce, checks the x5c signature and the echoed nonce), presents an SD-JWT VC or
 * an mdoc bound to the request, and answers with direct_post / direct_post.jwt (or hands the DC API
 * result to the app). Built only from @fpa/verifier/testing, jose and HTTP.
 */
export interface RequestObject {
  readonly [k: string]: unknown;
  readonly nonce: string;
  readonly state?: string;
  readonly response_mode: string;
  readonly response_uri?: string;
  readonly client_id?: string;
  readonly transaction_data?: string[];
  readonly dcql_query: { credentials: { id: string; format: string }[] };
  readonly client_metadata: { jwks: { keys: JWK[] } };
}

export class MiniWallet {
  readonly holder = TestHolder.create();

  constructor(readonly issuer: TestSdJwtIssuer) {}

  /** VP-2: POSTs to the request_uri of an `openid4vp://` link; verifies the JWS with its x5c leaf. */
  async fetchRequest(link: string, walletNonce = 'wn-' + Date.now()): Promise<{ request: RequestObject; response: FormResponse }> {
    const u = new URL(link);
    const requestUri = u.searchParams.get('request_uri')!;
    const res = await fetch(requestUri, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ wallet_nonce: walletNonce }) });
    const text = await res.text();
    if (res.status !== 200) return { request: undefined as never, response: { status: res.status, text, body: JSON.parse(text) as Record<string, unknown>, headers: res.headers } };
    const request = await verifyRequestObject(text);
    if (request.client_id !== u.searchParams.get('client_id') || request.wallet_nonce !== walletNonce) throw new Error('request object does not match the link');
    return { request, response: { status: res.status, text, body: {}, headers: res.headers } };
  }

  async sdJwt(claims: Record<string, unknown>, extra: Partial<Parameters<TestSdJwtIssuer['issue']>[0]> = {}): Promise<string> {
    return this.issuer.issue({ claims, holderJwk: this.holder.publicJwk, ...extra });
  }

  /** A presentation of `credential` for `request` (aud = its client_id, or `origin:<origin>` for the DC API). */
  present(credential: string, request: RequestObject, options: Partial<SdJwtPresentOptions> & { aud?: string } = {}): Promise<string> {
    return this.holder.present(credential, { nonce: request.nonce, aud: options.aud ?? request.client_id!, ...(request.transaction_data ? { transactionData: request.transaction_data } : {}), ...options });
  }

  /** The JWE a wallet sends for `*.jwt` response modes, to the request's key (or another one). */
  async encrypt(request: RequestObject, body: Record<string, unknown>, key?: JWK): Promise<string> {
    const jwk = key ?? request.client_metadata.jwks.keys[0];
    return encryptEcdhEsJwe(new TextEncoder().encode(JSON.stringify(body)), jwk, 'A128GCM', request.client_metadata.jwks.keys[0].kid);
  }

  /** VP-3: the wallet's post to response_uri, direct_post or direct_post.jwt as the request asks. */
  async respond(request: RequestObject, vpToken: Record<string, unknown>, options: { key?: JWK; state?: string } = {}): Promise<FormResponse> {
    const state = options.state ?? request.state!;
    if (request.response_mode === 'direct_post.jwt') return postForm(request.response_uri!, { response: await this.encrypt(request, { vp_token: vpToken, state }, options.key) });
    return postForm(request.response_uri!, { vp_token: JSON.stringify(vpToken), state });
  }

  /** An mdoc presentation for a redirect-based request (OpenID4VPHandover) or the DC API (OpenID4VPDCAPIHandover). */
  async mdoc(holder: TestMdocHolder, issuerSigned: string, request: RequestObject, origin?: string): Promise<string> {
    const encrypted = request.response_mode.endsWith('.jwt');
    const thumb = encrypted ? { jwkThumbprint: new Uint8Array(Buffer.from(await thumbprint({ kty: 'EC', crv: 'P-256', x: request.client_metadata.jwks.keys[0].x, y: request.client_metadata.jwks.keys[0].y }), 'base64url')) } : {};
    const transcript = origin ? { kind: 'dc_api' as const, origin, nonce: request.nonce, ...thumb } : { kind: 'openid4vp' as const, clientId: request.client_id!, nonce: request.nonce, responseUri: request.response_uri!, ...thumb };
    // Disclose what the query asks for ([namespace, element] paths), as a wallet answering DCQL does.
    const disclose: Record<string, string[]> = {};
    for (const c of request.dcql_query.credentials as { claims?: { path: string[] }[] }[]) for (const { path } of c.claims ?? []) (disclose[path[0]] ??= []).push(path[1]);
    return holder.present({ issuerSigned, transcript, disclose });
  }
}

export async function verifyRequestObject(jws: string): Promise<RequestObject> {
  const { header, payload } = await verifyJwsWithX5c(jws);
  if (header.typ !== 'oauth-authz-req+jwt') throw new Error('not a request object');
  return payload as unknown as RequestObject;
}

export const b64uSha256 = (s: string): string => createHash('sha256').update(s).digest('base64url');
