import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@fpa/config';
import { EPHEMERAL_STORE, StoreKeys, type Admission, type ClaimResult, type EphemeralStore, type Versioned } from '@fpa/store';
import { FlowConflict, type FlowState } from './flow-state';

/** A request's admission (EphemeralStore.admit) with the flow read in the same round trip. */
export type AdmittedFlow = { readonly limited: { readonly index: number; readonly resetSeconds: number } } | { readonly limited?: undefined; readonly claims: readonly ClaimResult[]; readonly loaded: LoadedFlow | undefined };

export interface LoadedFlow {
  readonly flow: FlowState;
  /** The compare-and-set version the next write must name. */
  readonly version: number;
}

/**
 * The loop's storage port (STYLE.md: load, compare-and-set, retry on conflict). Flows are
 * short-lived and per auth_session; the implementation keeps them in the ephemeral store (Redis in
 * production), where a write names the version it read, so two racing requests cannot both
 * change one flow — the loser re-reads and decides again.
 */
export abstract class FlowStore {
  abstract load(authSession: string): Promise<LoadedFlow | undefined>;
  /**
   * `load` (none when `authSession` is undefined: a session this request created has no flow) in
   * the same atomic step as the request's admission — its rate limits and single-use claims — so a
   * request pays one store round trip before it is decided (issue 13).
   */
  abstract admit(authSession: string | undefined, admission: Omit<Admission, 'read'>): Promise<AdmittedFlow>;
  /** Writes `flow` if the stored version is still `version` (0 = absent); the new version, or FlowConflict. */
  abstract save(flow: FlowState, version: number): Promise<number>;
  /** Ends the flow if it is still at `version` (0: there is none); false when another request moved it first. */
  abstract complete(authSession: string, version: number): Promise<boolean>;
  /** Puts back what a failed side effect changed (best effort: a conflict means someone moved on). */
  abstract restore(flow: FlowState, writtenVersion: number): Promise<void>;
}

/** A flow written by an earlier release (no flowId) is not resumed: the client starts again. */
function current(stored: Versioned<FlowState> | undefined): LoadedFlow | undefined {
  if (!stored || typeof stored.value.flowId !== 'string') return undefined;
  return { flow: stored.value, version: stored.version };
}

@Injectable()
export class EphemeralFlowStore extends FlowStore {
  constructor(
    @Inject(EPHEMERAL_STORE) private readonly store: EphemeralStore,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    super();
  }

  async load(authSession: string): Promise<LoadedFlow | undefined> {
    return current(await this.store.getVersioned<FlowState>(StoreKeys.challengeFlow(authSession)));
  }

  async admit(authSession: string | undefined, admission: Omit<Admission, 'read'>): Promise<AdmittedFlow> {
    const admitted = await this.store.admit<FlowState>({ ...admission, read: authSession === undefined ? undefined : StoreKeys.challengeFlow(authSession) });
    if (admitted.limited) return admitted;
    return { claims: admitted.claims, loaded: current(admitted.value) };
  }

  async save(flow: FlowState, version: number): Promise<number> {
    if (!(await this.store.compareAndSet(StoreKeys.challengeFlow(flow.authSession), version, flow, this.config.challenge.flowTtlSeconds))) throw new FlowConflict();
    return version + 1;
  }

  complete(authSession: string, version: number): Promise<boolean> {
    return this.store.compareAndDelete(StoreKeys.challengeFlow(authSession), version);
  }

  async restore(flow: FlowState, writtenVersion: number): Promise<void> {
    await this.store.compareAndSet(StoreKeys.challengeFlow(flow.authSession), writtenVersion, flow, this.config.challenge.flowTtlSeconds).catch(() => false);
  }
}
