import { generateClientKeyPair, signJwt, type ClientKeyPair, type JWK } from '@fpa/crypto';
import { ENTITY_STATEMENT_MEDIA_TYPE, ENTITY_STATEMENT_TYP, WELL_KNOWN_OPENID_FEDERATION } from '../chain/entity-statement';
import type { EntityStatementSource } from '../chain/entity-statement-fetcher';
import { TrustChainError } from '../chain/trust-chain-error';

/**
 * A federation for tests: entities with real keys that sign real entity statements (jose through
 * libs/crypto), answered in memory (`source()`, unit specs) or over HTTP (`answer()`, the e2e
 * servers). Every statement is signed when it is asked for, so a test changes an entity and the
 * next fetch sees it; `tamper` hooks break one statement in one way.
 */

export interface StatementTamper {
  /** Claims over (or, with `undefined`, removed from) the payload. */
  readonly payload?: Record<string, unknown>;
  readonly typ?: string;
  /** Signed with this key instead of the entity's own. */
  readonly signWith?: ClientKeyPair;
}

export interface Subordinate {
  readonly jwks?: { keys: JWK[] };
  readonly metadata?: Record<string, Record<string, unknown>>;
  readonly metadataPolicy?: Record<string, Record<string, Record<string, unknown>>>;
  readonly metadataPolicyCrit?: string[];
  readonly tamper?: StatementTamper;
}

export interface HttpAnswer {
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
}

const kidOf = (k: ClientKeyPair): string => k.jkt;

export class TestEntity {
  authorityHints: string[] = [];
  metadata: Record<string, Record<string, unknown>> = {};
  configurationTamper: StatementTamper | undefined;
  readonly subordinates = new Map<string, Subordinate>();
  /** Seconds from now to `exp` of what this entity signs. */
  lifetime = 3600;

  private constructor(
    readonly entityId: string,
    readonly key: ClientKeyPair,
  ) {}

  static async create(entityId: string): Promise<TestEntity> {
    return new TestEntity(entityId, await generateClientKeyPair('ES256'));
  }

  get jwks(): { keys: JWK[] } {
    return { keys: [{ ...this.key.publicJwk, kid: kidOf(this.key), alg: 'ES256', use: 'sig' }] };
  }

  get fetchEndpoint(): string {
    return `${this.entityId}/fetch`;
  }

  /** Makes this entity an intermediate or anchor: it publishes a fetch endpoint. */
  asAuthority(): this {
    this.metadata.federation_entity = { ...this.metadata.federation_entity, federation_fetch_endpoint: this.fetchEndpoint };
    return this;
  }

  /** Registers `sub` below this entity with its keys (and optional metadata / policy). */
  subordinate(sub: TestEntity, extra: Omit<Subordinate, 'jwks'> = {}): this {
    this.subordinates.set(sub.entityId, { jwks: sub.jwks, ...extra });
    sub.authorityHints = [...new Set([...sub.authorityHints, this.entityId])];
    return this;
  }

  configuration(nowSeconds: number): Promise<string> {
    const payload: Record<string, unknown> = { iss: this.entityId, sub: this.entityId, iat: nowSeconds, exp: nowSeconds + this.lifetime, jwks: this.jwks, metadata: this.metadata };
    if (this.authorityHints.length > 0) payload.authority_hints = this.authorityHints;
    return this.sign(payload, this.configurationTamper);
  }

  statementAbout(sub: string, nowSeconds: number): Promise<string> | undefined {
    const s = this.subordinates.get(sub);
    if (!s) return undefined;
    const payload: Record<string, unknown> = { iss: this.entityId, sub, iat: nowSeconds, exp: nowSeconds + this.lifetime, jwks: s.jwks };
    if (s.metadata) payload.metadata = s.metadata;
    if (s.metadataPolicy) payload.metadata_policy = s.metadataPolicy;
    if (s.metadataPolicyCrit) payload.metadata_policy_crit = s.metadataPolicyCrit;
    return this.sign(payload, s.tamper);
  }

  private sign(payload: Record<string, unknown>, tamper: StatementTamper | undefined): Promise<string> {
    const claims = { ...payload, ...tamper?.payload };
    for (const [k, v] of Object.entries(claims)) if (v === undefined) delete claims[k];
    const key = tamper?.signWith ?? this.key;
    return signJwt(claims, { alg: 'ES256', kid: kidOf(key), typ: tamper?.typ ?? ENTITY_STATEMENT_TYP }, key.privateKey);
  }
}

export class TestFederation {
  readonly entities = new Map<string, TestEntity>();
  /** Answers that replace an entity's for one URL (oversized bodies, redirects, …). */
  readonly overrides = new Map<string, HttpAnswer>();
  /** Every URL asked for, in order. */
  readonly requests: string[] = [];

  constructor(private readonly now: () => number = () => Math.floor(Date.now() / 1000)) {}

  async entity(entityId: string): Promise<TestEntity> {
    const e = await TestEntity.create(entityId);
    this.entities.set(entityId, e);
    return e;
  }

  /** What `GET url` answers: an entity configuration, a fetch endpoint answer, or 404. */
  async answer(url: string): Promise<HttpAnswer> {
    this.requests.push(url);
    const override = this.overrides.get(url);
    if (override) return override;
    const u = new URL(url);
    const entity = this.entities.get(u.origin);
    const ok = (body: string): HttpAnswer => ({ status: 200, contentType: ENTITY_STATEMENT_MEDIA_TYPE, body });
    const notFound: HttpAnswer = { status: 404, contentType: 'application/json', body: '{"error":"not_found"}' };
    if (!entity) return notFound;
    if (u.pathname === WELL_KNOWN_OPENID_FEDERATION) return ok(await entity.configuration(this.now()));
    if (`${u.origin}${u.pathname}` === entity.fetchEndpoint) {
      const statement = entity.statementAbout(u.searchParams.get('sub') ?? '', this.now());
      return statement ? ok(await statement) : notFound;
    }
    return notFound;
  }

  /** An in-memory EntityStatementSource with the HTTP fetcher's status rules. */
  source(): EntityStatementSource {
    return {
      get: async (url) => {
        const a = await this.answer(url);
        if (a.status === 404) throw new TrustChainError('not_found', `${url} answered 404`);
        if (a.status >= 500) throw new TrustChainError('unavailable', `${url} answered ${a.status}`);
        if (a.status !== 200) throw new TrustChainError('http_status', `${url} answered ${a.status}`);
        return a.body;
      },
    };
  }
}
