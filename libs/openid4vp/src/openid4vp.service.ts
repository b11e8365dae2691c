import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@fpa/config';
import { sha256B64u } from '@fpa/crypto';
import { CLOCK, type Clock } from '@fpa/oauth-core';
import { EPHEMERAL_STORE, type EphemeralStore } from '@fpa/store';
import { CredentialPolicy } from './credential-policy';
import { PRESENTATION_VERIFIER, type PresentationBinding, type PresentationVerdict, type PresentationVerifier } from './presentation-verifier';
import { encryptionKeyThumbprint, newPresentationRequest, requestMembers, signRequestObject, type PresentationRequest } from './presentation-request';
import { VERIFIER_IDENTITY, type VerifierIdentity } from './verifier-identity.provider';

export const OPENID4VP_REQUEST_PATH = '/openid4vp/requests';
export const OPENID4VP_RESPONSE_PATH = '/openid4vp/response';
/** Request ids are 24 random bytes, base64url. */
export const REQUEST_ID = /^[A-Za-z0-9_-]{32}$/;

const recordKey = (id: string): string => `openid4vp:req:${sha256B64u(id)}`;
const answeredKey = (id: string): string => `openid4vp:answered:${sha256B64u(id)}`;

/**
 * The verifier side of OpenID4VP 1.0 behind the `digital_credential` method: presentation
 * requests kept in the ephemeral store (TTL), their request objects, the one-time acceptance of
 * a response, and verification through the PresentationVerifier port.
 */
@Injectable()
export class Openid4vpService {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(EPHEMERAL_STORE) private readonly store: EphemeralStore,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(VERIFIER_IDENTITY) readonly identity: VerifierIdentity,
    @Inject(PRESENTATION_VERIFIER) private readonly verifier: PresentationVerifier,
    readonly policy: CredentialPolicy,
  ) {}

  get responseUri(): string {
    return `${this.config.http.issuer}${OPENID4VP_RESPONSE_PATH}`;
  }

  get ttlSeconds(): number {
    return this.config.digitalCredentials.requestTtlSeconds;
  }

  /** A new request, stored until it expires. */
  async create(input: Omit<PresentationRequest, 'id' | 'nonce' | 'encryption' | 'createdAt' | 'expiresAt'>): Promise<PresentationRequest> {
    const r = await newPresentationRequest(input, this.kek(), this.clock.nowMs(), this.ttlSeconds);
    await this.store.setJson(recordKey(r.id), r, this.ttlSeconds + 5);
    return r;
  }

  /** The request if it is known and not expired. */
  async find(id: string): Promise<PresentationRequest | undefined> {
    if (!REQUEST_ID.test(id)) return undefined;
    const r = await this.store.getJson<PresentationRequest>(recordKey(id));
    return r && this.clock.nowMs() < r.expiresAt ? r : undefined;
  }

  /** Claims the request's one response (VP-3: a response is accepted once); false when one came already. */
  accept(r: PresentationRequest): Promise<boolean> {
    return this.store.claimOnce(answeredKey(r.id), Math.max(1, Math.ceil((r.expiresAt - this.clock.nowMs()) / 1000)) + 5);
  }

  /** `openid4vp://` link for same- and cross-device flows (docs/openid4vp-wire.md), `request_uri_method=post` (VP-2). */
  link(r: PresentationRequest): string {
    const q = new URLSearchParams({ client_id: this.identity.clientId, request_uri: `${this.config.http.issuer}${OPENID4VP_REQUEST_PATH}/${r.id}`, request_uri_method: 'post' });
    return `openid4vp://?${q.toString()}`;
  }

  /** The object the app hands to `navigator.credentials.get({ digital })` (WALLET-1, VP-3): signed and unsigned requests. */
  async dcApiRequest(r: PresentationRequest): Promise<Record<string, unknown>> {
    return {
      requests: [
        { protocol: 'openid4vp-v1-signed', data: { request: await signRequestObject(r, this.identity, this.responseUri, this.clock.nowMs()) } },
        { protocol: 'openid4vp-v1-unsigned', data: requestMembers(r) },
      ],
    };
  }

  requestObject(r: PresentationRequest, walletNonce: string | undefined): Promise<string> {
    return signRequestObject(r, this.identity, this.responseUri, this.clock.nowMs(), walletNonce);
  }

  /** Verifies a response's `vp_token` against the request it answers (VP-5). */
  async verify(r: PresentationRequest, vpToken: unknown, encrypted: boolean): Promise<PresentationVerdict> {
    const binding: PresentationBinding = r.flow === 'dc_api' ? { kind: 'dc_api', origins: r.origins ?? [] } : { kind: 'redirect', clientId: this.identity.clientId, responseUri: this.responseUri };
    return this.verifier.verify(vpToken, {
      dcqlQuery: r.dcqlQuery,
      nonce: r.nonce,
      binding,
      ...(r.transactionData ? { transactionData: r.transactionData } : {}),
      ...(encrypted ? { jwkThumbprint: Buffer.from(await encryptionKeyThumbprint(r)).toString('base64url') } : {}),
      now: new Date(this.clock.nowMs()),
    });
  }

  kek(): Uint8Array {
    const kek = this.config.keys.encryptionKey;
    if (!kek) throw new Error('KEY_ENCRYPTION_KEY is not configured');
    return kek;
  }
}
