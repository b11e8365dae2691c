import { randomUUID } from 'node:crypto';
import { createDpopProof, createSymmetricPopProof, generateClientKeyPair, randomToken, s256CodeChallenge, signJwt, thumbprint, type ClientKeyPair, type JWK, type SymmetricPopKey } from '@fpa/crypto';
import type { AuthorizeOptions } from './authorization-challenge';
import { OAuthClientError } from './errors';
import { walkNativeAuthorization, type WalkEvent, type WalkPort } from './native-walk';

export interface RegistrationResult {
  readonly fp_token: string;
  readonly token_type: 'fp+jwt';
  readonly auth_session: string;
  readonly state?: string;
  readonly expires_in: number;
}

export interface TokenResult {
  readonly access_token: string;
  readonly token_type: string;
  readonly expires_in: number;
  readonly refresh_token?: string;
  readonly scope?: string;
  readonly auth_session?: string;
  /** PoP tokens (seed 001 (D)): the PoP key, and the resource server's key. */
  readonly cnf?: Record<string, unknown>;
  readonly rs_cnf?: { readonly jwk?: JWK };
}

/**
 * A PoP token request (seed 001 (C), docs/pop-tokens.md): `client-key` binds the DPoP key (sent as
 * `req_cnf`, proven by the DPoP proof of the same request); `symmetric` asks the server for a key.
 * `resourceServerKey`: the public key the app expects of that resource server — `rs_cnf` must match
 * it (RFC 7638 thumbprint), or the token is refused before it is ever sent anywhere.
 */
export interface PopTokenOptions {
  readonly key: 'client-key' | 'symmetric';
  readonly audience: string;
  readonly resourceServerKey: JWK;
}

export type SdkEvent =
  | { readonly step: 'register'; readonly authSession: string; readonly deviceJkt: string }
  | { readonly step: 'nonce'; readonly server: string; readonly endpoint: string }
  | { readonly step: 'token'; readonly grant: string; readonly tokenType: string; readonly expiresIn: number }
  | { readonly step: 'resource'; readonly url: string; readonly status: number }
  | ({ readonly mode: 'public' | 'device' } & Extract<WalkEvent, { step: 'challenge' }>)
  | Exclude<WalkEvent, { step: 'challenge' }>
  | { readonly step: 'authorization_code'; readonly mode: 'public' | 'device'; readonly authSession: string };

/** The outcome of `authorize`: the code (already redeemed) and the tokens it gave. */
export interface AuthorizeResult {
  readonly authorizationCode: string;
  readonly authSession: string;
  readonly tokens: TokenResult;
}

const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

export interface FirstPartyClientOptions {
  /** The suite's issuer (its metadata document is read from it). */
  readonly issuer: string;
  readonly clientId: string;
  /** Device key (registered) and DPoP key (per RFC 9449; seed 000 (C): never the same). Generated when omitted. */
  readonly deviceKey?: ClientKeyPair;
  readonly dpopKey?: ClientKeyPair;
  readonly fetch?: typeof fetch;
  readonly onEvent?: (event: SdkEvent) => void;
}

interface Metadata {
  readonly token_endpoint: string;
  readonly device_registration_endpoint?: string;
  readonly revocation_endpoint?: string;
  readonly authorization_challenge_endpoint?: string;
  readonly [k: string]: unknown;
}

/**
 * The native-app side of the device flow (seeds 000/002/004): a device key pair registered at the
 * registration endpoint, client assertions carrying `device_auth_session`, DPoP proofs with server
 * nonces (retried once on `use_dpop_nonce`), refresh with rotation, and DPoP calls to APIs — and the
 * authorization challenge loop (`authorize`, seed 000 (E)–(H)) for both ways in.
 */
export class FirstPartyClient {
  authSession: string | undefined;
  accessToken: string | undefined;
  refreshToken: string | undefined;
  tokenType: string | undefined;
  /** The resource server a PoP token is for, and the symmetric key it was issued with (if the server generated one). */
  pop: { audience: string; symmetricKey: SymmetricPopKey | undefined } | undefined;

  private metadata: Metadata | undefined;
  /** register() succeeded: `authorize` defaults to the device way in once there is an access token. */
  private registered = false;
  /** Nonces are per server (DPOP-27): keyed by origin and role. */
  private readonly nonces = new Map<string, string>();
  private readonly doFetch: typeof fetch;

  private constructor(
    readonly options: FirstPartyClientOptions,
    readonly deviceKey: ClientKeyPair,
    readonly dpopKey: ClientKeyPair,
  ) {
    this.doFetch = options.fetch ?? fetch;
  }

