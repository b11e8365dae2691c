import 'reflect-metadata'; // @peculiar/x509 uses tsyringe, which needs the polyfill loaded first.
import { createHash, KeyObject, randomBytes, sign, webcrypto, X509Certificate } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { SDJwtVcInstance } from '@sd-jwt/sd-jwt-vc';

/*
 * A test credential issuer that works like a real one and shares no code with the verifier: its
 * PKI is made with @peculiar/x509 (root CA → issuer certificate), its SD-JWT VCs with
 * @sd-jwt/sd-jwt-vc, and its signatures with node:crypto directly (not libs/crypto or jose).
 */

const crypto = webcrypto;
const EC = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGNING = { name: 'ECDSA', hash: 'SHA-256' } as const;
const DAY = 86_400_000;
type DisclosureFrame = NonNullable<Parameters<SDJwtVcInstance['issue']>[1]>;

export interface TestPkiOptions {
  /** Subject alternative names of the issuer certificate; default DNS `issuer.example`. */
  readonly issuerDnsName?: string;
  readonly rootName?: string;
  /** Validity of the issuer certificate; default yesterday → in a year. */
  readonly notBefore?: Date;
  readonly notAfter?: Date;
}

export interface TestPki {
  /** The trust anchor the verifier is configured with. */
  readonly root: X509Certificate;
  readonly rootPem: string;
  /** The issuer's `x5c` (leaf only; the root is the anchor and not sent). */
  readonly x5c: string[];
  readonly issuerKey: KeyObject;
  /** `https://<dns name>` — the `iss` that matches the certificate. */
  readonly issuer: string;
}

export async function createTestPki(options: TestPkiOptions = {}): Promise<TestPki> {
  x509.cryptoProvider.set(crypto as never);
  const dns = options.issuerDnsName ?? 'issuer.example';
  const now = Date.now();
  const rootKeys = (await crypto.subtle.generateKey(EC, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const root = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomBytes(8).toString('hex'),
    name: `CN=${options.rootName ?? 'Test Credential Root CA'}`,
    notBefore: new Date(now - 2 * DAY),
    notAfter: new Date(now + 3650 * DAY),
    signingAlgorithm: SIGNING,
    keys: rootKeys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(rootKeys.publicKey),
    ],
  });
  const leafKeys = (await crypto.subtle.generateKey(EC, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const leaf = await x509.X509CertificateGenerator.create({
    serialNumber: randomBytes(8).toString('hex'),
    subject: `CN=${dns}`,
    issuer: root.subject,
    notBefore: options.notBefore ?? new Date(now - DAY),
    notAfter: options.notAfter ?? new Date(now + 365 * DAY),
    signingAlgorithm: SIGNING,
    publicKey: leafKeys.publicKey,
    signingKey: rootKeys.privateKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: dns }]),
      await x509.AuthorityKeyIdentifierExtension.create(rootKeys.publicKey),
    ],
  });
  const rootPem = root.toString('pem');
  return {
    root: new X509Certificate(rootPem),
    rootPem,
    x5c: [Buffer.from(leaf.rawData).toString('base64')],
    issuerKey: KeyObject.from(leafKeys.privateKey as unknown as webcrypto.CryptoKey),
    issuer: `https://${dns}`,
  };
}

export const sdJwtHasher = (data: string | ArrayBuffer, alg: string): Uint8Array => {
  if (alg !== 'sha-256') throw new Error(`test hasher only does sha-256, not ${alg}`);
  return createHash('sha256').update(typeof data === 'string' ? data : Buffer.from(data)).digest();
};

export function es256Signer(key: KeyObject): (data: string) => string {
  return (data) => sign('sha256', Buffer.from(data), { key, dsaEncoding: 'ieee-p1363' }).toString('base64url');
}

