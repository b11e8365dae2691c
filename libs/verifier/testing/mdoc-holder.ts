import { generateKeyPairSync } from 'node:crypto';
import { CoseKey, DeviceRequest, DocRequest, Holder, IssuerSigned, ItemsRequest, SessionTranscript } from '@owf/mdoc';
import { createMdocContext } from '../src/mdoc/mdoc-context';
import { MDL_DOCTYPE, MDL_NAMESPACE } from './mdoc-issuer';

/**
 * A test wallet for mdocs (issue 11 §5): holds a P-256 device key and answers like a wallet does — builds the
 * OpenID4VP or DC API SessionTranscript itself with @owf/mdoc (not with the verifier's builder), selectively
 * discloses the requested elements and signs DeviceAuthentication with the device key (deviceSignature).
 * Returns the DeviceResponse as base64url, the form a vp_token carries.
 */
export type HolderTranscript =
  | { readonly kind: 'openid4vp'; readonly clientId: string; readonly nonce: string; readonly responseUri: string; readonly jwkThumbprint?: Uint8Array }
  | { readonly kind: 'dc_api'; readonly origin: string; readonly nonce: string; readonly jwkThumbprint?: Uint8Array };

export interface PresentOptions {
  readonly issuerSigned: string;
  readonly transcript: HolderTranscript;
  readonly docType?: string;
  /** namespace → element identifiers to disclose (default: family_name, given_name, age_over_18 of the mDL). */
  readonly disclose?: Record<string, readonly string[]>;
  /** Signs with another key than the one the credential is bound to (a stolen credential). */
  readonly signWith?: TestMdocHolder;
}

export interface TestMdocHolder {
  readonly devicePublicJwk: Record<string, unknown>;
  readonly devicePrivateJwk: Record<string, unknown>;
  present(options: PresentOptions): Promise<string>;
}

export function createTestMdocHolder(): TestMdocHolder {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const devicePrivateJwk: Record<string, unknown> = { ...privateKey.export({ format: 'jwk' }), alg: 'ES256' };
  const { d: _d, ...devicePublicJwk } = devicePrivateJwk;
  const holder: TestMdocHolder = {
    devicePublicJwk,
    devicePrivateJwk,
    present: async (options) => {
      const ctx = createMdocContext();
      const t = options.transcript;
      const sessionTranscript =
        t.kind === 'openid4vp'
          ? await SessionTranscript.forOid4Vp({ clientId: t.clientId, nonce: t.nonce, responseUri: t.responseUri, jwkThumbprint: t.jwkThumbprint }, ctx)
          : await SessionTranscript.forOid4VpDcApi({ origin: t.origin, nonce: t.nonce, jwkThumbprint: t.jwkThumbprint }, ctx);
      const disclose = options.disclose ?? { [MDL_NAMESPACE]: ['family_name', 'given_name', 'age_over_18'] };
      const namespaces: Record<string, Record<string, boolean>> = {};
      for (const [ns, ids] of Object.entries(disclose)) namespaces[ns] = Object.fromEntries(ids.map((id) => [id, false]));
      const deviceRequest = DeviceRequest.create({
        version: '1.0',
        docRequests: [DocRequest.create({ itemsRequest: ItemsRequest.create({ docType: options.docType ?? MDL_DOCTYPE, namespaces }) })],
      });
      const signer = options.signWith ?? holder;
      const response = await Holder.createDeviceResponseForDeviceRequest(
        {
          deviceRequest,
          sessionTranscript,
          issuerSigned: [IssuerSigned.fromEncodedForOid4Vci(options.issuerSigned)],
          signature: { signingKey: CoseKey.fromJwk(signer.devicePrivateJwk) },
        },
        ctx,
      );
      return Buffer.from(response.encode()).toString('base64url');
    },
  };
  return holder;
}
