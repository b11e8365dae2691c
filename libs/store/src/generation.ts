import { randomBytes } from 'node:crypto';
import { OAuthError } from '@fpa/oauth-core';

/**
 * Store generations: how the suite notices that the ephemeral store lost data, and what it refuses
 * afterwards (issue 8, items 2 and 3; docs/operations.md "Back up and restore").
 *
 * The store holds a marker (`StoreKeys.generation`, no TTL) naming its current generation. Every
 * claim of a single-use value and every revocation-flag check reads it in the same round trip (the
 * Lua scripts of RedisStore, the same rules in MemoryStore). A marker that is missing (a restart
 * without persistence, FLUSHALL, a wiped prefix) or behind what this process saw (a failover to a
 * replica that missed writes, a restore from an older copy) starts a new generation in that same
 * atomic step, so replicas cannot start two. From then on a value that could have been accepted
 * before the generation started is refused (`predatesGeneration`), and revocation flags count only
 * once an authorization-server replica has refilled them from PostgreSQL (`restoredAtMs`).
 */

/** Why a generation started: the deployment's first (nothing can predate it), a missing marker, or a marker behind this process. */
export type GenerationReason = 'genesis' | 'missing' | 'regressed';

export interface StoreGeneration {
  /** 1, 2, …: a generation started after a loss is numbered above every one its detector knew. */
  readonly epoch: number;
  /** Unique per generation (the detecting process's replica id and the epoch). */
  readonly id: string;
  /** Epoch ms by the detecting process's clock; 0 for a genesis generation. */
  readonly startedAtMs: number;
  /** When the revocation flags were refilled from PostgreSQL; undefined until then (flag checks fail closed). */
  readonly restoredAtMs: number | undefined;
  readonly reason: GenerationReason;
}

/** The marker as a claim, a flag check or a sync sees it, right after that operation. */
export interface MarkerReading {
  readonly generation: StoreGeneration;
  /** This process's own claim counter in that generation (`seq:<replicaId>` in the marker). */
  readonly seq: number;
  /** True when this very operation started the generation. */
  readonly established: boolean;
}

/** What a process sends with every operation: the generation it knows and how many claims it made in it. */
export interface GenerationExpectation {
  readonly epoch: number;
  readonly id: string;
  readonly seq: number;
}

export interface GenerationChange {
  readonly generation: StoreGeneration;
  readonly previous: StoreGeneration | undefined;
  /** This process started it (its operation found the marker missing or behind); otherwise it learned of it. */
  readonly establishedHere: boolean;
}

/**
 * The earliest moment (epoch seconds) any replica could have accepted a value: its issuance minus
 * the clock skew the acceptance check tolerates. A value is accepted only while `iat ≤ now + skew`,
 * and an assertion only while `exp ≤ now + maxLifetime + skew`; so `iat − skew` and
 * `exp − maxLifetime − skew` are both moments at or before its acceptance, and the later of the two
 * is the tighter bound. Without either, the value cannot be placed in time (−Infinity: always
 * predates a non-genesis generation).
 */
export function acceptableSince(value: { readonly issuedAt?: unknown; readonly expiresAt?: unknown; readonly maxLifetimeSeconds?: number; readonly skewSeconds: number }): number {
  const bounds: number[] = [];
  if (typeof value.issuedAt === 'number' && Number.isFinite(value.issuedAt)) bounds.push(value.issuedAt);
  if (typeof value.expiresAt === 'number' && Number.isFinite(value.expiresAt) && value.maxLifetimeSeconds !== undefined) bounds.push(value.expiresAt - value.maxLifetimeSeconds);
  return bounds.length === 0 ? -Infinity : Math.max(...bounds) - value.skewSeconds;
}

/**
 * True when a value could have been accepted before `generation` started, i.e. its claim may have
 * been lost with the store's data: refuse it. A generation's start never moves, so once refused a
 * value stays refused until it expires (its own lifetime ends the refusal; nothing is stored for it).
 */
export function predatesGeneration(acceptableSinceSeconds: number, generation: Pick<StoreGeneration, 'startedAtMs'>): boolean {
  return acceptableSinceSeconds * 1000 < generation.startedAtMs;
}

type Listener = (change: GenerationChange) => void;

/**
 * What one process knows about the store's generation. Each store operation sends `expectation()`
 * and hands the marker it read back to `observe`; a newer generation replaces the known one and is
 * announced to listeners (metrics, logs, the PostgreSQL record and the revocation refill).
 */
