import { performance } from 'node:perf_hooks';
import { JwkSetError, parsePublicJwkSet, type PublicJwkSet } from '@fpa/crypto';
import type { Clock } from '@fpa/oauth-core';
import { applyPolicy } from '../policy/apply-policy';
import { combineChainPolicies } from '../policy/combine-policies';
import { POLICY_OPERATORS, type EntityMetadata } from '../policy/policy-values';
import { statedKeys, verifyEntityStatement, WELL_KNOWN_OPENID_FEDERATION, type EntityStatement } from './entity-statement';
import type { EntityStatementSource } from './entity-statement-fetcher';
import { TRANSIENT_FAILURES, TrustChainError } from './trust-chain-error';

/** A configured trust anchor: its entity id and the keys it signs with, from configuration. */
export interface TrustAnchorConfig {
  readonly entityId: string;
  readonly jwks: { readonly keys: readonly Readonly<Record<string, unknown>>[] };
}

export interface ResolverSettings {
  /** Most superiors above the leaf, the trust anchor included. */
  readonly maxChainLength: number;
  /** Most authority_hints followed per entity. */
  readonly maxAuthorityHints: number;
  /** Most HTTP fetches per resolution. */
  readonly maxFetches: number;
  readonly fetchTimeoutMs: number;
  readonly resolveTimeoutMs: number;
  readonly maxResponseBytes: number;
  /** Longest a resolved chain is cached (it never outlives its earliest exp). */
  readonly chainCacheSeconds: number;
  readonly clockSkewSeconds: number;
}

/** A trust chain that verified (OpenID Federation 1.0 §4, §10). */
export interface ResolvedTrustChain {
  readonly entityId: string;
  readonly trustAnchor: string;
  /** The leaf's entity configuration, then each subordinate statement up to the trust anchor's. */
  readonly statements: readonly EntityStatement[];
  /** §6.1: the leaf's metadata, its superior's `metadata` over it, then the chain's combined policy applied. */
  readonly metadata: EntityMetadata;
  /** Seconds: the earliest `exp` of every statement used (§10.4). */
  readonly expiresAt: number;
}

interface Upward {
  /** Subordinate statements from the entity's superior up to the one issued by the trust anchor. */
  readonly statements: readonly EntityStatement[];
  /** The superiors' entity configurations (fetched for their endpoints and hints). */
  readonly configurations: readonly EntityStatement[];
  readonly anchor: string;
}

/** The budget of one resolution: fetches and wall time (never the injected clock: this bounds real waiting). */
class Budget {
  fetches = 0;
  private readonly deadline: number;
  constructor(private readonly settings: ResolverSettings) {
    this.deadline = performance.now() + settings.resolveTimeoutMs;
  }
  take(): number {
    if (++this.fetches > this.settings.maxFetches) throw new TrustChainError('too_many_fetches', `trust chain resolution needs more than ${this.settings.maxFetches} fetches`);
    const left = this.deadline - performance.now();
    if (left <= 0) throw this.expired();
    return Math.min(this.settings.fetchTimeoutMs, Math.ceil(left));
  }
  expired(): TrustChainError {
    return new TrustChainError('resolve_timeout', `trust chain resolution took longer than ${this.settings.resolveTimeoutMs} ms`);
  }
  over(): boolean {
    return performance.now() >= this.deadline;
  }
}

const MAX_CACHED_CHAINS = 1000;

/**
 * Trust chain resolution (OpenID Federation 1.0 §10): from an entity's configuration up its
 * `authority_hints` to one of the configured trust anchors, fetching each superior's configuration
 * (for its `federation_fetch_endpoint`) and its subordinate statement about the entity below, then
 * verifying the chain bottom-up (§10.2): every statement's signature with the keys its superior
 * states for its issuer, the last one with the anchor's configured keys; `typ`, `iat`, `exp`, and
 * `iss`/`sub` linking each statement to the next. Depth, fan-out, fetches, bytes and time are
 * bounded; chains are cached until their earliest `exp` (at most `chainCacheSeconds`).
 */
export class TrustChainResolver {
  private readonly anchorIds: ReadonlySet<string>;
  private anchors: Promise<ReadonlyMap<string, PublicJwkSet>> | undefined;
  private readonly cache = new Map<string, { readonly chain: ResolvedTrustChain; readonly until: number }>();
  private readonly inflight = new Map<string, Promise<ResolvedTrustChain>>();

