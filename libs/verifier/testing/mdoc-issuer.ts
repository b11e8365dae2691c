import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { CoseKey, DateOnly, DeviceKey, Issuer, SignatureAlgorithm } from '@owf/mdoc';
import { createMdocContext } from '../src/mdoc/mdoc-context';

/**
 * Test issuer for mdocs (issue 11 §5): a self-signed IACA root and a document signer certificate it issues (x5c),
 * signing a real ISO 18013-5 mDL bound to a holder's device key with @owf/mdoc's Issuer.
 * The certificates are made with @peculiar/x509 (devDependency), independently of the verifier's trust code.
 */
x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

export const MDL_DOCTYPE = 'org.iso.18013.5.1.mDL';
export const MDL_NAMESPACE = 'org.iso.18013.5.1';

const EC = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY = 24 * 60 * 60 * 1000;

export interface TestMdocIssuer {
  /** The IACA root certificate (DER): what a verifier configures as trust anchor. */
  readonly iacaRoot: Uint8Array;
  /** The document signer certificate (DER), carried in IssuerAuth's x5chain. */
  readonly documentSigner: Uint8Array;
  /** Issues an mdoc bound to `devicePublicJwk`; returns IssuerSigned as base64url (as OpenID4VCI delivers it). */
  issue(options: IssueOptions): Promise<string>;
}

export interface IssueOptions {
  readonly devicePublicJwk: Record<string, unknown>;
  readonly docType?: string;
  readonly namespace?: string;
  readonly elements?: Record<string, unknown>;
  readonly signed?: Date;
  readonly validFrom?: Date;
  readonly validUntil?: Date;
}

export const DEFAULT_MDL_ELEMENTS: Record<string, unknown> = {
  family_name: 'Mustermann',
  given_name: 'Erika',
  birth_date: new DateOnly('1984-01-26'),
  issuing_country: 'US',
  document_number: 'D1234567',
  age_over_18: true,
};

export async function createTestMdocIssuer(options: { country?: string; name?: string } = {}): Promise<TestMdocIssuer> {
  const country = options.country ?? 'US';
  const name = options.name ?? 'Test';
  const notBefore = new Date(Date.now() - 365 * DAY);
  const notAfter = new Date(Date.now() + 365 * DAY);
  const rootKeys = await webcrypto.subtle.generateKey(EC, true, ['sign', 'verify']);
  const root = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: `C=${country}, CN=${name} IACA`,
    notBefore,
    notAfter,
    keys: rootKeys,
    signingAlgorithm: EC,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
    ],
  });
  const dsKeys = await webcrypto.subtle.generateKey(EC, true, ['sign', 'verify']);
  const ds = await x509.X509CertificateGenerator.create({
    serialNumber: '02',
    subject: `C=${country}, CN=${name} Document Signer`,
    issuer: root.subject,
    notBefore,
    notAfter,
    publicKey: dsKeys.publicKey,
    signingKey: rootKeys.privateKey,
    signingAlgorithm: EC,
    extensions: [new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true)],
  });
  const dsPrivateJwk = await webcrypto.subtle.exportKey('jwk', dsKeys.privateKey);
  const documentSigner = new Uint8Array(ds.rawData);

  return {
    iacaRoot: new Uint8Array(root.rawData),
    documentSigner,
    issue: async (issue) => {
      const signed = issue.signed ?? new Date();
      const issuer = new Issuer(issue.docType ?? MDL_DOCTYPE, createMdocContext());
      issuer.addIssuerNamespace(issue.namespace ?? MDL_NAMESPACE, issue.elements ?? DEFAULT_MDL_ELEMENTS);
      const issuerSigned = await issuer.sign({
        signingKey: CoseKey.fromJwk(dsPrivateJwk as Record<string, unknown>),
        algorithm: SignatureAlgorithm.ES256,
        digestAlgorithm: 'SHA-256',
        validityInfo: {
          signed,
          validFrom: issue.validFrom ?? signed,
          validUntil: issue.validUntil ?? new Date(signed.getTime() + 365 * DAY),
        },
        deviceKeyInfo: { deviceKey: DeviceKey.fromJwk(issue.devicePublicJwk) },
        certificates: [documentSigner],
      });
      return issuerSigned.encodedForOid4Vci;
    },
  };
}
