import { randomBytes, X509Certificate } from 'node:crypto';
// A third-party wallet shares nothing with our server: it uses jose directly, never libs/crypto (issue 11 §5).
// eslint-disable-next-line no-restricted-imports
import { decodeProtectedHeader, errors as joseErrors, jwtVerify } from 'jose';

/**
 * The wallet's side of an OpenID4VP 1.0 request (issue 11 §5, VP-1…3): parse the `openid4vp://` link, fetch the
 * request object by reference (`request_uri_method=post` with a fresh `wallet_nonce`), and verify it as a wallet
 * must before showing anything to the user: JWS signed by the x5c leaf, `typ`, SAN dNSName = the `x509_san_dns:`
 * suffix, `client_id` equal to the link's (VP-2), `wallet_nonce` echoed, `exp`. DC API requests come here too.
 */

export class WalletError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WalletError';
  }
}

/** What a request object (or an unsigned DC API request) carries that the wallet uses (docs/openid4vp-wire.md). */
export interface WalletRequest {
  readonly response_type: string;
  readonly response_mode: string;
  readonly client_id?: string;
  readonly response_uri?: string;
  readonly nonce: string;
  readonly state?: string;
  readonly dcql_query: unknown;
  readonly transaction_data?: readonly string[];
  readonly client_metadata?: {
    readonly jwks?: { readonly keys: readonly Record<string, unknown>[] };
    readonly encrypted_response_enc_values_supported?: readonly string[];
  };
  readonly expected_origins?: readonly string[];
  readonly wallet_nonce?: string;
  readonly [member: string]: unknown;
}

export interface ParsedLink {
  readonly clientId: string;
  readonly requestUri: string;
  readonly requestUriMethod: 'get' | 'post';
}

/** `openid4vp://?client_id=…&request_uri=…&request_uri_method=post` (docs/openid4vp-wire.md). */
export function parseOpenid4vpLink(link: string): ParsedLink {
  let url: URL;
  try {
    url = new URL(link.trim());
  } catch {
    throw new WalletError('the link is not a URL');
  }
  if (url.protocol !== 'openid4vp:') throw new WalletError(`not an openid4vp: link (${url.protocol})`);
  const clientId = url.searchParams.get('client_id');
  const requestUri = url.searchParams.get('request_uri');
  if (!clientId) throw new WalletError('the link has no client_id');
  if (!requestUri || !URL.canParse(requestUri)) throw new WalletError('the link has no absolute request_uri');
  const method = url.searchParams.get('request_uri_method') ?? 'get';
  if (method !== 'get' && method !== 'post') throw new WalletError(`request_uri_method ${method} is not get or post`);
  return { clientId, requestUri, requestUriMethod: method };
}

/** Checks an issuer of request objects beyond "the leaf signed it" (e.g. chain to a trust list); throws to refuse. */
export type RequestSignerTrust = (x5c: readonly string[]) => void | Promise<void>;

export interface SignedRequestChecks {
  /** The `client_id` of the link (VP-2: identical in object and query). Absent over the DC API. */
  readonly clientId?: string;
  /** The `wallet_nonce` the wallet sent; the object must echo it (VP-2). */
  readonly walletNonce?: string;
  readonly trust?: RequestSignerTrust;
  readonly now?: Date;
}

export const REQUEST_OBJECT_TYP = 'oauth-authz-req+jwt';
const REQUEST_ALGS = ['ES256', 'ES384', 'ES512', 'PS256', 'PS384', 'PS512', 'EdDSA'];

