import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@fpa/config';
import { randomToken, sha256B64u } from '@fpa/crypto';
import type { RequestInfo } from '@fpa/oauth-core';

const SECRET = /^[A-Za-z0-9_-]{43}$/;

/**
 * The browser's caller binding (STYLE.md): a login cookie holding a random secret (HttpOnly,
 * SameSite=Lax, Secure and `__Host-` outside loopback), whose hash binds each flow, plus a CSRF
 * token per interaction — an HMAC of the interaction and the cookie's secret under a key derived
 * from KEY_ENCRYPTION_KEY — that every form post must carry.
 */
@Injectable()
export class BrowserBinding {
  private readonly csrfKey: Buffer;
  readonly secure: boolean;
  readonly cookieName: string;

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    const kek = config.keys.encryptionKey;
    if (!kek) throw new Error('KEY_ENCRYPTION_KEY is not configured');
    this.csrfKey = Buffer.from(hkdfSync('sha256', kek, Buffer.alloc(0), 'first-party-auth browser csrf', 32));
    const issuer = new URL(config.http.issuer);
    // A `Secure` cookie needs https; plain http is only ever the issuer on loopback or in embedded mode.
    this.secure = issuer.protocol === 'https:';
    this.cookieName = this.secure ? '__Host-fpa_login' : 'fpa_login';
  }

  /** The login cookie's secret, when the request carries a well-formed one. */
  secretOf(request: RequestInfo): string | undefined {
    const header = request.headers.cookie;
    const cookies = Array.isArray(header) ? header.join('; ') : (header ?? '');
    for (const part of cookies.split(';')) {
      const [name, ...value] = part.trim().split('=');
      if (name === this.cookieName && SECRET.test(value.join('='))) return value.join('=');
    }
    return undefined;
  }

  newSecret(): string {
    return randomToken(32);
  }

  /** What binds a flow to this browser (the flow's key; never the secret itself). */
  bindingKey(secret: string): string {
    return `browser:${sha256B64u(secret)}`;
  }

  setCookie(secret: string): string {
    // Path=/ (a __Host- cookie must); Lax: the login's own top-level navigations and posts carry it, cross-site subrequests do not.
    return `${this.cookieName}=${secret}; Path=/; HttpOnly; SameSite=Lax${this.secure ? '; Secure' : ''}`;
  }

  csrfToken(interactionId: string, secret: string): string {
    return createHmac('sha256', this.csrfKey).update(`${interactionId}|${secret}`).digest('base64url');
  }

  checkCsrf(interactionId: string, secret: string, token: unknown): boolean {
    if (typeof token !== 'string' || token.length > 64) return false;
    const a = Buffer.from(this.csrfToken(interactionId, secret));
    const b = Buffer.from(token);
    return a.length === b.length && timingSafeEqual(a, b);
  }
}
