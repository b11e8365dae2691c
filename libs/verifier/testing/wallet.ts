import { IssuerSigned } from '@owf/mdoc';
import { SDJwtVcInstance } from '@sd-jwt/sd-jwt-vc';
import { createTestMdocHolder, type HolderTranscript, type TestMdocHolder } from './mdoc-holder';
import { createTestMdocIssuer, type TestMdocIssuer } from './mdoc-issuer';
import { sdJwtHasher, TestSdJwtIssuer } from './sd-jwt-issuer';
import { TestHolder } from './sd-jwt-wallet';
import { buildVpToken, encryptionTarget, encryptResponse, type EncryptionTarget, type WalletMisbehaviour } from './wallet-present';
import { assertRequestShape, fetchRequestObject, parseOpenid4vpLink, verifySignedRequest, WalletError, type RequestSignerTrust, type WalletRequest } from './wallet-request';
import { selectCredentials, selectIgnoringQuery, type HeldCredential } from './wallet-select';

/**
 * A test wallet that plays a real OpenID4VP 1.0 wallet (issue 11 §5) with independent libraries only — jose,
 * dcql, @sd-jwt/*, @owf/mdoc and the test issuers/holders of this folder — so tests against our verifier
 * endpoints meet what a third-party wallet sends (docs/openid4vp-wire.md):
 *   followLink(): same-/cross-device `openid4vp://` link → request object by reference → direct_post(.jwt);
 *   answerDcApi(): a Digital Credentials API `credentials_request` → `{protocol, data}` and the app's `vp_token`.
 * Misbehaviour switches (one per call) change one thing on the wire for refusal tests; replayLastPost() replays.
 */

export interface WalletPost {
  readonly url: string;
  readonly form: Readonly<Record<string, string>>;
}

export interface WalletAnswer {
  readonly status: number;
  /** The response endpoint's JSON (e.g. `{redirect_uri}`), or its text when it is not JSON. */
  readonly body: unknown;
  /** The response endpoint's headers (`Cache-Control: no-store`…). */
  readonly headers: Headers;
  /** The verified request object the wallet answered. */
  readonly request: WalletRequest;
  /** What was posted (form fields), for assertions. */
  readonly posted: WalletPost;
  /** The vp_token before encryption (absent when an error was posted). */
  readonly vpToken?: Record<string, string[]>;
}

export interface FollowOptions {
  readonly fetch?: typeof fetch;
  readonly misbehave?: WalletMisbehaviour;
}

export interface DcApiCredentialsRequest {
  readonly requests: readonly { readonly protocol: string; readonly data: unknown }[];
}

export interface DcApiOptions {
  /** Which protocol to answer when both are offered; default the signed one (as wallets prefer). */
  readonly prefer?: 'signed' | 'unsigned';
  readonly misbehave?: WalletMisbehaviour;
}

export interface DcApiAnswer {
  /** What `navigator.credentials.get` resolves to. */
  readonly protocol: string;
  readonly data: { readonly vp_token: Record<string, string[]> } | { readonly response: string } | { readonly error: string; readonly error_description?: string };
  /** What the app posts as `vp_token`: the object for `dc_api`, the compact JWE for `dc_api.jwt` (docs/openid4vp-wire.md). */
  readonly vpToken: Record<string, string[]> | string | undefined;
  readonly request: WalletRequest;
}

export interface TestWalletOptions {
  /** Extra trust decision on request-object signers (chain to a list…); default: the leaf's SAN is enough. */
  readonly trustRequestSigner?: RequestSignerTrust;
  readonly fetch?: typeof fetch;
  readonly sdJwtIssuer?: TestSdJwtIssuer;
  readonly mdocIssuer?: TestMdocIssuer;
}

export const DC_API_SIGNED = 'openid4vp-v1-signed';
export const DC_API_UNSIGNED = 'openid4vp-v1-unsigned';

export class TestWallet {
  private readonly held: HeldCredential[] = [];
  private lastPost?: WalletPost;

  private constructor(
    readonly sdJwtHolder: TestHolder,
    readonly mdocHolder: TestMdocHolder,
    /** The issuers of the credentials it holds: their roots are what a verifier trusts. */
    readonly sdJwtIssuer: TestSdJwtIssuer,
    readonly mdocIssuer: TestMdocIssuer,
    private readonly options: TestWalletOptions,
  ) {}

