import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@fpa/config';
import { decryptSecret, encryptSecret } from '@fpa/crypto';

/**
 * For methods whose flow state must carry a secret (a TOTP seed during enrolment): sealed as a JWE
 * under KEY_ENCRYPTION_KEY and bound to the auth_session, so Redis never holds it in the clear.
 */
@Injectable()
export class SecretBox {
  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  seal(secret: string, authSession: string): Promise<string> {
    return encryptSecret(secret, `flow:${authSession}`, this.kek());
  }

  open(sealed: string, authSession: string): Promise<string> {
    return decryptSecret(sealed, `flow:${authSession}`, this.kek());
  }

  private kek(): Uint8Array {
    const kek = this.config.keys.encryptionKey;
    if (!kek) throw new Error('KEY_ENCRYPTION_KEY is not configured');
    return kek;
  }
}
