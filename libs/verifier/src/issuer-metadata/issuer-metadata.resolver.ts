import { algorithmsForSetKey, checkPublicJwkSet, JwkSetError, type JWK } from '@fpa/crypto';
import { RemoteFetchError, type RemoteFetcher } from '../remote/remote-fetcher';
import { TtlCache } from '../remote/ttl-cache';

/**
 * JWT VC Issuer Metadata (SD-JWT VC draft §5): for an issuer-signed JWT without `x5c` whose `iss` is an https
 * URL the deployment trusts by name, the issuer's keys are read from `<origin>/.well-known/jwt-vc-issuer<path>`.
 * The document's `issuer` must equal `iss` (§5.3), it carries exactly one of `jwks` / `jwks_uri` (§5.2), and the
 * key is selected by the JWT's `kid`. Sets are cached (`cacheSeconds`); an unknown `kid` refetches once the
 * cooldown has passed (a rotated-in key), never more often.
 */
export type IssuerMetadataFailure = 'unavailable' | 'invalid' | 'unknown_key';

export class IssuerMetadataError extends Error {
  constructor(
    readonly failure: IssuerMetadataFailure,
    message: string,
  ) {
    super(message);
    this.name = 'IssuerMetadataError';
  }
}

export interface IssuerMetadataResolverOptions {
  readonly fetcher: RemoteFetcher;
  /** How long a fetched key set is used; default 300 s. */
  readonly cacheSeconds?: number;
  /** Minimum time between refetches caused by an unknown `kid`; default 30 s. */
  readonly refreshCooldownSeconds?: number;
  /** Keys a set may hold; default 20. */
  readonly maxKeys?: number;
  readonly maxIssuers?: number;
  /** Milliseconds since the epoch. */
  readonly now?: () => number;
}

const JSON_TYPES = ['application/json'];
const JWKS_TYPES = ['application/jwk-set+json', 'application/json'];

/** SD-JWT VC draft §5.1: the well-known segment goes between the host and the path of `iss` (no trailing `/`). */
export function jwtVcIssuerMetadataUrl(iss: string): string {
  let url: URL;
  try {
    url = new URL(iss);
  } catch {
    throw new IssuerMetadataError('invalid', 'iss is not a URL');
  }
  if ((url.protocol !== 'https:' && url.protocol !== 'http:') || url.search || url.hash || url.username || url.password) {
    throw new IssuerMetadataError('invalid', 'iss must be an https URL without query or fragment');
  }
  const path = url.pathname === '/' ? '' : url.pathname.replace(/\/$/, '');
  return `${url.origin}/.well-known/jwt-vc-issuer${path}`;
}

export class IssuerMetadataResolver {
  private readonly cache: TtlCache<readonly JWK[]>;
  private readonly now: () => number;

  constructor(private readonly options: IssuerMetadataResolverOptions) {
    this.now = options.now ?? Date.now;
    this.cache = new TtlCache({ maxEntries: options.maxIssuers ?? 100, now: this.now });
  }

  /** The issuer's public key named `kid`, fit for `alg`; throws IssuerMetadataError. */
  async signingKey(iss: string, kid: string, alg: string): Promise<JWK> {
    const url = jwtVcIssuerMetadataUrl(iss);
    let keys = await this.cache.get(iss, () => this.load(iss, url));
    let key = keys.find((k) => k.kid === kid);
    const cached = this.cache.peek(iss);
    const cooldown = (this.options.refreshCooldownSeconds ?? 30) * 1000;
    if (!key && (!cached || this.now() - cached.loadedAt >= cooldown)) {
      keys = (await this.cache.reload(iss, () => this.load(iss, url))).value;
      key = keys.find((k) => k.kid === kid);
    }
    if (!key) throw new IssuerMetadataError('unknown_key', 'the issuer metadata holds no key with the credential kid');
    if (!algorithmsForSetKey(key).includes(alg) || (key.alg !== undefined && key.alg !== alg)) {
      throw new IssuerMetadataError('unknown_key', 'the issuer key does not fit the credential alg');
    }
    return key;
  }

  private async load(iss: string, url: string): Promise<{ value: readonly JWK[]; expiresAt: number }> {
    const metadata = await this.json(url, JSON_TYPES, 'issuer metadata');
    if (metadata.issuer !== iss) throw new IssuerMetadataError('invalid', 'the issuer metadata issuer is not the credential iss');
    const hasJwks = metadata.jwks !== undefined;
    const hasUri = metadata.jwks_uri !== undefined;
    if (hasJwks === hasUri) throw new IssuerMetadataError('invalid', 'the issuer metadata must carry exactly one of jwks and jwks_uri');
    let jwks: unknown = metadata.jwks;
    if (hasUri) {
      if (typeof metadata.jwks_uri !== 'string') throw new IssuerMetadataError('invalid', 'jwks_uri is not a string');
      jwks = await this.json(metadata.jwks_uri, JWKS_TYPES, 'jwks_uri');
    }
    let keys: readonly JWK[];
    try {
      keys = checkPublicJwkSet(jwks, { maxKeys: this.options.maxKeys ?? 20 }).keys;
    } catch (e) {
      if (e instanceof JwkSetError) throw new IssuerMetadataError('invalid', `the issuer key set is not usable (${e.failure})`);
      throw e;
    }
    return { value: keys, expiresAt: this.now() + (this.options.cacheSeconds ?? 300) * 1000 };
  }

  private async json(url: string, accept: readonly string[], what: string): Promise<Record<string, unknown>> {
    let body: string;
    try {
      body = (await this.options.fetcher.get(url, accept)).body;
    } catch (e) {
      if (e instanceof RemoteFetchError) throw new IssuerMetadataError(e.failure === 'insecure_url' ? 'invalid' : 'unavailable', `${what}: ${e.message}`);
      throw e;
    }
    let value: unknown;
    try {
      value = JSON.parse(body);
    } catch {
      throw new IssuerMetadataError('invalid', `${what} is not JSON`);
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new IssuerMetadataError('invalid', `${what} is not a JSON object`);
    return value as Record<string, unknown>;
  }
}
