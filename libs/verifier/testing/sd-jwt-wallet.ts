import { createHash, generateKeyPairSync, type KeyObject, type webcrypto } from 'node:crypto';
import { SDJwtVcInstance } from '@sd-jwt/sd-jwt-vc';
import { es256Signer, sdJwtHasher } from './sd-jwt-issuer';

/*
 * A test holder (wallet) that presents like a real one, with @sd-jwt/sd-jwt-vc to select
 * disclosures and node:crypto to sign the KB-JWT — nothing shared with the verifier. Every knob a
 * misbehaving or hostile wallet could turn is an option, so refusals can be tested one by one.
 */

type PresentationFrame = NonNullable<Parameters<SDJwtVcInstance['present']>[1]>;

export interface SdJwtPresentOptions {
  readonly nonce: string;
  readonly aud: string;
  /** Which claims to disclose (`{ family_name: true }`); default: all. */
  readonly frame?: PresentationFrame;
  /** KB-JWT `iat`, seconds; default now. */
  readonly iat?: number;
  /** `transaction_data` strings of the request, as received: the KB-JWT carries their hashes (VP-4). */
  readonly transactionData?: readonly string[];
  /** Overrides the computed `transaction_data_hashes` (a wallet that hashes the wrong thing). */
  readonly transactionDataHashes?: readonly string[];
  readonly transactionDataHashesAlg?: string;
  /** Overrides `sd_hash`. */
  readonly sdHash?: string;
  /** Sign the KB-JWT with this key instead of the holder key. */
  readonly signWith?: KeyObject;
  readonly kbTyp?: string;
  /** Send no KB-JWT at all (the presentation ends in `~`). */
  readonly omitKeyBinding?: boolean;
  /** Rewrites the disclosures before the KB-JWT is made over them (a wallet altering a claim). */
  readonly tamperDisclosures?: (disclosures: string[]) => string[];
}

export class TestHolder {
  private constructor(
    private readonly privateKey: KeyObject,
    readonly publicJwk: webcrypto.JsonWebKey,
  ) {}

  static create(): TestHolder {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    return new TestHolder(privateKey, publicKey.export({ format: 'jwk' }));
  }

  /** `<issuer-jwt>~<disclosure>~…~<kb-jwt>` as a wallet puts it in `vp_token` (SD-JWT VC, VP-5). */
  async present(credential: string, options: SdJwtPresentOptions): Promise<string> {
    const sdjwt = new SDJwtVcInstance({ hasher: sdJwtHasher, hashAlg: 'sha-256' });
    const selected = await sdjwt.present(credential, options.frame);
    const [jwt, ...rest] = selected.split('~');
    const disclosures = rest.filter((d) => d !== '');
    const presented = `${[jwt, ...(options.tamperDisclosures ? options.tamperDisclosures(disclosures) : disclosures)].join('~')}~`;
    if (options.omitKeyBinding) return presented;
    const hashes = options.transactionDataHashes ?? options.transactionData?.map((d) => b64uSha256(d));
    const payload = {
      iat: options.iat ?? Math.floor(Date.now() / 1000),
      aud: options.aud,
      nonce: options.nonce,
      sd_hash: options.sdHash ?? b64uSha256(presented),
      ...(hashes ? { transaction_data_hashes: hashes } : {}),
      ...(options.transactionDataHashesAlg ? { transaction_data_hashes_alg: options.transactionDataHashesAlg } : {}),
    };
    const header = { alg: 'ES256', typ: options.kbTyp ?? 'kb+jwt' };
    const input = `${b64uJson(header)}.${b64uJson(payload)}`;
    return `${presented}${input}.${es256Signer(options.signWith ?? this.privateKey)(input)}`;
  }
}

/** A `transaction_data` entry as a verifier sends it (VP-4): base64url JSON with `type` and `credential_ids`. */
export function testTransactionData(details: Record<string, unknown>, credentialIds: readonly string[] = ['pid']): string {
  return b64uJson({ type: 'payment_initiation', credential_ids: credentialIds, ...details });
}

function b64uJson(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

function b64uSha256(value: string): string {
  return createHash('sha256').update(value).digest('base64url');
}
