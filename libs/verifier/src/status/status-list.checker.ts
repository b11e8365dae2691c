import { decodeJwtUnverified, JwtVerificationError, verifyJwt } from '@fpa/crypto';
import { ISSUER_ALGS, resolveIssuerKey, type IssuerKeySource, type IssuerTrust } from '../issuer-metadata/issuer-key';
import { RemoteFetchError, type RemoteFetcher } from '../remote/remote-fetcher';
import { TtlCache } from '../remote/ttl-cache';
import { PresentationRefusal, refuse } from '../sd-jwt/presentation-refusal';
import { decompressStatusList, isBitsPerStatus, statusAt, StatusListFormatError, STATUS_INVALID, STATUS_SUSPENDED, STATUS_VALID, type BitsPerStatus } from './status-list';

/**
 * Checks a credential's `status.status_list {idx, uri}` against the Status List Token published at `uri`
 * (draft-ietf-oauth-status-list §8.3): fetched through the injected fetcher (`Accept: application/statuslist+jwt`,
 * §8.1), `typ` `statuslist+jwt`, signed by a key the same issuer trust vouches for (an `x5c` chain to the
 * anchors, or issuer metadata), `sub` = the `uri`, `iat` present, `exp` not passed, `status_list.bits` 1/2/4/8,
 * `lst` decompressed; the status at `idx` must be VALID (0). Anything that stops the check — the list
 * unreachable, untrusted, malformed, the index outside it — refuses the credential (`status_unavailable`: fail
 * closed). Verified lists are cached per `uri` until `iat`+`ttl` / `exp` / `maxCacheSeconds`, whichever is first.
 */
export interface StatusListCheckerOptions {
  readonly fetcher: RemoteFetcher;
  /** Upper bound on how long a verified list is used, whatever its `ttl`; default 300 s. */
  readonly maxCacheSeconds?: number;
  /** Decompressed list size cap; default 4 MiB (32 M one-bit entries). */
  readonly maxListBytes?: number;
  readonly maxLists?: number;
  /** Default 60 s, for the token's `exp` / `iat`. */
  readonly clockSkewSeconds?: number;
  /** Milliseconds since the epoch (cache clock). */
  readonly now?: () => number;
}

export const STATUS_LIST_JWT_TYPE = 'application/statuslist+jwt';
/** A Status List Token larger than this is not decoded (the fetcher caps the body separately). */
const MAX_TOKEN_LENGTH = 4 * 1024 * 1024;

interface VerifiedList {
  readonly bits: BitsPerStatus;
  readonly list: Buffer;
  readonly signer: IssuerKeySource;
  /** Seconds since the epoch, when the token has `exp`. */
  readonly exp: number | undefined;
}

export interface StatusReference {
  readonly idx: number;
  readonly uri: string;
}

/** §6.2: `status.status_list` with a non-negative integer `idx` and a string `uri`; another mechanism is unsupported. */
export function statusReference(status: unknown): StatusReference {
  const record = status !== null && typeof status === 'object' && !Array.isArray(status) ? (status as Record<string, unknown>) : undefined;
  if (!record) refuse('malformed', 'the credential status claim is not an object');
  const ref = record.status_list;
  if (ref === undefined) refuse('status_unsupported', 'the credential names a status mechanism other than a Token Status List');
  const entry = ref !== null && typeof ref === 'object' ? (ref as Record<string, unknown>) : {};
  if (!Number.isSafeInteger(entry.idx) || (entry.idx as number) < 0 || typeof entry.uri !== 'string' || entry.uri.length === 0 || entry.uri.length > 2048) {
    refuse('malformed', 'status.status_list must hold a non-negative integer idx and a uri');
  }
  return { idx: entry.idx as number, uri: entry.uri };
}

export class StatusListChecker {
  private readonly cache: TtlCache<VerifiedList>;
  private readonly now: () => number;

  constructor(private readonly options: StatusListCheckerOptions) {
    this.now = options.now ?? Date.now;
    this.cache = new TtlCache({ maxEntries: options.maxLists ?? 500, now: this.now });
  }

  /** Throws a PresentationRefusal unless the credential's status is VALID. */
  async check(status: unknown, trust: IssuerTrust, now: Date): Promise<void> {
    const { idx, uri } = statusReference(status);
    const verified = await this.list(uri, trust, now);
    let value: number;
    try {
      value = statusAt(verified.list, verified.bits, idx);
    } catch (e) {
      if (e instanceof StatusListFormatError) refuse('status_unavailable', `the credential status cannot be read: ${e.message}`);
      throw e;
    }
    if (value === STATUS_VALID) return;
    if (value === STATUS_INVALID) refuse('credential_revoked', 'the credential is revoked (Token Status List)');
    if (value === STATUS_SUSPENDED) refuse('credential_suspended', 'the credential is suspended (Token Status List)');
    refuse('credential_status_invalid', `the credential status is 0x${value.toString(16).padStart(2, '0')}, not VALID`);
  }