  /** A wallet with fresh holder keys and no credentials (issuers created unless given). */
  static async create(options: TestWalletOptions = {}): Promise<TestWallet> {
    const sdJwtIssuer = options.sdJwtIssuer ?? (await TestSdJwtIssuer.create());
    const mdocIssuer = options.mdocIssuer ?? (await createTestMdocIssuer());
    return new TestWallet(TestHolder.create(), createTestMdocHolder(), sdJwtIssuer, mdocIssuer, options);
  }

  /** A wallet holding a PID SD-JWT VC (`urn:eudi:pid:1`) and an mDL, both bound to its keys. */
  static async withTestCredentials(options: TestWalletOptions & { readonly sdJwtClaims?: Record<string, unknown>; readonly mdocElements?: Record<string, unknown> } = {}): Promise<TestWallet> {
    const wallet = await TestWallet.create(options);
    await wallet.addSdJwt(await wallet.sdJwtIssuer.issue({ holderJwk: wallet.sdJwtHolder.publicJwk, claims: options.sdJwtClaims }));
    await wallet.addMdoc(await wallet.mdocIssuer.issue({ devicePublicJwk: wallet.mdocHolder.devicePublicJwk, elements: options.mdocElements }));
    return wallet;
  }

  /** Holds an SD-JWT VC (issued to {@link sdJwtHolder}); its claims are read like a wallet does, disclosures applied. */
  async addSdJwt(credential: string): Promise<void> {
    const claims = (await new SDJwtVcInstance({ hasher: sdJwtHasher, hashAlg: 'sha-256' }).getClaims(credential)) as Record<string, unknown>;
    if (typeof claims.vct !== 'string') throw new WalletError('the SD-JWT VC has no vct');
    this.held.push({ format: 'dc+sd-jwt', raw: credential, vct: claims.vct, claims });
  }

  /** Holds an mdoc (IssuerSigned base64url as OpenID4VCI delivers it, bound to {@link mdocHolder}). */
  async addMdoc(issuerSigned: string): Promise<void> {
    const decoded = IssuerSigned.fromEncodedForOid4Vci(issuerSigned);
    const namespaces: Record<string, Record<string, unknown>> = {};
    for (const ns of decoded.issuerNamespaces.issuerNamespaces.keys()) namespaces[ns] = (decoded.getPrettyClaims(ns) ?? {}) as Record<string, unknown>;
    this.held.push({ format: 'mso_mdoc', raw: issuerSigned, docType: decoded.issuerAuth.mobileSecurityObject.docType, namespaces });
    await Promise.resolve();
  }

  get credentials(): readonly HeldCredential[] {
    return this.held;
  }

  /** Same-/cross-device flow: follow an `openid4vp://` link to the end and return the response endpoint's answer. */
  async followLink(link: string, options: FollowOptions = {}): Promise<WalletAnswer> {
    const doFetch = options.fetch ?? this.options.fetch ?? fetch;
    const m = options.misbehave;
    const parsed = parseOpenid4vpLink(link);
    const { request } = await fetchRequestObject(parsed, { fetch: doFetch, sendWalletNonce: m !== 'skip_wallet_nonce', trust: this.options.trustRequestSigner });
    const mode = request.response_mode;
    if (mode !== 'direct_post' && mode !== 'direct_post.jwt') throw new WalletError(`response_mode ${mode} is not for a link`);
    const responseUri = request.response_uri as string;
    const clientId = request.client_id as string;
    const form: Record<string, string> = {};
    let vpToken: Record<string, string[]> | undefined;
    if (m === 'post_error') {
      Object.assign(form, { error: 'access_denied', error_description: 'the user declined' });
    } else {
      const target = mode === 'direct_post.jwt' ? await encryptionTarget(request) : undefined;
      vpToken = await this.vpToken(request, clientId, { kind: 'openid4vp', clientId, nonce: request.nonce, responseUri, jwkThumbprint: target?.thumbprint }, m);
      if (target) form.response = await encryptResponse({ vp_token: vpToken, ...(request.state ? { state: request.state } : {}) }, target, m);
      else form.vp_token = JSON.stringify(vpToken);
    }
    if (request.state !== undefined && form.response === undefined) form.state = request.state;
    const posted = { url: responseUri, form };
    const { status, body, headers } = await this.post(posted, doFetch);
    return { status, body, headers, request, posted, vpToken };
  }

