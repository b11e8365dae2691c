import { Inject, Injectable } from '@nestjs/common';
import type { Client } from '@fpa/clients';
import { APP_CONFIG, type AppConfig } from '@fpa/config';
import { JwkSetError, JwtVerificationError, KEY_SET_ALGS, keySetVerifier, parsePublicJwkSet, type KeySetVerifier, type VerifiedJwt, type VerifyJwtOptions } from '@fpa/crypto';
import { JwksFetchError } from './jwks-fetcher';
import { RemoteKeySets } from './remote-key-sets';

/** The client has no key set that can verify anything; `reason` is a metric label. */
export class KeySetUnavailable extends Error {
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
    this.name = 'KeySetUnavailable';
  }
}

/** What verifies a key-set assertion: everything but the keys and the algorithms. */
export type AssertionCheck = Omit<VerifyJwtOptions, 'algorithms'>;

const MAX_INLINE_CACHE = 10_000;

/**
 * The `private_key_jwt` keys of ordinary clients (RFC 7523 §3 item 9, RFC 7591 §2): the inline
 * `jwks`, or the set behind `jwks_uri` (RemoteKeySets). Asymmetric algorithms only (JWTCA-8); a
 * key's own `alg` pins it. An assertion naming a `kid` the fetched set lacks causes one refetch,
 * within the cooldown.
 */
@Injectable()
export class ClientKeySets {
  /** Inline sets, checked and imported once per client and content. */
  private readonly inline = new Map<string, { json: string; verifier: Promise<KeySetVerifier> }>();

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly remote: RemoteKeySets,
  ) {}

  /** Whether the client registered keys of its own (jwks or jwks_uri). */
  static hasKeySet(client: Client): boolean {
    return client.jwks !== null || client.jwksUri !== null;
  }

  /**
   * Verifies the assertion with the client's keys. JwtVerificationError for the assertion's own
   * faults, KeySetUnavailable when the client's keys cannot be had.
   */
  async verify(client: Client, assertion: string, check: AssertionCheck): Promise<VerifiedJwt> {
    const options: VerifyJwtOptions = { ...check, algorithms: KEY_SET_ALGS };
    if (client.jwks !== null) return (await this.inlineVerifier(client))(assertion, options);
    const uri = client.jwksUri;
    if (uri === null) throw new KeySetUnavailable('no_key_set', 'this client has no registered keys (jwks or jwks_uri)');
    const verifier = await this.fetched(() => this.remote.current(uri, client.id));
    try {
      return await verifier(assertion, options);
    } catch (e) {
      if (!(e instanceof JwtVerificationError) || e.failure !== 'no_matching_key') throw e;
      const refreshed = await this.fetched(() => this.remote.refreshForUnknownKid(uri, client.id));
      if (!refreshed) throw e;
      return refreshed(assertion, options);
    }
  }

  private async fetched<T>(get: () => Promise<T>): Promise<T> {
    try {
      return await get();
    } catch (e) {
      // The reason goes to metrics; the caller learns no more about the client's server than this.
      if (e instanceof JwksFetchError) throw new KeySetUnavailable(`jwks_uri_${e.failure}`, "the client's registered keys could not be obtained");
      throw e;
    }
  }

  /** Registration checked the set; a row written before that check existed is checked here too. */
  private async inlineVerifier(client: Client): Promise<KeySetVerifier> {
    const json = JSON.stringify(client.jwks);
    const hit = this.inline.get(client.id);
    let verifier = hit?.json === json ? hit.verifier : undefined;
    if (!verifier) {
      verifier = parsePublicJwkSet(client.jwks, { maxKeys: this.config.clientJwks.maxKeys }).then(keySetVerifier);
      if (this.inline.size >= MAX_INLINE_CACHE) this.inline.clear();
      this.inline.set(client.id, { json, verifier });
    }
    try {
      return await verifier;
    } catch (e) {
      if (e instanceof JwkSetError) throw new KeySetUnavailable(`jwks_${e.failure}`, "the client's registered keys could not be obtained");
      throw e;
    }
  }
}
