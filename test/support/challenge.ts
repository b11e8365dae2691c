import { createDpopProof, generateClientKeyPair, s256CodeChallenge, randomToken, type ClientKeyPair } from '@fpa/crypto';
import { postForm, type FormResponse } from './http';

/**
 * A hand-driven client of the authorization challenge endpoint: one DPoP key, the server's nonce
 * tracked (one retry on use_dpop_nonce), optional `Authorization: DPoP <device token>`.
 */
export class ChallengeClient {
  nonce: string | undefined;
  authSession: string | undefined;
  verifier = randomToken(32);
  /** Where requests go when it is not the issuer (a separate challenge or token process behind one issuer). */
  baseUrl: string | undefined;

  constructor(
    readonly issuer: string,
    readonly key: ClientKeyPair,
    readonly accessToken?: string,
  ) {}

  static async create(issuer: string, accessToken?: string, key?: ClientKeyPair): Promise<ChallengeClient> {
    return new ChallengeClient(issuer, key ?? (await generateClientKeyPair()), accessToken);
  }

  get codeChallenge(): string {
    return s256CodeChallenge(this.verifier);
  }

  async send(params: Record<string, string>, options: { key?: ClientKeyPair; noProof?: boolean; withSession?: boolean } = {}): Promise<FormResponse> {
    const url = `${this.issuer}/authorize-challenge`;
    const target = `${this.baseUrl ?? this.issuer}/authorize-challenge`;
    const form = { ...(options.withSession !== false && this.authSession && !params.auth_session ? { auth_session: this.authSession } : {}), ...params };
    for (let attempt = 0; ; attempt++) {
      const headers: Record<string, string> = {};
      if (!options.noProof) headers.dpop = await createDpopProof(options.key ?? this.key, { htm: 'POST', htu: url, nonce: this.nonce, accessToken: this.accessToken });
      if (this.accessToken) headers.authorization = `DPoP ${this.accessToken}`;
      const res = await postForm(target, form, headers);
      const fresh = res.headers.get('dpop-nonce');
      if (fresh) this.nonce = fresh;
      if (typeof res.body.auth_session === 'string') this.authSession = res.body.auth_session;
      if (res.body.error === 'use_dpop_nonce' && attempt === 0 && !options.noProof) continue;
      return res;
    }
  }

  /** Redeems a code at /token with a proof by this key (and the given client authentication). */
  async redeem(code: string, auth: Record<string, string>, extra: Record<string, string> = {}, key?: ClientKeyPair): Promise<FormResponse> {
    const url = `${this.issuer}/token`;
    const form = { grant_type: 'authorization_code', code, code_verifier: this.verifier, ...auth, ...extra };
    for (let attempt = 0; ; attempt++) {
      const res = await postForm(`${this.baseUrl ?? this.issuer}/token`, form, { dpop: await createDpopProof(key ?? this.key, { htm: 'POST', htu: url, nonce: this.nonce }) });
      const fresh = res.headers.get('dpop-nonce');
      if (fresh) this.nonce = fresh;
      if (res.body.error === 'use_dpop_nonce' && attempt === 0) continue;
      return res;
    }
  }
}
