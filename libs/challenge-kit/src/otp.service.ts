import { createHmac, hkdfSync, randomInt, timingSafeEqual } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@fpa/config';
import { randomToken } from '@fpa/crypto';

/** What an OTP challenge keeps in its state: never the code, only a keyed hash of it. */
export type HashedOtp = {
  readonly salt: string;
  readonly mac: string;
  /** Epoch ms. */
  readonly expiresAt: number;
};

/**
 * One-time codes for the email and SMS modules: uniform random digits from the CSPRNG, stored as
 * HMAC-SHA256 under a key derived from KEY_ENCRYPTION_KEY (HKDF), so a copy of the challenge state
 * cannot be brute-forced offline; compared in constant time.
 */
@Injectable()
export class OtpService {
  private readonly key: Buffer;

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {
    const kek = config.keys.encryptionKey;
    if (!kek) throw new Error('KEY_ENCRYPTION_KEY is not configured');
    this.key = Buffer.from(hkdfSync('sha256', kek, Buffer.alloc(0), 'first-party-auth otp hash', 32));
  }

  get length(): number {
    return this.config.challenge.otpLength;
  }

  get ttlSeconds(): number {
    return this.config.challenge.otpTtlSeconds;
  }

  issue(nowMs: number): { code: string; hashed: HashedOtp } {
    let code = '';
    for (let i = 0; i < this.length; i++) code += String(randomInt(10));
    const salt = randomToken(16);
    return { code, hashed: { salt, mac: this.mac(salt, code), expiresAt: nowMs + this.ttlSeconds * 1000 } };
  }

  check(hashed: HashedOtp, input: unknown, nowMs: number): 'ok' | 'expired' | 'invalid' {
    if (nowMs >= hashed.expiresAt) return 'expired';
    if (typeof input !== 'string' || !/^\d{4,10}$/.test(input.trim())) return 'invalid';
    const a = Buffer.from(this.mac(hashed.salt, input.trim()), 'base64url');
    const b = Buffer.from(hashed.mac, 'base64url');
    return a.length === b.length && timingSafeEqual(a, b) ? 'ok' : 'invalid';
  }

  private mac(salt: string, code: string): string {
    return createHmac('sha256', this.key).update(`${salt}|${code}`).digest('base64url');
  }
}
