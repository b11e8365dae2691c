import { StatusList, type BitsPerStatus } from '@sd-jwt/jwt-status-list';
import type { TestSdJwtIssuer } from './sd-jwt-issuer';

/*
 * A Token Status List (draft-ietf-oauth-status-list) published by a test issuer: encoded with
 * @sd-jwt/jwt-status-list (not the verifier's decoder), signed as a `statuslist+jwt` with the issuer's key and
 * `x5c` (or `kid` for an issuer trusted through metadata). Allocate an index per credential, revoke or suspend
 * it, and serve `token()` — e.g. from `startTestHttpServer()` — at `uri`.
 */
export interface TestStatusListOptions {
  /** The URL the list is served at: credentials carry it, and the token's `sub` is it. */
  readonly uri: string;
  /** Entries; default 1024. */
  readonly size?: number;
  /** Bits per status; default 2 (so SUSPENDED can be expressed). */
  readonly bits?: BitsPerStatus;
  /** Sign with `kid` instead of `x5c`, for a verifier trusting the issuer through its metadata (`iss` then required). */
  readonly viaMetadata?: { readonly iss: string };
}

export interface StatusListTokenOptions {
  readonly ttl?: number;
  /** Seconds since the epoch; default none. */
  readonly exp?: number;
  readonly iat?: number;
  /** Overrides `sub` (a list served at the wrong place). */
  readonly sub?: string;
  readonly typ?: string;
  /** Another issuer signs (an untrusted list). */
  readonly signedBy?: TestSdJwtIssuer;
}

export class TestStatusList {
  private readonly list: StatusList;
  private next = 0;

  constructor(
    private readonly issuer: TestSdJwtIssuer,
    private readonly options: TestStatusListOptions,
  ) {
    this.list = new StatusList(new Array<number>(options.size ?? 1024).fill(0), options.bits ?? 2);
  }

  get uri(): string {
    return this.options.uri;
  }

  /** A fresh index, as the `status` issue option of TestSdJwtIssuer wants it. */
  allocate(): { idx: number; uri: string } {
    return { idx: this.next++, uri: this.options.uri };
  }

  setStatus(idx: number, value: number): void {
    this.list.setStatus(idx, value);
  }

  revoke(idx: number): void {
    this.setStatus(idx, 1);
  }

  suspend(idx: number): void {
    this.setStatus(idx, 2);
  }

  /** The Status List Token as served with `Content-Type: application/statuslist+jwt`. */
  token(options: StatusListTokenOptions = {}): string {
    const payload = {
      ...(this.options.viaMetadata ? { iss: this.options.viaMetadata.iss } : {}),
      sub: options.sub ?? this.options.uri,
      iat: options.iat ?? Math.floor(Date.now() / 1000),
      ...(options.exp === undefined ? {} : { exp: options.exp }),
      ...(options.ttl === undefined ? {} : { ttl: options.ttl }),
      status_list: { bits: this.list.getBitsPerStatus(), lst: this.list.compressStatusList() },
    };
    return (options.signedBy ?? this.issuer).signJwt({ typ: options.typ ?? 'statuslist+jwt' }, payload, { viaMetadata: this.options.viaMetadata !== undefined });
  }
}