  constructor(
    private readonly source: EntityStatementSource,
    private readonly anchorConfig: readonly TrustAnchorConfig[],
    private readonly settings: ResolverSettings,
    private readonly clock: Clock,
  ) {
    this.anchorIds = new Set(anchorConfig.map((a) => a.entityId));
  }

  /** False: no trust anchor is configured, so nothing can be trusted through federation. */
  get configured(): boolean {
    return this.anchorIds.size > 0;
  }

  async resolve(entityId: string): Promise<ResolvedTrustChain> {
    const cached = this.cache.get(entityId);
    if (cached && this.clock.nowSeconds() < cached.until) return cached.chain;
    this.cache.delete(entityId);
    let pending = this.inflight.get(entityId);
    if (!pending) {
      pending = this.build(entityId).finally(() => this.inflight.delete(entityId));
      this.inflight.set(entityId, pending);
    }
    const chain = await pending;
    if (this.settings.chainCacheSeconds > 0) {
      if (this.cache.size >= MAX_CACHED_CHAINS) this.cache.delete(this.cache.keys().next().value as string);
      this.cache.set(entityId, { chain, until: Math.min(chain.expiresAt, this.clock.nowSeconds() + this.settings.chainCacheSeconds) });
    }
    return chain;
  }

  private async build(entityId: string): Promise<ResolvedTrustChain> {
    const anchors = await this.anchorKeys();
    const budget = new Budget(this.settings);
    const leaf = await this.configuration(entityId, anchors.get(entityId), budget).catch((e: unknown) => {
      if (e instanceof TrustChainError && e.failure === 'not_found') throw new TrustChainError('not_a_federation_entity', `${entityId} publishes no entity configuration`);
      throw e;
    });
    if (anchors.has(entityId)) return this.assemble(leaf, { statements: [], configurations: [], anchor: entityId });
    const up = await this.up(leaf, [entityId], anchors, budget);
    // §10.2: the leaf's configuration verifies with the keys its superior states for it.
    await this.verify(leaf.jwt, up.statements[0].jwks, entityId, entityId);
    return this.assemble(leaf, up);
  }

  private assemble(leaf: EntityStatement, up: Upward): ResolvedTrustChain {
    const statements = [leaf, ...up.statements];
    for (const s of statements) {
      const unknown = s.metadataPolicyCrit.find((op) => !(POLICY_OPERATORS as readonly string[]).includes(op));
      // §6.1.3.2: a critical operator the suite does not implement invalidates the chain.
      if (unknown !== undefined) throw new TrustChainError('unsupported_critical', `metadata_policy_crit of ${s.iss} names the operator ${JSON.stringify(unknown)}, which this server does not support`);
    }
    // §6.1.4: the immediate superior's `metadata` about the leaf overrides the leaf's own values.
    const stated = up.statements[0]?.metadata ?? {};
    const metadata: Record<string, Record<string, unknown>> = {};
    for (const type of new Set([...Object.keys(leaf.metadata), ...Object.keys(stated)])) metadata[type] = { ...leaf.metadata[type], ...stated[type] };
    const policy = combineChainPolicies([...up.statements].reverse().map((s) => s.metadataPolicy));
    const expiresAt = Math.min(...[...statements, ...up.configurations].map((s) => s.exp));
    return { entityId: leaf.sub, trustAnchor: up.anchor, statements, metadata: applyPolicy(metadata, policy), expiresAt };
  }

  private async up(entity: EntityStatement, path: readonly string[], anchors: ReadonlyMap<string, PublicJwkSet>, budget: Budget): Promise<Upward> {
    const hints = entity.authorityHints.slice(0, this.settings.maxAuthorityHints);
    if (hints.length === 0) throw new TrustChainError('no_trust_anchor', `${entity.sub} has no authority_hints and is not a configured trust anchor`);
    const failures: TrustChainError[] = [];
    for (const hint of hints) {
      try {
        return await this.viaSuperior(entity, hint, path, anchors, budget);
      } catch (e) {
        if (!(e instanceof TrustChainError) || e.failure === 'too_many_fetches' || e.failure === 'resolve_timeout') throw e;
        failures.push(budget.over() && e.failure === 'unavailable' ? budget.expired() : e);
      }
    }
    // A path that may work later outweighs one that failed for good: the caller can retry.
    const first = failures.find((f) => TRANSIENT_FAILURES.has(f.failure)) ?? failures[0];
    if (failures.length === 1) throw first;
    throw new TrustChainError(first.failure, `${first.message} (and ${failures.length - 1} other authority hint(s) of ${entity.sub} failed)`);
  }