export interface SdJwtIssueOptions {
  readonly vct?: string;
  /** Claims; by default every top-level claim is selectively disclosable. */
  readonly claims?: Record<string, unknown>;
  readonly disclosureFrame?: DisclosureFrame;
  readonly holderJwk: webcrypto.JsonWebKey;
  readonly iss?: string;
  readonly iat?: number;
  readonly exp?: number;
  readonly nbf?: number;
  /** Extra header members (or overrides: `typ`, `x5c`). */
  readonly header?: Record<string, unknown>;
  /** Extra payload members outside the disclosures. */
  readonly extra?: Record<string, unknown>;
  /** A Token Status List reference (`status.status_list`), e.g. from `TestStatusList.allocate()`. */
  readonly status?: { readonly idx: number; readonly uri: string };
  /**
   * Sign for a verifier that trusts this issuer through JWT VC Issuer Metadata: no `x5c`, `kid` = `keyId`, and
   * `iss` = the given issuer URL (serve `metadataFor(iss)` at its well-known URL).
   */
  readonly viaMetadata?: { readonly iss: string };
}

/** The `kid` of the issuer key in the JWT VC Issuer Metadata this test issuer publishes. */
export const TEST_ISSUER_KID = 'test-issuer-key-1';

export const TEST_PID_VCT = 'urn:eudi:pid:1';

export class TestSdJwtIssuer {
  constructor(readonly pki: TestPki) {}

  static async create(options: TestPkiOptions = {}): Promise<TestSdJwtIssuer> {
    return new TestSdJwtIssuer(await createTestPki(options));
  }

  /** A real SD-JWT VC (`dc+sd-jwt`) bound to `holderJwk` (`cnf.jwk`), ending in `~` (no KB-JWT). */
  async issue(options: SdJwtIssueOptions): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    const claims = options.claims ?? { given_name: 'Erika', family_name: 'Mustermann', birthdate: '1964-08-12', address: { country: 'DE', locality: 'Berlin' } };
    const frame = options.disclosureFrame ?? ({ _sd: Object.keys(claims) } as DisclosureFrame);
    const sdjwt = new SDJwtVcInstance({
      signer: es256Signer(this.pki.issuerKey),
      signAlg: 'ES256',
      hasher: sdJwtHasher,
      hashAlg: 'sha-256',
      saltGenerator: (length) => randomBytes(length).toString('base64url'),
    });
    const payload: Parameters<SDJwtVcInstance['issue']>[0] = {
      iss: options.iss ?? options.viaMetadata?.iss ?? this.pki.issuer,
      vct: options.vct ?? TEST_PID_VCT,
      iat: options.iat ?? now,
      exp: options.exp ?? now + 3600,
      ...(options.nbf === undefined ? {} : { nbf: options.nbf }),
      cnf: { jwk: options.holderJwk },
      ...(options.status ? { status: { status_list: { idx: options.status.idx, uri: options.status.uri } } } : {}),
      ...options.extra,
      ...claims,
    };
    const keyHeader = options.viaMetadata ? { kid: TEST_ISSUER_KID } : { x5c: this.pki.x5c };
    return sdjwt.issue(payload, frame, { header: { ...keyHeader, ...options.header } });
  }

  /** The issuer's public signing key as a JWK (`kid` TEST_ISSUER_KID, `alg` ES256, `use` sig). */
  publicJwk(): webcrypto.JsonWebKey & { kid: string } {
    const { d: _d, ...pub } = this.pki.issuerKey.export({ format: 'jwk' });
    return { ...pub, kid: TEST_ISSUER_KID, alg: 'ES256', use: 'sig' };
  }

  /** JWT VC Issuer Metadata (SD-JWT VC draft §5.2) for `iss`: the key inline (`jwks`) or by reference (`jwks_uri`). */
  metadataFor(iss: string, options: { jwksUri?: string } = {}): Record<string, unknown> {
    return options.jwksUri ? { issuer: iss, jwks_uri: options.jwksUri } : { issuer: iss, jwks: { keys: [this.publicJwk()] } };
  }

  /** A signed compact JWT with this issuer's key and `x5c` (or `kid` with `viaMetadata`), for Status List Tokens. */
  signJwt(header: Record<string, unknown>, payload: Record<string, unknown>, options: { viaMetadata?: boolean } = {}): string {
    const keyHeader = options.viaMetadata ? { kid: TEST_ISSUER_KID } : { x5c: this.pki.x5c };
    const input = `${Buffer.from(JSON.stringify({ alg: 'ES256', ...keyHeader, ...header })).toString('base64url')}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}`;
    return `${input}.${es256Signer(this.pki.issuerKey)(input)}`;
  }
}
