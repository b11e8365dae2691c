import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { APP_CONFIG, type AppConfig } from '@fpa/config';
import { decryptPrivateJwk, encryptPrivateJwk, generateSigningKey, importPrivateJwk, thumbprint, type JWK, type SigningKey } from '@fpa/crypto';
import { sqlRunner, type SqlRunner } from '@fpa/persistence';

/** `assertion`: signs our private_key_jwt assertions (published at /federation/jwks); `dpop`: our DPoP key (FED-11), a different key. */
export type FederationKeyPurpose = 'assertion' | 'dpop';

export interface FederationKey {
  readonly kid: string;
  readonly alg: string;
  readonly privateKey: SigningKey;
  readonly publicJwk: JWK;
  /** RFC 7638 thumbprint (the `dpop_jkt` of the DPoP key). */
  readonly jkt: string;
}

/** The port the rule and the downstream client use (a fake in unit specs). */
export interface FederationKeyring {
  key(purpose: FederationKeyPurpose): Promise<FederationKey>;
  /** The public assertion key(s) as a JWK Set (RFC 7517) — what a downstream registers as our jwks. */
  jwks(): Promise<{ keys: JWK[] }>;
}

export const FEDERATION_KEYS = Symbol('FEDERATION_KEYS');

interface Row {
  kid: string;
  alg: string;
  public_jwk: JWK;
  private_jwe: string;
}

/**
 * The suite's keys as a client of downstream servers, in PostgreSQL (`federation_keys`), private
 * halves encrypted under KEY_ENCRYPTION_KEY like the signing keys (CONTRACT §8). Created on first
 * use; `purpose` is the primary key, so replicas racing to create one end up with the same key.
 */
@Injectable()
export class PgFederationKeys implements FederationKeyring {
  private readonly sql: SqlRunner;
  private readonly loaded = new Map<FederationKeyPurpose, Promise<FederationKey>>();

  constructor(
    @InjectDataSource() ds: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    this.sql = sqlRunner(ds);
  }

  key(purpose: FederationKeyPurpose): Promise<FederationKey> {
    let key = this.loaded.get(purpose);
    if (!key) {
      key = this.load(purpose);
      this.loaded.set(purpose, key);
      key.catch(() => this.loaded.delete(purpose));
    }
    return key;
  }

  async jwks(): Promise<{ keys: JWK[] }> {
    const k = await this.key('assertion');
    return { keys: [{ ...k.publicJwk, use: 'sig' }] };
  }

  private async load(purpose: FederationKeyPurpose): Promise<FederationKey> {
    let row = (await this.sql<Row>(`SELECT kid, alg, public_jwk, private_jwe FROM federation_keys WHERE purpose = $1`, [purpose]))[0];
    if (!row) {
      const generated = await generateSigningKey('ES256');
      const jwe = await encryptPrivateJwk(generated.privateJwk, generated.kid, this.kek());
      await this.sql(`INSERT INTO federation_keys (purpose, kid, alg, public_jwk, private_jwe) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (purpose) DO NOTHING`, [
        purpose,
        generated.kid,
        generated.alg,
        JSON.stringify(generated.publicJwk),
        jwe,
      ]);
      row = (await this.sql<Row>(`SELECT kid, alg, public_jwk, private_jwe FROM federation_keys WHERE purpose = $1`, [purpose]))[0];
    }
    const privateJwk = await decryptPrivateJwk(row.private_jwe, row.kid, this.kek());
    const { kid, alg, ...publicJwk } = row.public_jwk as JWK & { kid: string; alg: string };
    const bare = { kty: publicJwk.kty, crv: publicJwk.crv, x: publicJwk.x, y: publicJwk.y } as JWK;
    return { kid, alg: row.alg, privateKey: await importPrivateJwk(privateJwk, row.alg), publicJwk: purpose === 'dpop' ? bare : { ...bare, kid, alg }, jkt: await thumbprint(bare) };
  }

  private kek(): Uint8Array {
    const kek = this.config.keys.encryptionKey;
    if (!kek) throw new Error('KEY_ENCRYPTION_KEY is required for the federation keys');
    return kek;
  }
}