  private async viaSuperior(entity: EntityStatement, hint: string, path: readonly string[], anchors: ReadonlyMap<string, PublicJwkSet>, budget: Budget): Promise<Upward> {
    if (path.includes(hint)) throw new TrustChainError('loop', `authority_hints loop: ${[...path, hint].join(' -> ')}`);
    if (path.length > this.settings.maxChainLength) {
      throw new TrustChainError('too_deep', `no trust anchor within ${this.settings.maxChainLength} superiors of ${path[0]}`);
    }
    const anchorKeys = anchors.get(hint);
    const superior = await this.configuration(hint, anchorKeys, budget);
    const statement = await this.subordinate(superior, entity.sub, anchorKeys ?? superior.jwks, budget);
    if (anchorKeys) return { statements: [statement], configurations: [superior], anchor: hint };
    const rest = await this.up(superior, [...path, hint], anchors, budget);
    // §10.2: the superior's statements verify with the keys *its* superior states for it.
    const vouched = rest.statements[0].jwks;
    await this.verify(superior.jwt, vouched, hint, hint);
    await this.verify(statement.jwt, vouched, hint, entity.sub);
    return { statements: [statement, ...rest.statements], configurations: [superior, ...rest.configurations], anchor: rest.anchor };
  }

  /** §9: `<entity id>/.well-known/openid-federation`, self-signed (or with the anchor's configured keys). */
  private async configuration(entityId: string, anchorKeys: PublicJwkSet | undefined, budget: Budget): Promise<EntityStatement> {
    const jwt = await this.fetch(`${entityId.replace(/\/+$/, '')}${WELL_KNOWN_OPENID_FEDERATION}`, budget);
    return this.verify(jwt, anchorKeys ?? (await statedKeys(jwt, this.settings.maxResponseBytes)), entityId, entityId);
  }

  /** §8.1.1: the superior's fetch endpoint with `?sub=`. */
  private async subordinate(superior: EntityStatement, sub: string, keys: PublicJwkSet, budget: Budget): Promise<EntityStatement> {
    const endpoint = superior.metadata.federation_entity?.federation_fetch_endpoint;
    if (typeof endpoint !== 'string') throw new TrustChainError('no_fetch_endpoint', `${superior.sub} publishes no federation_fetch_endpoint`);
    let url: URL;
    try {
      url = new URL(endpoint);
    } catch {
      throw new TrustChainError('malformed', `federation_fetch_endpoint of ${superior.sub} is not a URL`);
    }
    url.searchParams.set('sub', sub);
    return this.verify(await this.fetch(url.toString(), budget), keys, superior.sub, sub);
  }

  private async fetch(url: string, budget: Budget): Promise<string> {
    const timeout = budget.take();
    try {
      return await this.source.get(url, timeout);
    } catch (e) {
      if (e instanceof TrustChainError && e.failure === 'unavailable' && budget.over()) throw budget.expired();
      throw e;
    }
  }

  private verify(jwt: string, keys: PublicJwkSet, iss: string, sub: string): Promise<EntityStatement> {
    return verifyEntityStatement(jwt, keys, {
      iss,
      sub,
      now: this.clock.nowSeconds(),
      clockSkewSeconds: this.settings.clockSkewSeconds,
      maxLength: this.settings.maxResponseBytes,
    });
  }

  /** Imports every configured anchor key once; a set that is not public keys only throws (start-up stops). */
  async validateAnchors(): Promise<void> {
    await this.anchorKeys();
  }

  private anchorKeys(): Promise<ReadonlyMap<string, PublicJwkSet>> {
    this.anchors ??= (async () => {
      const map = new Map<string, PublicJwkSet>();
      for (const a of this.anchorConfig) {
        try {
          map.set(a.entityId, await parsePublicJwkSet(a.jwks, { maxKeys: 20 }));
        } catch (e) {
          if (e instanceof JwkSetError) throw new Error(`OPENID_FEDERATION_TRUST_ANCHORS: ${a.entityId}: jwks ${e.message}`);
          throw e;
        }
      }
      return map;
    })();
    return this.anchors;
  }
}