  static async create(options: FirstPartyClientOptions): Promise<FirstPartyClient> {
    const deviceKey = options.deviceKey ?? (await generateClientKeyPair('ES256'));
    const dpopKey = options.dpopKey ?? (await generateClientKeyPair('ES256'));
    if (deviceKey.jkt === dpopKey.jkt) throw new Error('the DPoP key must differ from the device key');
    return new FirstPartyClient(options, deviceKey, dpopKey);
  }

  get issuer(): string {
    return this.options.issuer.replace(/\/+$/, '');
  }

  async discover(): Promise<Metadata> {
    if (this.metadata) return this.metadata;
    const res = await this.doFetch(`${this.issuer}/.well-known/oauth-authorization-server`);
    const body = (await res.json()) as Metadata & { issuer?: string };
    // RFC 8414 §3.3: the issuer in the document must be the one we asked.
    if (!res.ok || body.issuer !== this.issuer) throw new Error(`metadata of ${this.issuer} is missing or names another issuer`);
    this.metadata = body;
    return body;
  }

  /** (A)/(B): register the device key; `via: 'token'` uses grant_type=fp_register (seed 004). */
  async register(options: { state?: string; nonce?: string; via?: 'register' | 'token' } = {}): Promise<RegistrationResult> {
    const md = await this.discover();
    const url = options.via === 'token' ? md.token_endpoint : (md.device_registration_endpoint ?? `${this.issuer}/register`);
    // `alg` tells the server which algorithm the device signs its assertions with (an RSA key may
    // sign RS256 or PS256, an OKP key EdDSA or Ed25519; the server otherwise picks the first one).
    const form: Record<string, string> = { client_id: this.options.clientId, public_key: JSON.stringify(this.deviceKey.publicJwk), alg: this.deviceKey.alg };
    if (options.via === 'token') form.grant_type = 'fp_register';
    if (options.state) form.state = options.state;
    if (options.nonce) form.nonce = options.nonce;
    const body = (await this.postForm(url, form)) as unknown as RegistrationResult;
    this.authSession = body.auth_session;
    this.registered = true;
    this.options.onEvent?.({ step: 'register', authSession: body.auth_session, deviceJkt: this.deviceKey.jkt });
    return body;
  }

  /** Seed 004 client assertion: iss = sub = client_id, aud = issuer, short-lived, single-use jti. */
  async clientAssertion(overrides: Record<string, unknown> = {}): Promise<string> {
    if (!this.authSession) throw new Error('register the device first');
    const now = Math.floor(Date.now() / 1000);
    return signJwt(
      {
        iss: this.options.clientId,
        sub: this.options.clientId,
        aud: this.issuer,
        iat: now,
        exp: now + 60,
        jti: randomUUID(),
        device_auth_session: this.authSession,
        ...overrides,
      },
      { alg: this.deviceKey.alg, typ: 'client-authentication+jwt' },
      this.deviceKey.privateKey,
    );
  }

  /** (C)/(D): client credentials with the device assertion and DPoP. */
  async requestToken(params: { scope?: string; resource?: string; pop?: PopTokenOptions } = {}): Promise<TokenResult> {
    const md = await this.discover();
    const form: Record<string, string> = {
      grant_type: 'client_credentials',
      client_assertion_type: ASSERTION_TYPE,
      client_assertion: await this.clientAssertion(),
    };
    if (params.scope) form.scope = params.scope;
    if (params.resource) form.resource = params.resource;
    if (!params.pop) return this.tokenRequest(md.token_endpoint, form, 'client_credentials');
    // Seed 001 (C): the grant with the resource server and the key to bind (or a request for one).
    form.audience = params.pop.audience;
    form.token_type = 'pop';
    if (params.pop.key === 'client-key') form.req_cnf = JSON.stringify({ jwk: this.dpopKey.publicJwk });
    const token = await this.tokenRequest(md.token_endpoint, form, 'client_credentials');
    await this.acceptPopToken(token, params.pop);
    return token;
  }

