import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Stateless DPoP nonces (RFC 9449 §8, DPOP-27; CONTRACT §4: "verifiable by every replica without a
 * shared lookup"). A nonce is `counter || HMAC-SHA256(secret, realm || counter)[0..16]` where
 * counter = floor(now / window). Any replica holding the secret verifies it; the MAC makes it
 * unpredictable; the counter bounds its life to about two windows. The realm separates the AS's
 * nonces from a resource server's (DPOP-27: nonces are per server).
 */
export class DpopNonces {
  private cached: { counter: number; value: string } | undefined;

  constructor(
    private readonly secret: Uint8Array,
    private readonly windowSeconds: number,
    private readonly realm: string,
  ) {
    if (secret.length < 32) throw new Error('DPoP nonce secret must be at least 32 bytes');
  }

  current(nowSeconds: number): string {
    const counter = Math.floor(nowSeconds / this.windowSeconds);
    if (this.cached?.counter !== counter) this.cached = { counter, value: this.mint(counter) };
    return this.cached.value;
  }

  /**
   * Accepts the current window, the previous one (a nonce handed out just before the boundary) and
   * the next one (a replica whose clock runs slightly ahead minted it).
   */
  isValid(nonce: string, nowSeconds: number): boolean {
    if (nonce.length !== 38 || !/^[A-Za-z0-9_-]+$/.test(nonce)) return false;
    const bytes = Buffer.from(nonce, 'base64url');
    if (bytes.length !== 28) return false;
    const counter = Number(bytes.readBigUInt64BE(0) & 0xffffffffffffn);
    const now = Math.floor(nowSeconds / this.windowSeconds);
    if (counter < now - 1 || counter > now + 1) return false;
    const expected = this.mac(counter);
    return timingSafeEqual(bytes.subarray(12), expected) && bytes.readUInt32BE(8) === 0;
  }

  private mint(counter: number): string {
    const out = Buffer.alloc(28);
    out.writeBigUInt64BE(BigInt(counter), 0);
    out.writeUInt32BE(0, 8); // version / reserved
    this.mac(counter).copy(out, 12);
    return out.toString('base64url');
  }

  private mac(counter: number): Buffer {
    return createHmac('sha256', this.secret).update(`dpop-nonce|${this.realm}|${counter}`).digest().subarray(0, 16);
  }
}
