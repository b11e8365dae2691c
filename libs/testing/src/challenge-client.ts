import { createDpopProof, generateClientKeyPair, randomToken, s256CodeChallenge, type ClientKeyPair } from '@fpa/crypto';
import type { Clock } from '@fpa/oauth-core';
import { postForm, postJson, type FormPoster, type FormResponse } from './http';

/** The newest DPoP-Nonce a client saw; clients given the same slot share it (the benchmark's round trips do). */
export interface NonceSlot {
  value: string | undefined;
}

export interface ChallengeClientOptions {
  /** Where challenge requests go when it is not the issuer (a separate challenge process behind one issuer). */
  readonly baseUrl?: string;
  /** Where `/token` requests go (default: `baseUrl`, else the issuer). */
  readonly tokenBaseUrl?: string;
  /** The PKCE verifier (default: a fresh one). */
  readonly verifier?: string;
  /** How requests are sent (default fetch; the benchmark uses keep-alive node:http). */
  readonly post?: FormPoster;
  /** The proofs' `iat` comes from it (an app's TestClock); default: real time. */
  readonly clock?: Clock;
  readonly nonces?: NonceSlot;
  /** Called for each request repeated after `use_dpop_nonce`. */
  readonly onNonceRetry?: () => void;
}

export interface ChallengeSendOptions {
  /** Sign the proof with this key instead of the client's own. */
  readonly key?: ClientKeyPair;
  /** Send no DPoP proof (and do not retry). */
  readonly noProof?: boolean;
  /** `false`: do not add the known auth_session. */
  readonly withSession?: boolean;
  /** A proof signed beforehand, for the first attempt (a retry after use_dpop_nonce signs a fresh one). */
  readonly proof?: string;
}

/**
 * A hand-driven client of the authorization challenge endpoint (FiPA) and the code exchange, for the
 * e2e tests and the benchmark: one DPoP key, the server's nonce tracked (one retry on
 * `use_dpop_nonce`), the auth_session kept, optional `Authorization: DPoP <device token>`. Unlike the
 * SDK's `authorize` loop it sends exactly what it is told to, so tests can send what a client should not.
 */
export class ChallengeClient {
  authSession: string | undefined;
  verifier: string;
  baseUrl: string | undefined;
  tokenBaseUrl: string | undefined;
  clock: Clock | undefined;
  private readonly post: FormPoster;
  private readonly nonces: NonceSlot;
  private readonly onNonceRetry: (() => void) | undefined;

  constructor(
    readonly issuer: string,
    readonly key: ClientKeyPair,
    readonly accessToken?: string,
    options: ChallengeClientOptions = {},
  ) {
    this.verifier = options.verifier ?? randomToken(32);
    this.baseUrl = options.baseUrl;
    this.tokenBaseUrl = options.tokenBaseUrl;
    this.clock = options.clock;
    this.post = options.post ?? postForm;
    this.nonces = options.nonces ?? { value: undefined };
    this.onNonceRetry = options.onNonceRetry;
  }

  static async create(issuer: string, accessToken?: string, key?: ClientKeyPair, options?: ChallengeClientOptions): Promise<ChallengeClient> {
    return new ChallengeClient(issuer, key ?? (await generateClientKeyPair()), accessToken, options);
  }

  get nonce(): string | undefined {
    return this.nonces.value;
  }

  set nonce(value: string | undefined) {
    this.nonces.value = value;
  }

  get codeChallenge(): string {
    return s256CodeChallenge(this.verifier);
  }

  /** `POST /authorize-challenge` with `params` (plus the known auth_session); keeps the auth_session it is given. */
  async send(params: Record<string, string>, options: ChallengeSendOptions = {}): Promise<FormResponse> {
    const form = { ...(options.withSession !== false && this.authSession && !params.auth_session ? { auth_session: this.authSession } : {}), ...params };
    const res = await this.exchange('/authorize-challenge', this.baseUrl, form, { ...options, accessToken: this.accessToken });
    if (typeof res.body.auth_session === 'string') this.authSession = res.body.auth_session;
    return res;
  }

  /**
   * The same as `send` with a JSON body (values keep their JSON type: a WebAuthn response as an
   * object, as a native app sends it), with the same key, nonce and auth_session handling.
   */
  async sendJson(body: Record<string, unknown>, options: ChallengeSendOptions = {}): Promise<FormResponse> {
    const json = { ...(options.withSession !== false && this.authSession && body.auth_session === undefined ? { auth_session: this.authSession } : {}), ...body };
    const post: FormPoster = (url, _form, headers) => postJson(url, json, headers);
    const res = await this.exchange('/authorize-challenge', this.baseUrl, {}, { ...options, accessToken: this.accessToken }, post);
    if (typeof res.body.auth_session === 'string') this.authSession = res.body.auth_session;
    return res;
  }

  /** Redeems a code at /token with the verifier and a proof by this key (or `key`), plus the given client authentication. */
  async redeem(code: string, auth: Record<string, string>, extra: Record<string, string> = {}, key?: ClientKeyPair, options: { proof?: string } = {}): Promise<FormResponse> {
    const form = { grant_type: 'authorization_code', code, code_verifier: this.verifier, ...auth, ...extra };
    return this.exchange('/token', this.tokenBaseUrl ?? this.baseUrl, form, { key, proof: options.proof });
  }

  /** Proofs name the issuer's URL (`htu`); the request goes to `base` when set. */
  private async exchange(path: string, base: string | undefined, form: Record<string, string>, options: ChallengeSendOptions & { accessToken?: string }, post: FormPoster = this.post): Promise<FormResponse> {
    const htu = `${this.issuer}${path}`;
    const target = `${base ?? this.issuer}${path}`;
    let proof = options.proof;
    for (let attempt = 0; ; attempt++) {
      const headers: Record<string, string> = {};
      if (!options.noProof) {
        headers.dpop = proof ?? (await createDpopProof(options.key ?? this.key, { htm: 'POST', htu, nonce: this.nonces.value, accessToken: options.accessToken, iat: this.clock?.nowSeconds() }));
      }
      if (options.accessToken) headers.authorization = `DPoP ${options.accessToken}`;
      const res = await post(target, form, headers);
      const fresh = res.headers.get('dpop-nonce');
      if (fresh) this.nonces.value = fresh;
      if (res.body.error === 'use_dpop_nonce' && attempt === 0 && !options.noProof) {
        this.onNonceRetry?.();
        proof = undefined;
        continue;
      }
      return res;
    }
  }
}