  /** Seed 001 (D): a PoP token is kept only if it is one, for the expected resource server key (`rs_cnf`). */
  private async acceptPopToken(token: TokenResult, pop: PopTokenOptions): Promise<void> {
    const refuse = (why: string): never => {
      this.accessToken = undefined;
      this.tokenType = undefined;
      throw new Error(`PoP token refused: ${why}`);
    };
    if (token.token_type.toLowerCase() !== 'pop') refuse(`token_type is ${token.token_type}`);
    const rsKey = token.rs_cnf?.jwk;
    if (!rsKey || (await thumbprint(rsKey)) !== (await thumbprint(pop.resourceServerKey))) refuse('rs_cnf is not the key of the resource server the app is about to call');
    const cnfJwk = token.cnf?.jwk as JWK | undefined;
    if (pop.key === 'symmetric') {
      if (cnfJwk?.kty !== 'oct' || typeof cnfJwk.k !== 'string' || typeof cnfJwk.kid !== 'string') refuse('cnf carries no symmetric key');
      this.pop = { audience: pop.audience, symmetricKey: { jwk: { kty: 'oct', alg: 'HS256', k: cnfJwk!.k!, kid: cnfJwk!.kid! } } };
    } else {
      if (!cnfJwk || (await thumbprint(cnfJwk)) !== this.dpopKey.jkt) refuse('cnf is not the key the app asked for');
      this.pop = { audience: pop.audience, symmetricKey: undefined };
    }
  }

  /**
   * The authorization challenge loop (FiPA -04 §5, CONTRACT §5): starts a flow (PKCE S256 generated
   * here), hands every 403 `insufficient_authorization` to `onChallenge` and sends its answer with
   * `auth_session` and a proof by the same DPoP key, retries once on `use_dpop_nonce`, and redeems
   * the authorization code at the token endpoint (public: `client_id`; device: a device assertion;
   * both with the `code_verifier` and a DPoP proof). The tokens and `auth_session` are kept.
   * Federation (seed 003) is followed too: `insufficient_information` goes to `onInformation`,
   * `federate` to the downstream server and its answer back to `response_uri`, `redirect_to_app`
   * to `onRedirectToApp` (libs/client-sdk/src/native-walk.ts).
   * Throws `RedirectToWebError` (with `requestUri`) on `redirect_to_web`, `ChallengeAbandonedError`
   * when `onChallenge` gives up, `OAuthClientError` on any other refusal.
   */
  async authorize(options: AuthorizeOptions): Promise<AuthorizeResult> {
    const md = await this.discover();
    const endpoint = md.authorization_challenge_endpoint;
    if (!endpoint) throw new Error(`${this.issuer} advertises no authorization_challenge_endpoint`);
    const mode = options.mode ?? (this.registered && this.accessToken ? 'device' : 'public');
    const deviceToken = mode === 'device' ? this.accessToken : undefined;
    if (mode === 'device' && !deviceToken) throw new Error('device mode needs a device access token: register() and requestToken() first');
    const verifier = randomToken(32);
    const first: Record<string, unknown> = { response_type: 'code', code_challenge: s256CodeChallenge(verifier), code_challenge_method: 'S256' };
    // Way (a) names the client; way (b) is identified by its access token.
    if (mode === 'public') first.client_id = this.options.clientId;
    if (options.scope) first.scope = options.scope;
    if (options.acrValues) first.acr_values = options.acrValues;
    if (options.maxAge !== undefined) first.max_age = String(options.maxAge);
    if (options.loginHint) first.login_hint = options.loginHint;
    if (options.resource ?? options.pop) first.resource = options.resource ?? options.pop!.audience;
    if (options.challengeType) first.challenge_type = options.challengeType;
    if (options.nativeCallbackUri) first.native_callback_uri = options.nativeCallbackUri;
    const port: WalkPort = {
      request: async (url, params, token) => {
        const res = await this.challengeRequest(url, params, token);
        // FIPA-25: the newest auth_session of the home server replaces the stored one.
        if (new URL(url).origin === new URL(endpoint).origin && typeof res.body.auth_session === 'string') this.authSession = res.body.auth_session;
        return res;
      },
      emit: (event) => this.options.onEvent?.(event.step === 'challenge' ? { ...event, mode } : event),
    };
    const { authorizationCode, authSession } = await walkNativeAuthorization(port, { endpoint, accessToken: deviceToken, params: { ...first, ...options.params } }, options);
    this.options.onEvent?.({ step: 'authorization_code', mode, authSession });
    const form: Record<string, string> = { grant_type: 'authorization_code', code: authorizationCode, code_verifier: verifier };
    if (mode === 'device') Object.assign(form, { client_assertion_type: ASSERTION_TYPE, client_assertion: await this.clientAssertion() });
    else form.client_id = this.options.clientId;
    // Seed 001 (C): the grant, the resource server and the key to bind (the DPoP key of this flow, or a generated one).
    if (options.pop) Object.assign(form, { token_type: 'pop', audience: options.pop.audience }, options.pop.key === 'client-key' ? { req_cnf: JSON.stringify({ jwk: this.dpopKey.publicJwk }) } : {});
    const tokens = await this.tokenRequest(md.token_endpoint, form, 'authorization_code');
    if (options.pop) await this.acceptPopToken(tokens, options.pop);
    return { authorizationCode, authSession, tokens };
  }

