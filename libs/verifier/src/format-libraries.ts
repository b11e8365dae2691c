import type * as Mdoc from '@owf/mdoc';
import type * as SdJwtVc from '@sd-jwt/sd-jwt-vc';

/*
 * The credential-format libraries (@owf/mdoc with its CBOR/COSE stack, @sd-jwt/sd-jwt-vc) are loaded at the
 * first presentation that needs them, not when the app starts: together about 0.4 s of CPU at every start of a
 * process that may never verify a credential (issue 13 goal 4, the embedded default's start-up). Each is
 * required once and kept.
 */

let mdoc: typeof Mdoc | undefined;
let sdJwtVc: typeof SdJwtVc | undefined;

export function mdocLibrary(): typeof Mdoc {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (mdoc ??= require('@owf/mdoc') as typeof Mdoc);
}

export function sdJwtVcLibrary(): typeof SdJwtVc {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (sdJwtVc ??= require('@sd-jwt/sd-jwt-vc') as typeof SdJwtVc);
}
