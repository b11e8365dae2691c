import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { AppConfig } from './load-config';

/**
 * Embedded mode only: secrets that production must supply are generated once into DATA_DIR
 * (mode 0600) so restarts keep working keys and nonces. Production never reaches this.
 */
export function withEmbeddedSecrets(config: AppConfig): AppConfig {
  if (config.mode !== 'embedded') return config;
  const dir = config.dataDir;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const load = (file: string): Uint8Array => {
    const path = join(dir, file);
    if (!existsSync(path)) {
      writeFileSync(path, randomBytes(32).toString('base64url'), { mode: 0o600, flag: 'wx' });
    }
    return new Uint8Array(Buffer.from(readFileSync(path, 'utf8').trim(), 'base64url'));
  };
  return {
    ...config,
    keys: { ...config.keys, encryptionKey: config.keys.encryptionKey ?? load('key-encryption.key') },
    dpop: { ...config.dpop, nonceSecret: config.dpop.nonceSecret ?? load('dpop-nonce.key') },
  };
}