  /**
   * FED-14, as the downstream server's own app: completes a request another app handed over with
   * `redirect_to_app` (the deep link carries `client_id` and `request_uri`), with this registered
   * device's token, answering challenges through `onChallenge`. The code is not this app's (FED-15):
   * it returns it with the `native_callback_uri` the server vouched for, and `callbackUrl`, the URL
   * to open so the other app gets it. Nothing is redeemed here.
   */
  async completeAppHandoff(deepLink: string, options: Pick<AuthorizeOptions, 'onChallenge' | 'maxSteps'>): Promise<{ authorizationCode: string; nativeCallbackUri: string; callbackUrl: string }> {
    const md = await this.discover();
    const endpoint = md.authorization_challenge_endpoint;
    if (!endpoint) throw new Error(`${this.issuer} advertises no authorization_challenge_endpoint`);
    if (!this.accessToken) throw new Error('a handoff is completed with this device\'s access token: register() and requestToken() first');
    const link = new URL(deepLink);
    const clientId = link.searchParams.get('client_id');
    const requestUri = link.searchParams.get('request_uri');
    if (!clientId || !requestUri) throw new Error('the deep link carries no client_id and request_uri');
    const port: WalkPort = { request: (url, params, token) => this.challengeRequest(url, params, token), emit: (event) => this.options.onEvent?.(event.step === 'challenge' ? { ...event, mode: 'device' } : event) };
    const { authorizationCode, body } = await walkNativeAuthorization(port, { endpoint, accessToken: this.accessToken, params: { client_id: clientId, request_uri: requestUri } }, options);
    const nativeCallbackUri = body.native_callback_uri;
    if (typeof nativeCallbackUri !== 'string') throw new Error('the server named no native_callback_uri for this handoff');
    const callback = new URL(nativeCallbackUri);
    callback.searchParams.set('authorization_code', authorizationCode);
    return { authorizationCode, nativeCallbackUri, callbackUrl: callback.toString() };
  }

  async refresh(): Promise<TokenResult> {
    if (!this.refreshToken) throw new Error('no refresh token');
    const md = await this.discover();
    return this.tokenRequest(md.token_endpoint, { grant_type: 'refresh_token', refresh_token: this.refreshToken, client_id: this.options.clientId }, 'refresh_token');
  }

  async revoke(token = this.refreshToken): Promise<void> {
    if (!token) return;
    const md = await this.discover();
    await this.postForm(md.revocation_endpoint ?? `${this.issuer}/revoke`, { token, client_id: this.options.clientId });
  }

