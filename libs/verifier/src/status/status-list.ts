import { inflateSync } from 'node:zlib';

/**
 * Token Status List (draft-ietf-oauth-status-list §4): `lst` is the base64url of the ZLIB (RFC 1950) DEFLATE
 * compression of a byte array holding one `bits`-wide status per Referenced Token, the first status in the least
 * significant bits of the first byte. Decoded here with node:zlib under an output cap — @sd-jwt/jwt-status-list
 * (used by the test issuer to encode) inflates without a limit and unpacks the whole list into a JS array, which
 * a hostile list could turn into a memory bomb; we read only the one index asked for.
 */
export type BitsPerStatus = 1 | 2 | 4 | 8;

/** §7.1 status types. 0x03 and 0x0C–0x0F are application-specific; everything but VALID is refused. */
export const STATUS_VALID = 0x00;
export const STATUS_INVALID = 0x01;
export const STATUS_SUSPENDED = 0x02;

export class StatusListFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StatusListFormatError';
  }
}

export function isBitsPerStatus(bits: unknown): bits is BitsPerStatus {
  return bits === 1 || bits === 2 || bits === 4 || bits === 8;
}

/** Decompresses `lst` (at most `maxBytes` once inflated); throws StatusListFormatError. */
export function decompressStatusList(lst: unknown, maxBytes: number): Buffer {
  if (typeof lst !== 'string' || lst.length === 0 || !/^[A-Za-z0-9_-]+$/.test(lst)) throw new StatusListFormatError('lst is not base64url');
  try {
    // inflateSync reads the ZLIB wrapper (header and Adler-32), as §4.1 prescribes; maxOutputLength stops a bomb.
    return inflateSync(Buffer.from(lst, 'base64url'), { maxOutputLength: maxBytes });
  } catch (e) {
    const tooBig = e instanceof RangeError || (e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE';
    throw new StatusListFormatError(tooBig ? `the status list is larger than ${maxBytes} bytes` : 'lst is not ZLIB-compressed');
  }
}

/** The status at `idx` (§4.1 bit order); throws StatusListFormatError when the index is outside the list (§8.3 step 7). */
export function statusAt(list: Buffer, bits: BitsPerStatus, idx: number): number {
  if (!Number.isSafeInteger(idx) || idx < 0) throw new StatusListFormatError('idx is not a non-negative integer');
  const bit = idx * bits;
  const byte = Math.floor(bit / 8);
  if (byte >= list.length) throw new StatusListFormatError('idx is outside the status list');
  return (list[byte] >> (bit % 8)) & ((1 << bits) - 1);
}