/** Verifies a signed request object (JAR, RFC 9101) whose client identifier prefix is `x509_san_dns` (VP-1, VP-2). */
export async function verifySignedRequest(jws: string, checks: SignedRequestChecks): Promise<WalletRequest> {
  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(jws);
  } catch {
    throw new WalletError('the request object is not a JWS');
  }
  if (header.typ !== REQUEST_OBJECT_TYP) throw new WalletError(`request object typ is ${String(header.typ)}, not ${REQUEST_OBJECT_TYP}`);
  const x5c = header.x5c;
  if (!Array.isArray(x5c) || x5c.length === 0 || !x5c.every((c) => typeof c === 'string')) throw new WalletError('the request object has no x5c');
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(Buffer.from(x5c[0], 'base64'));
  } catch {
    throw new WalletError('the x5c leaf is not a certificate');
  }
  const now = checks.now ?? new Date();
  if (new Date(leaf.validFrom) > now || new Date(leaf.validTo) < now) throw new WalletError('the request signer certificate is not valid now');
  let payload: WalletRequest;
  try {
    const verified = await jwtVerify(jws, leaf.publicKey, { typ: REQUEST_OBJECT_TYP, algorithms: REQUEST_ALGS, requiredClaims: ['exp'], currentDate: now, clockTolerance: 30 });
    payload = verified.payload as unknown as WalletRequest;
  } catch (e) {
    const why = e instanceof joseErrors.JOSEError ? e.code : 'invalid';
    throw new WalletError(`the request object does not verify (${why})`);
  }
  const clientId = payload.client_id;
  if (typeof clientId !== 'string' || !clientId.startsWith('x509_san_dns:')) throw new WalletError('client_id is not an x509_san_dns client identifier');
  if (checks.clientId !== undefined && clientId !== checks.clientId) throw new WalletError('client_id of the request object differs from the link (VP-2)');
  const host = clientId.slice('x509_san_dns:'.length);
  if (!sanDnsNames(leaf).includes(host.toLowerCase())) throw new WalletError(`the signer certificate has no SAN dNSName ${host}`);
  if (checks.walletNonce !== undefined && payload.wallet_nonce !== checks.walletNonce) throw new WalletError('the request object does not echo wallet_nonce (VP-2)');
  if (payload.aud !== undefined && payload.aud !== 'https://self-issued.me/v2') throw new WalletError('the request object is meant for another audience');
  if (checks.trust) await checks.trust(x5c as string[]);
  assertRequestShape(payload);
  return payload;
}

/** `DNS:a, DNS:b, IP Address:…` → lower-cased dNSNames only (no CN fallback, no wildcards: a wallet matches exactly). */
function sanDnsNames(cert: X509Certificate): string[] {
  return (cert.subjectAltName ?? '')
    .split(', ')
    .filter((entry) => entry.startsWith('DNS:'))
    .map((entry) => entry.slice(4).toLowerCase());
}

export function assertRequestShape(request: WalletRequest): void {
  if (request.response_type !== 'vp_token') throw new WalletError('response_type is not vp_token');
  if (typeof request.nonce !== 'string' || request.nonce.length === 0) throw new WalletError('the request has no nonce (VP-1)');
  if (typeof request.response_mode !== 'string') throw new WalletError('the request has no response_mode');
  if (request.dcql_query === undefined) throw new WalletError('the request has no dcql_query');
  if (request.response_mode.startsWith('direct_post') && (typeof request.response_uri !== 'string' || !URL.canParse(request.response_uri))) {
    throw new WalletError('direct_post needs an absolute response_uri (VP-3)');
  }
  if (request.transaction_data !== undefined && (!Array.isArray(request.transaction_data) || request.transaction_data.length === 0)) {
    throw new WalletError('transaction_data must be a non-empty array (VP-4)');
  }
}

export interface FetchedRequest {
  readonly request: WalletRequest;
  readonly walletNonce?: string;
}

/** Fetches the request object (`POST` with `wallet_nonce` form field unless told to skip it) and verifies it. */
export async function fetchRequestObject(
  link: ParsedLink,
  options: { readonly fetch: typeof fetch; readonly sendWalletNonce: boolean; readonly trust?: RequestSignerTrust },
): Promise<FetchedRequest> {
  const walletNonce = link.requestUriMethod === 'post' && options.sendWalletNonce ? randomBytes(16).toString('base64url') : undefined;
  const res =
    link.requestUriMethod === 'post'
      ? await options.fetch(link.requestUri, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', accept: `application/${REQUEST_OBJECT_TYP}` },
          body: new URLSearchParams(walletNonce ? { wallet_nonce: walletNonce } : {}).toString(),
        })
      : await options.fetch(link.requestUri, { headers: { accept: `application/${REQUEST_OBJECT_TYP}` } });
  const body = await res.text();
  if (res.status !== 200) throw new WalletError(`request_uri answered ${res.status}: ${body.slice(0, 200)}`);
  const type = res.headers.get('content-type')?.split(';')[0].trim();
  if (type !== `application/${REQUEST_OBJECT_TYP}`) throw new WalletError(`request_uri answered with Content-Type ${String(type)} (VP-2)`);
  const request = await verifySignedRequest(body.trim(), { clientId: link.clientId, walletNonce, trust: options.trust });
  return { request, walletNonce };
}
