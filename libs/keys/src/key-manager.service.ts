import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { InjectDataSource, InjectRepository } from '@nestjs/typeorm';
import type { DataSource, Repository } from 'typeorm';
import { APP_CONFIG, type AppConfig } from '@fpa/config';
import {
  decryptPrivateJwk,
  encryptPrivateJwk,
  generateSigningKey,
  importPrivateJwk,
  signJwt,
  verifyJwt,
  localKeySet,
  type JWK,
  type JWTPayload,
  type SigningKey,
  type VerifyJwtOptions,
} from '@fpa/crypto';
import { CLOCK, type Clock } from '@fpa/oauth-core';
import { AuditService } from '@fpa/platform';
import { keyState, SigningKeyEntity } from './signing-key.entity';

const BOOTSTRAP_LOCK = 7_238_911_043;

export interface RotationResult {
  readonly kid: string;
  readonly activatesAt: Date;
  readonly created: boolean;
  readonly retiring: readonly { kid: string; expiresAt: Date }[];
}

/**
 * Loads the signing keys from PostgreSQL, refreshes them every KEY_REFRESH_SECONDS, and signs with
 * whichever key the clock says is active — so all replicas switch keys at the same instant without
 * talking to each other, and every replica already publishes a key before any of them signs with it.
 */