  /** Posts the last response again, byte for byte (a replay, VP-3: a response is accepted once). */
  async replayLastPost(options: { readonly fetch?: typeof fetch } = {}): Promise<{ status: number; body: unknown; headers: Headers }> {
    if (!this.lastPost) throw new WalletError('nothing was posted yet');
    return this.post(this.lastPost, options.fetch ?? this.options.fetch ?? fetch);
  }

  /** DC API: answer `navigator.credentials.get({ digital: credentialsRequest })` as the platform's wallet would at `origin`. */
  async answerDcApi(credentialsRequest: DcApiCredentialsRequest, origin: string, options: DcApiOptions = {}): Promise<DcApiAnswer> {
    if (!URL.canParse(origin) || new URL(origin).origin !== origin) throw new WalletError('origin must be a web origin');
    const requests = Array.isArray(credentialsRequest?.requests) ? credentialsRequest.requests : [];
    const order = options.prefer === 'unsigned' ? [DC_API_UNSIGNED, DC_API_SIGNED] : [DC_API_SIGNED, DC_API_UNSIGNED];
    const chosen = order.map((p) => requests.find((r) => r.protocol === p)).find((r) => r !== undefined);
    if (!chosen) throw new WalletError('no openid4vp-v1 request in the credentials request');
    const request = await this.dcApiRequest(chosen, origin);
    const m = options.misbehave;
    if (m === 'post_error') {
      return { protocol: chosen.protocol, data: { error: 'access_denied', error_description: 'the user declined' }, vpToken: undefined, request };
    }
    const target = request.response_mode === 'dc_api.jwt' ? await encryptionTarget(request) : undefined;
    const vpToken = await this.vpToken(request, `origin:${origin}`, { kind: 'dc_api', origin, nonce: request.nonce, jwkThumbprint: target?.thumbprint }, m);
    if (!target) return { protocol: chosen.protocol, data: { vp_token: vpToken }, vpToken, request };
    const response = await encryptResponse({ vp_token: vpToken, ...(request.state ? { state: request.state } : {}) }, target, m);
    return { protocol: chosen.protocol, data: { response }, vpToken: response, request };
  }

  private async dcApiRequest(chosen: { protocol: string; data: unknown }, origin: string): Promise<WalletRequest> {
    let request: WalletRequest;
    if (chosen.protocol === DC_API_SIGNED) {
      const jws = (chosen.data as { request?: unknown } | undefined)?.request;
      if (typeof jws !== 'string') throw new WalletError('the signed DC API request has no request JWS');
      request = await verifySignedRequest(jws, { trust: this.options.trustRequestSigner });
      // VP-3: a signed request names the origins it may be used from.
      if (!Array.isArray(request.expected_origins) || !request.expected_origins.includes(origin)) throw new WalletError(`origin ${origin} is not in expected_origins (VP-3)`);
    } else {
      request = chosen.data as WalletRequest;
      if (typeof request !== 'object' || request === null) throw new WalletError('the unsigned DC API request is not an object');
      // VP-3: an unsigned request carries no client_id (the origin is the verifier's identity).
      if (request.client_id !== undefined) throw new WalletError('an unsigned DC API request must not carry client_id (VP-3)');
      assertRequestShape(request);
    }
    if (request.response_mode !== 'dc_api' && request.response_mode !== 'dc_api.jwt') throw new WalletError(`response_mode ${request.response_mode} is not a DC API mode`);
    return request;
  }

  private async vpToken(request: WalletRequest, audience: string, transcript: HolderTranscript, misbehave?: WalletMisbehaviour): Promise<Record<string, string[]>> {
    const chosen = misbehave === 'ignore_dcql' ? selectIgnoringQuery(request.dcql_query, this.held) : selectCredentials(request.dcql_query, this.held);
    const selections = misbehave === 'disclose_all' ? chosen.map((s) => ({ ...s, paths: undefined })) : chosen;
    return buildVpToken(selections, { request, audience, transcript, sdJwtHolder: this.sdJwtHolder, mdocHolder: this.mdocHolder, misbehave });
  }

  private async post(posted: WalletPost, doFetch: typeof fetch): Promise<{ status: number; body: unknown; headers: Headers }> {
    this.lastPost = posted;
    const res = await doFetch(posted.url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: new URLSearchParams(posted.form as Record<string, string>).toString(),
    });
    const text = await res.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON: hand the text back
    }
    return { status: res.status, body, headers: res.headers };
  }
}

export type { EncryptionTarget, WalletMisbehaviour };