export class GenerationTracker {
  /** Names this process's claim counter in the marker; random per process start. */
  readonly replicaId = randomBytes(6).toString('base64url');
  private known: StoreGeneration | undefined;
  private seq = 0;
  private readonly listeners = new Set<Listener>();

  get current(): StoreGeneration | undefined {
    return this.known;
  }

  expectation(): GenerationExpectation {
    return this.known ? { epoch: this.known.epoch, id: this.known.id, seq: this.seq } : { epoch: 0, id: '', seq: 0 };
  }

  /**
   * Raises what this process knows to a generation recorded elsewhere (PostgreSQL), so a marker
   * older than that record counts as behind. Never lowers it; announces nothing.
   */
  seed(generation: StoreGeneration): void {
    if (this.known && this.known.epoch >= generation.epoch) return;
    this.known = generation;
    this.seq = 0;
  }

  observe(reading: MarkerReading): StoreGeneration {
    const g = reading.generation;
    const previous = this.known;
    if (previous && g.epoch === previous.epoch && g.id === previous.id) {
      this.seq = Math.max(this.seq, reading.seq);
      if (g.restoredAtMs !== undefined && previous.restoredAtMs === undefined) this.known = g;
      return g;
    }
    // An answer sent before this process learned of a newer generation: nothing to learn from it.
    // (The same epoch under another id is settled by the next operation: the script replaces it.)
    if (previous && g.epoch <= previous.epoch) return g;
    this.known = g;
    this.seq = reading.seq;
    const change: GenerationChange = { generation: g, previous, establishedHere: reading.established };
    for (const listener of this.listeners) {
      try {
        listener(change);
      } catch {
        // A listener's failure must not fail the store operation that carried the news.
      }
    }
    return g;
  }

  onChange(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

/**
 * The marker rules, shared by MemoryStore and mirrored line by line in RedisStore's Lua
 * (`GENERATION_LUA`): keep the stored marker when it continues what the caller knows; otherwise
 * start the next generation. Returns the marker to store (when it changed) and the reading.
 */
export interface StoredMarker {
  readonly generation: StoreGeneration;
  /** Claim counters per replica id. */
  readonly seqs: Map<string, number>;
}

export function resolveMarker(
  stored: StoredMarker | undefined,
  expected: GenerationExpectation,
  options: { readonly nowMs: number; readonly replicaId: string; readonly genesis: boolean },
): { marker: StoredMarker; reason: GenerationReason | undefined } {
  let reason: GenerationReason | undefined;
  if (!stored) reason = options.genesis ? 'genesis' : 'missing';
  else {
    const g = stored.generation;
    const behind = g.epoch < expected.epoch || (g.epoch === expected.epoch && (g.id !== expected.id || (stored.seqs.get(options.replicaId) ?? 0) < expected.seq));
    if (behind) reason = 'regressed';
  }
  if (!reason) return { marker: stored!, reason: undefined };
  const epoch = Math.max(stored?.generation.epoch ?? 0, expected.epoch) + 1;
  const genesis = reason === 'genesis';
  return {
    reason,
    marker: {
      generation: { epoch, id: `${options.replicaId}-${epoch}`, startedAtMs: genesis ? 0 : options.nowMs, restoredAtMs: genesis ? options.nowMs : undefined, reason },
      seqs: new Map(),
    },
  };
}

/** One claim's outcome from whether its key was new and the generation it was claimed in. */
export function claimOutcome(claimed: boolean, acceptableSinceSeconds: number | undefined, generation: StoreGeneration): 'claimed' | 'replayed' | 'predates_generation' {
  if (!claimed) return 'replayed';
  return acceptableSinceSeconds !== undefined && predatesGeneration(acceptableSinceSeconds, generation) ? 'predates_generation' : 'claimed';
}

/** Seconds a caller is asked to wait while revocation flags are refilled (an AS replica checks every few seconds). */
export const RESTORE_RETRY_AFTER_SECONDS = 5;

/** Flag checks fail closed until the generation's flags are refilled: a revoked token is never accepted again. */
export function revocationsNotRestored(): OAuthError {
  return new OAuthError('temporarily_unavailable', 'revocation data is being restored after the replay-protection store lost its data; retry later', {
    headers: { 'Retry-After': String(RESTORE_RETRY_AFTER_SECONDS) },
    reason: 'revocations_not_restored',
  });
}