  /** Calls an API with `Authorization: DPoP` and a proof bound to the token (`ath`); retries once on a nonce challenge. */
  async fetchResource(url: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Response> {
    if (!this.accessToken) throw new Error('no access token');
    const method = (init.method ?? 'GET').toUpperCase();
    const target = new URL(url);
    const htu = `${target.origin}${target.pathname}`;
    if (this.tokenType?.toLowerCase() === 'pop') return this.fetchWithPop(url, method, htu, init);
    const nonceKey = `rs|${target.origin}`;
    for (let attempt = 0; ; attempt++) {
      const proof = await this.proof(method, htu, this.nonces.get(nonceKey), this.accessToken);
      const res = await this.doFetch(url, {
        method,
        body: init.body,
        headers: { ...init.headers, authorization: `${this.tokenType === 'Bearer' ? 'Bearer' : 'DPoP'} ${this.accessToken}`, dpop: proof },
      });
      const nonce = res.headers.get('dpop-nonce');
      if (nonce) this.nonces.set(nonceKey, nonce);
      const challenge = res.headers.get('www-authenticate') ?? '';
      if (res.status === 401 && /error="use_dpop_nonce"/.test(challenge) && attempt === 0 && nonce) {
        this.options.onEvent?.({ step: 'nonce', server: target.origin, endpoint: target.pathname });
        continue;
      }
      this.options.onEvent?.({ step: 'resource', url, status: res.status });
      return res;
    }
  }

  /**
   * Seed 001 (E): `Authorization: PoP <token>` and a `PoP` proof — a DPoP-style proof with the
   * client key, or the HS256 `pop+jwt` with the generated key (docs/pop-tokens.md).
   */
  private async fetchWithPop(url: string, method: string, htu: string, init: { headers?: Record<string, string>; body?: string }): Promise<Response> {
    const token = this.accessToken!;
    const key = this.pop?.symmetricKey;
    const proof = key ? await createSymmetricPopProof(key, { htm: method, htu, accessToken: token }) : await createDpopProof(this.dpopKey, { htm: method, htu, accessToken: token });
    const res = await this.doFetch(url, { method, body: init.body, headers: { ...init.headers, authorization: `PoP ${token}`, pop: proof } });
    this.options.onEvent?.({ step: 'resource', url, status: res.status });
    return res;
  }

  /** A DPoP proof for the authorization server's endpoint (exposed for tests and custom calls). */
  proof(htm: string, htu: string, nonce?: string, accessToken?: string): Promise<string> {
    return createDpopProof(this.dpopKey, { htm, htu, nonce, accessToken });
  }

  /** One request to the challenge endpoint (form, or JSON when a value is not a string), with one nonce retry. */
  private async challengeRequest(url: string, params: Record<string, unknown>, accessToken: string | undefined): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
    const values = Object.fromEntries(Object.entries(params).filter(([, v]) => v !== undefined && v !== null));
    const asJson = Object.values(values).some((v) => typeof v !== 'string');
    const nonceKey = `as|${new URL(url).origin}`;
    for (let attempt = 0; ; attempt++) {
      const headers: Record<string, string> = {
        'content-type': asJson ? 'application/json' : 'application/x-www-form-urlencoded',
        dpop: await this.proof('POST', url, this.nonces.get(nonceKey), accessToken),
      };
      if (accessToken) headers.authorization = `DPoP ${accessToken}`;
      const res = await this.doFetch(url, { method: 'POST', headers, body: asJson ? JSON.stringify(values) : new URLSearchParams(values as Record<string, string>).toString() });
      const nonce = res.headers.get('dpop-nonce');
      if (nonce) this.nonces.set(nonceKey, nonce);
      const text = await res.text();
      const body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
      // RFC 9449 §8: retry once with the nonce the server just gave us.
      if (res.status === 400 && body.error === 'use_dpop_nonce' && attempt === 0 && nonce) {
        this.options.onEvent?.({ step: 'nonce', server: new URL(url).origin, endpoint: new URL(url).pathname });
        continue;
      }
      return { status: res.status, body, headers: res.headers };
    }
  }

  private async tokenRequest(url: string, form: Record<string, string>, grant: string): Promise<TokenResult> {
    const nonceKey = `as|${new URL(url).origin}`;
    for (let attempt = 0; ; attempt++) {
      const proof = await this.proof('POST', url, this.nonces.get(nonceKey));
      try {
        const body = (await this.postForm(url, form, { dpop: proof }, nonceKey)) as unknown as TokenResult;
        this.accessToken = body.access_token;
        this.tokenType = body.token_type;
        if (body.refresh_token) this.refreshToken = body.refresh_token;
        if (body.auth_session) this.authSession = body.auth_session;
        // A refresh of a PoP token keeps its key (ACE-5): the symmetric key the app holds stays valid.
        if (body.token_type.toLowerCase() !== 'pop') this.pop = undefined;
        this.options.onEvent?.({ step: 'token', grant, tokenType: body.token_type, expiresIn: body.expires_in });
        return body;
      } catch (e) {
        // RFC 9449 §8: retry once with the nonce the server just gave us.
        if (e instanceof OAuthClientError && e.error === 'use_dpop_nonce' && attempt === 0) {
          this.options.onEvent?.({ step: 'nonce', server: new URL(url).origin, endpoint: new URL(url).pathname });
          continue;
        }
        throw e;
      }
    }
  }

  private async postForm(url: string, form: Record<string, string>, headers: Record<string, string> = {}, nonceKey?: string): Promise<Record<string, unknown>> {
    const res = await this.doFetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: new URLSearchParams(form).toString(),
    });
    const nonce = res.headers.get('dpop-nonce');
    if (nonce && nonceKey) this.nonces.set(nonceKey, nonce);
    const text = await res.text();
    const body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    if (!res.ok) throw new OAuthClientError(res.status, String(body.error ?? 'unknown_error'), body.error_description as string | undefined, body, res.headers);
    return body;
  }
}