@Injectable()
export class KeyManager implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('KeyManager');
  private keys: SigningKeyEntity[] = [];
  private readonly imported = new Map<string, SigningKey>();
  private timer: NodeJS.Timeout | undefined;
  private jwksCache: { at: number; body: { keys: JWK[] } } | undefined;
  private keySet: { body: { keys: JWK[] }; resolve: ReturnType<typeof localKeySet> } | undefined;

  constructor(
    @InjectRepository(SigningKeyEntity) private readonly repo: Repository<SigningKeyEntity>,
    @InjectDataSource() private readonly ds: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly audit: AuditService,
  ) {}

  async onModuleInit(): Promise<void> {
    await this.ensureKey();
    await this.refresh();
    this.timer = setInterval(() => {
      this.refresh().catch((e: unknown) => this.logger.warn(`key refresh failed: ${(e as Error).message}`));
    }, this.config.keys.refreshSeconds * 1000);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** Reloads rows and imports the private keys that sign now or will sign soon. */
  async refresh(): Promise<void> {
    const rows = await this.repo.find({ order: { activatesAt: 'ASC' } });
    const now = this.clock.nowMs();
    for (const row of rows) {
      const state = keyState(row, now);
      if ((state === 'active' || state === 'pending') && !this.imported.has(row.kid)) {
        const jwk = await decryptPrivateJwk(row.privateJwe, row.kid, this.kek());
        this.imported.set(row.kid, await importPrivateJwk(jwk, row.alg));
      }
    }
    for (const kid of this.imported.keys()) {
      const row = rows.find((r) => r.kid === kid);
      if (!row || keyState(row, now) === 'expired') this.imported.delete(kid);
    }
    this.keys = rows;
    this.jwksCache = undefined;
  }

  /** Signs a JWT with the active key (CONTRACT §8: ES256 by default, RS256 selectable). */
  async sign(payload: JWTPayload, typ: string): Promise<{ token: string; kid: string }> {
    const key = this.activeKey();
    const signingKey = this.imported.get(key.kid);
    if (!signingKey) throw new Error(`signing key ${key.kid} is not loaded`);
    return { token: await signJwt(payload, { alg: key.alg, kid: key.kid, typ }, signingKey), kid: key.kid };
  }

  /** Verifies a JWT this server issued, against every published key. */
  async verify(token: string, options: Omit<VerifyJwtOptions, 'algorithms'>): Promise<{ payload: JWTPayload; header: Record<string, unknown> }> {
    return verifyJwt(token, this.resolver(), { ...options, algorithms: ['ES256', 'RS256'] });
  }

  /** Resolves a token header to one of the published public keys (for in-process resource servers). */
  resolver(): ReturnType<typeof localKeySet> {
    return (header) => {
      const body = this.jwks();
      if (this.keySet?.body !== body) this.keySet = { body, resolve: localKeySet(body) };
      return this.keySet.resolve(header);
    };
  }

  activeKey(): SigningKeyEntity {
    const now = this.clock.nowMs();
    let best: SigningKeyEntity | undefined;
    for (const k of this.keys) {
      if (keyState(k, now) === 'active' && (!best || k.activatesAt.getTime() >= best.activatesAt.getTime())) best = k;
    }
    if (!best) throw new Error('no active signing key (run `npm run keys -- rotate`)');
    return best;
  }

  /** RFC 7517 JWK Set of every published key: pending, active and retiring. Public members only. */
  jwks(): { keys: JWK[] } {
    const now = this.clock.nowMs();
    if (this.jwksCache && now - this.jwksCache.at < 1000) return this.jwksCache.body;
    const keys = this.keys
      .filter((k) => keyState(k, now) !== 'expired')
      .map((k) => publicOnly(k.publicJwk));
    const body = { keys };
    this.jwksCache = { at: now, body };
    return body;
  }

  list(): readonly SigningKeyEntity[] {
    return this.keys;
  }

  /** First start: one active key, created under a lock so concurrent replicas create only one. */
  async ensureKey(): Promise<void> {
    if ((await this.repo.count()) > 0) return;
    await this.ds.transaction(async (m) => {
      await m.query('SELECT pg_advisory_xact_lock($1)', [BOOTSTRAP_LOCK]);
      if ((await m.count(SigningKeyEntity)) > 0) return;
      const now = new Date(this.clock.nowMs());
      const row = await this.newRow(now);
      await m.insert(SigningKeyEntity, row);
      this.logger.log(`created the first ${this.config.keys.signingAlg} signing key`);
      this.audit.record({ type: 'signing_key.created', details: { kid: row.kid, alg: row.alg } });
    });
  }

  /**
   * Rotation (`npm run keys -- rotate`): a new key is published now and signs after
   * KEY_PUBLISH_LEAD_SECONDS (or at once with `immediate`); the current key stops signing then and
   * stays published until every token it signed has expired. Idempotent while a rotation is pending.
   */
  async rotate(options: { immediate?: boolean } = {}): Promise<RotationResult> {
    return this.ds.transaction(async (m) => {
      await m.query('SELECT pg_advisory_xact_lock($1)', [BOOTSTRAP_LOCK]);
      const nowMs = this.clock.nowMs();
      const rows = await m.find(SigningKeyEntity);
      const pending = rows.find((r) => keyState(r, nowMs) === 'pending');
      if (pending && !options.immediate) {
        return { kid: pending.kid, activatesAt: pending.activatesAt, created: false, retiring: [] };
      }
      const now = new Date(nowMs);
      const activatesAt = new Date(nowMs + (options.immediate ? 0 : this.config.keys.publishLeadSeconds * 1000));
      const row = await this.newRow(now, activatesAt);
      const keepFor = (Math.max(this.config.tokens.accessTokenTtl, this.config.tokens.fpTokenTtl) + 60) * 1000;
      const retiring: { kid: string; expiresAt: Date }[] = [];
      for (const r of rows) {
        const state = keyState(r, nowMs);
        if (state === 'active' || state === 'pending') {
          r.deactivatedAt = activatesAt;
          r.expiresAt = new Date(activatesAt.getTime() + keepFor);
          retiring.push({ kid: r.kid, expiresAt: r.expiresAt });
          await m.save(r);
        }
      }
      await m.insert(SigningKeyEntity, row);
      this.audit.record({
        type: 'signing_key.rotated',
        details: { kid: row.kid, alg: row.alg, activatesAt: activatesAt.toISOString(), immediate: options.immediate === true, retiring: retiring.map((r) => r.kid) },
      });
      return { kid: row.kid, activatesAt, created: true, retiring };
    });
  }

  /** Emergency: stop publishing a key at once (its tokens stop verifying). */
  async retire(kid: string): Promise<boolean> {
    const now = new Date(this.clock.nowMs());
    const result = await this.repo.update({ kid }, { expiresAt: now, deactivatedAt: now });
    const retired = (result.affected ?? 0) > 0;
    if (retired) this.audit.record({ type: 'signing_key.retired', details: { kid } });
    return retired;
  }

  private async newRow(now: Date, activatesAt: Date = now): Promise<SigningKeyEntity> {
    const generated = await generateSigningKey(this.config.keys.signingAlg);
    const row = new SigningKeyEntity();
    row.kid = generated.kid;
    row.alg = generated.alg;
    row.publicJwk = generated.publicJwk;
    row.privateJwe = await encryptPrivateJwk(generated.privateJwk, generated.kid, this.kek());
    row.createdAt = now;
    row.activatesAt = activatesAt;
    row.deactivatedAt = null;
    row.expiresAt = null;
    return row;
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
