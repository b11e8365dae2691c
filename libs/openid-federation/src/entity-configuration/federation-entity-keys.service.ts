import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { InjectDataSource, InjectRepository } from '@nestjs/typeorm';
import type { DataSource, Repository } from 'typeorm';
import { APP_CONFIG, type AppConfig } from '@fpa/config';
import { decryptPrivateJwk, encryptPrivateJwk, generateSigningKey, importPrivateJwk, signJwt, type JWK, type JWTPayload, type SigningKey } from '@fpa/crypto';
import { CLOCK, type Clock } from '@fpa/oauth-core';
import { AuditService } from '@fpa/platform';
import { FederationEntityKeyEntity } from './federation-entity-key.entity';

const FEDERATION_KEY_LOCK = 7_238_911_044;

/**
 * The suite's federation entity keys: the first start creates one (under an advisory lock, so
 * concurrent replicas create one between them), its private half encrypted at rest under
 * KEY_ENCRYPTION_KEY (CONTRACT §8); every replica loads them at start. Keys whose `expires_at` has
 * passed are neither published nor used.
 */
@Injectable()
export class FederationEntityKeys implements OnModuleInit {
  private readonly logger = new Logger('FederationEntityKeys');
  private rows: FederationEntityKeyEntity[] = [];
  private signer: { row: FederationEntityKeyEntity; key: SigningKey } | undefined;

  constructor(
    @InjectRepository(FederationEntityKeyEntity) private readonly repo: Repository<FederationEntityKeyEntity>,
    @InjectDataSource() private readonly ds: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly audit: AuditService,
  ) {}

  async onModuleInit(): Promise<void> {
    await this.ensureKey();
    await this.load();
  }

  async load(): Promise<void> {
    const now = this.clock.nowMs();
    this.rows = (await this.repo.find({ order: { createdAt: 'ASC' } })).filter((r) => !r.expiresAt || r.expiresAt.getTime() > now);
    const newest = [...this.rows].reverse().find((r) => r.expiresAt === null);
    if (!newest) throw new Error('no federation entity key (federation_entity_keys holds none that signs)');
    if (this.signer?.row.kid !== newest.kid) {
      this.signer = { row: newest, key: await importPrivateJwk(await decryptPrivateJwk(newest.privateJwe, newest.kid, this.kek()), newest.alg) };
    }
  }

  /** OpenID Federation 1.0 §3: `typ: entity-statement+jwt`, `kid` of the signing key. */
  async sign(payload: JWTPayload, typ: string): Promise<string> {
    if (!this.signer) throw new Error('federation entity keys are not loaded');
    const { row, key } = this.signer;
    return signJwt(payload, { alg: row.alg, kid: row.kid, typ }, key);
  }

  /** The entity's `jwks`: public members only. */
  jwks(): { keys: JWK[] } {
    return { keys: this.rows.map((r) => publicOnly(r.publicJwk)) };
  }

  private async ensureKey(): Promise<void> {
    if ((await this.repo.count()) > 0) return;
    await this.ds.transaction(async (m) => {
      await m.query('SELECT pg_advisory_xact_lock($1)', [FEDERATION_KEY_LOCK]);
      if ((await m.count(FederationEntityKeyEntity)) > 0) return;
      const generated = await generateSigningKey(this.config.keys.signingAlg);
      const row = new FederationEntityKeyEntity();
      row.kid = generated.kid;
      row.alg = generated.alg;
      row.publicJwk = generated.publicJwk;
      row.privateJwe = await encryptPrivateJwk(generated.privateJwk, generated.kid, this.kek());
      row.createdAt = new Date(this.clock.nowMs());
      row.expiresAt = null;
      await m.insert(FederationEntityKeyEntity, row);
      this.logger.log(`created the first ${row.alg} federation entity key`);
      this.audit.record({ type: 'federation_entity_key.created', details: { kid: row.kid, alg: row.alg } });
    });
  }

  private kek(): Uint8Array {
    const kek = this.config.keys.encryptionKey;
    if (!kek) throw new Error('KEY_ENCRYPTION_KEY is not configured');
    return kek;
  }
}

function publicOnly(jwk: JWK): JWK {
  const { kty, crv, x, y, n, e, kid, alg, use } = jwk as Record<string, string | undefined>;
  return Object.fromEntries(Object.entries({ kty, crv, x, y, n, e, kid, alg, use }).filter(([, v]) => v !== undefined)) as JWK;
}