  private async list(uri: string, trust: IssuerTrust, now: Date): Promise<VerifiedList> {
    const cached = this.cache.peek(uri);
    // A list verified under another caller's trust, or expired by the caller's clock, is fetched again.
    const usable = cached && stillTrusted(cached.value.signer, trust) && (cached.value.exp === undefined || cached.value.exp > now.getTime() / 1000);
    const verified = usable ? cached.value : (await this.cache.reload(uri, () => this.load(uri, trust, now))).value;
    // A load shared with a concurrent caller was verified under that caller's trust: check it against ours.
    if (!stillTrusted(verified.signer, trust)) refuse('status_unavailable', 'the status list is not signed by a trusted issuer key');
    return verified;
  }

  private async load(uri: string, trust: IssuerTrust, now: Date): Promise<{ value: VerifiedList; expiresAt: number }> {
    let token: string;
    try {
      token = (await this.options.fetcher.get(uri, [STATUS_LIST_JWT_TYPE])).body.trim();
    } catch (e) {
      if (e instanceof RemoteFetchError) refuse('status_unavailable', `the status list could not be fetched (${e.failure})`);
      throw e;
    }
    const verified = await this.verifyToken(token, uri, trust, now);
    const fetchedAt = this.now();
    const ttl = Math.min(verified.ttl ?? Infinity, this.options.maxCacheSeconds ?? 300);
    const expiresAt = Math.min(fetchedAt + ttl * 1000, verified.list.exp === undefined ? Infinity : verified.list.exp * 1000);
    return { value: verified.list, expiresAt };
  }

  private async verifyToken(token: string, uri: string, trust: IssuerTrust, now: Date): Promise<{ list: VerifiedList; ttl: number | undefined }> {
    const skew = this.options.clockSkewSeconds ?? 60;
    let header: Readonly<Record<string, unknown>>;
    let unverifiedIss: unknown;
    try {
      const decoded = decodeJwtUnverified(token, { maxLength: MAX_TOKEN_LENGTH });
      header = decoded.header;
      unverifiedIss = decoded.payload.iss;
    } catch {
      refuse('status_unavailable', 'the status list is not a JWT');
    }
    // §5.1: typ statuslist+jwt; asymmetric algorithms only, as for the credential.
    if (header.typ !== 'statuslist+jwt') refuse('status_unavailable', 'the status list token typ is not statuslist+jwt');
    const alg = header.alg;
    if (typeof alg !== 'string' || !(ISSUER_ALGS as readonly string[]).includes(alg)) refuse('status_unavailable', 'the status list token alg is not supported');
    let signer;
    try {
      signer = await resolveIssuerKey(header, unverifiedIss, alg, trust, now);
    } catch (e) {
      if (e instanceof PresentationRefusal) refuse('status_unavailable', `the status list token is not trusted (${e.reason}: ${e.message.slice(0, 120)})`);
      throw e;
    }
    let payload: Record<string, unknown>;
    try {
      // §8.3 steps 4-5: signature, `sub` = the uri the credential names, `iat` required, `exp` when present.
      payload = (
        await verifyJwt(token, signer.key, { algorithms: [alg], typ: 'statuslist+jwt', subject: uri, requiredClaims: ['sub', 'iat'], currentDate: now, clockToleranceSeconds: skew })
      ).payload;
    } catch (e) {
      const failure = e instanceof JwtVerificationError ? e.failure : 'malformed';
      refuse('status_unavailable', `the status list token does not verify (${failure})`);
    }
    if (typeof payload.iat !== 'number' || payload.iat > now.getTime() / 1000 + skew) refuse('status_unavailable', 'the status list token iat is missing or in the future');
    if (signer.source.kind === 'metadata' && payload.iss !== signer.source.issuer) refuse('status_unavailable', 'the status list token iss is not the metadata issuer');
    const statusList = payload.status_list !== null && typeof payload.status_list === 'object' ? (payload.status_list as Record<string, unknown>) : {};
    if (!isBitsPerStatus(statusList.bits)) refuse('status_unavailable', 'status_list.bits must be 1, 2, 4 or 8');
    let list: Buffer;
    try {
      list = decompressStatusList(statusList.lst, this.options.maxListBytes ?? 4 * 1024 * 1024);
    } catch (e) {
      if (e instanceof StatusListFormatError) refuse('status_unavailable', `the status list cannot be decoded: ${e.message}`);
      throw e;
    }
    const ttl = typeof payload.ttl === 'number' && Number.isFinite(payload.ttl) && payload.ttl >= 0 ? payload.ttl : undefined;
    const exp = typeof payload.exp === 'number' ? payload.exp : undefined;
    return { list: { bits: statusList.bits, list, signer: signer.source, exp }, ttl };
  }
}

function stillTrusted(signer: IssuerKeySource, trust: IssuerTrust): boolean {
  if (signer.kind === 'x5c') return trust.trustAnchors.some((a) => a.fingerprint256 === signer.anchor.fingerprint256);
  return trust.issuerMetadata?.trustedIssuers.includes(signer.issuer) ?? false;
}
