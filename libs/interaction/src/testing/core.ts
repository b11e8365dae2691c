import { AllowListNativeCallbackPolicy, AuthorizationDetailsRegistry, emptyAuthorizationRequest, EXAMPLE_DETAIL_TYPES, NativeCallbackTrust, PushedRequests } from '@fpa/authz-request';
import { acrPolicyFor, requestedAcrs } from '@fpa/assurance';
import type { ChallengeMethod } from '@fpa/challenge-kit';
import type { Client, ClientRegistry } from '@fpa/clients';
import type { AppConfig } from '@fpa/config';
import { randomToken } from '@fpa/crypto';
import { FixedClock, OAuthError, type RequestInfo } from '@fpa/oauth-core';
import { MetricsRegistry, type AuditService } from '@fpa/platform';
import type { AuthorizationCodeService, DeviceSession, DeviceSessionRepository } from '@fpa/session';
import { MemoryStore } from '@fpa/store';
import type { AttemptLimiter, UsersService } from '@fpa/users';
import type { Caller, CallerBinding } from '../bindings/caller';
import { CallerBindings } from '../bindings/caller-bindings.service';
import { AuthenticationRecorder } from '../effects/authentication-recorder.service';
import { CodeIssuer } from '../effects/code-issuer.service';
import type { DeliveryService } from '../effects/delivery.service';
import { EnrolmentGuard } from '../effects/enrolment-guard.service';
import { WebFallback } from '../effects/web-fallback.service';
import type { ActiveChallenge, FlowRequest, FlowState } from '../flow/flow-state';
import { EphemeralFlowStore } from '../flow/flow-store';
import type { ChallengeInput } from '../http/challenge-request';
import { InteractionMetrics } from '../interaction.metrics';
import { FlowStarter } from '../loop/flow-starter';
import { InteractionLoop } from '../loop/interaction-loop.service';
import { OutcomeDecider } from '../loop/outcome-decider.service';
import { SessionFacts } from '../loop/session-facts.service';
import { StepApplier } from '../loop/step-applier.service';
import { StepRunner } from '../loop/step-runner.service';
import type { Turn } from '../loop/turn';
import type { RoutingRule } from '../routing/routing';
import { FakeAttempts, FakeAudit, FakeCodes, FakeDelivery, FakeSessions, FakeUsers, NOW, requestInfo, testClient, testConfig, testSession } from './fakes';

/** Fakes are narrower than the classes they stand for; this is the one place they are handed in as those. */
const port = <T>(fake: unknown): T => fake as T;

export interface CoreOptions {
  readonly methods: readonly ChallengeMethod[];
  /** Environment over the test config (CHALLENGE_METHODS defaults to the methods' ids). */
  readonly env?: Record<string, string>;
  readonly client?: Partial<Client>;
  readonly routing?: readonly RoutingRule[];
}

export interface TurnOptions {
  readonly request?: Partial<FlowRequest>;
  readonly active?: ActiveChallenge;
  readonly mode?: 'public' | 'device' | 'federated';
  readonly session?: Partial<DeviceSession>;
  /** FED-14: the flow completes a redirect_to_app handoff. */
  readonly handoff?: FlowState['handoff'];
  /** The session was created by this request (no events are read). */
  readonly created?: boolean;
}

/**
 * A caller binding for the loop's specs: a request without `auth_session` creates a challenge
 * session; one with it is that session's follow-up. The key is the `x-jkt` header (default
 * `jkt-1`), not checked against the session, so the loop's own FIPA-26 check can be seen.
 */
export class FakeBinding implements CallerBinding {
  readonly name = 'fake';
  readonly bound: Caller[] = [];
  constructor(private readonly core: Core) {}
  applies(): boolean {
    return true;
  }
  async bind(input: ChallengeInput, request: RequestInfo): Promise<Caller> {
    const jkt = String(request.headers['x-jkt'] ?? 'jkt-1');
    const given = typeof input.auth_session === 'string' ? input.auth_session : undefined;
    let caller: Caller;
    if (given !== undefined) {
      const session = await this.core.sessions.find(given);
      if (!session) throw new OAuthError('invalid_session', 'unknown auth_session');
      caller = { client: this.core.client, session, mode: session.kind === 'device' ? 'device' : 'public', jkt, created: false };
    } else {
      const session = this.core.sessions.add(testSession(this.core.clock.nowMs(), { clientId: this.core.client.id, keyJkt: jkt }));
      caller = { client: this.core.client, session, mode: 'public', jkt, created: true };
    }
    this.bound.push(caller);
    return caller;
  }
}

/**
 * The interaction core built from its real classes, with fakes only at the edges: the flow store
 * is the real EphemeralFlowStore over the in-process MemoryStore (compare-and-set included), the
 * clock is fixed, and users, attempts, codes, sessions, delivery and audit are in memory.
 */
export class Core {
  readonly clock = new FixedClock(NOW);
  readonly store = new MemoryStore(() => this.clock.nowMs(), { genesis: true });
  readonly config: AppConfig;
  readonly client: Client;
  readonly methods: Map<string, ChallengeMethod>;
  readonly users = new FakeUsers();
  readonly attempts = new FakeAttempts();
  readonly sessions = new FakeSessions();
  readonly codes = new FakeCodes(this.sessions);
  readonly delivery = new FakeDelivery();
  readonly audit = new FakeAudit();
  readonly metrics = new InteractionMetrics(new MetricsRegistry());
  readonly flows: EphemeralFlowStore;
  readonly facts: SessionFacts;
  readonly enrolment: EnrolmentGuard;
  readonly recorder: AuthenticationRecorder;
  readonly issuer: CodeIssuer;
  readonly web: WebFallback;
  readonly decider: OutcomeDecider;
  readonly applier: StepApplier;
  readonly runner: StepRunner;
  readonly starter: FlowStarter;
  readonly binding: FakeBinding;
  readonly loop: InteractionLoop;

  constructor(options: CoreOptions) {
    this.config = testConfig({ CHALLENGE_METHODS: options.methods.map((m) => m.id).join(','), ...options.env });
    this.client = testClient(options.client);
    this.methods = new Map(options.methods.map((m) => [m.id, m]));
    const audit = port<AuditService>(this.audit);
    const users = port<UsersService>(this.users);
    this.flows = new EphemeralFlowStore(this.store, this.config);
    this.facts = new SessionFacts(this.clock, this.methods, users);
    this.enrolment = new EnrolmentGuard(this.config, this.clock, this.methods, users, this.facts);
    this.recorder = new AuthenticationRecorder(this.clock, users, this.enrolment, this.facts, audit, this.metrics);
    this.issuer = new CodeIssuer(this.config, this.clock, port<AuthorizationCodeService>(this.codes), this.flows, this.facts, audit);
    this.web = new WebFallback(new PushedRequests(this.store, this.clock), this.config);
    this.decider = new OutcomeDecider(this.facts, this.issuer, this.web);
    this.applier = new StepApplier(this.config, this.clock, this.flows, port<DeliveryService>(this.delivery), this.recorder, this.decider, this.metrics, audit);
    this.runner = new StepRunner(this.methods, this.clock, this.facts, this.enrolment, port<AttemptLimiter>(this.attempts), this.applier, this.decider, this.metrics, this.recorder);
    const clients = { find: async (id: string) => (id === this.client.id ? this.client : undefined) };
    this.starter = new FlowStarter(this.config, this.clock, port<ClientRegistry>(clients), new AuthorizationDetailsRegistry(EXAMPLE_DETAIL_TYPES), new PushedRequests(this.store, this.clock), new NativeCallbackTrust([new AllowListNativeCallbackPolicy()]));
    this.binding = new FakeBinding(this);
    this.loop = new InteractionLoop(
      this.config,
      this.store,
      this.methods,
      options.routing ?? [],
      new CallerBindings([this.binding]),
      this.flows,
      this.starter,
      this.runner,
      port<DeviceSessionRepository>(this.sessions),
      this.metrics,
    );
  }

  /** A turn over a stored flow (as the loop builds it after load): a session, a caller, the flow at its version. */
  async turn(o: TurnOptions = {}): Promise<Turn> {
    const mode = o.mode ?? 'public';
    const session = this.sessions.add(testSession(this.clock.nowMs(), { clientId: this.client.id, kind: mode === 'public' ? 'challenge' : mode, ...o.session }));
    const caller: Caller = { client: this.client, session, mode, jkt: 'jkt-1', created: o.created ?? false };
    const flow: FlowState = {
      flowId: randomToken(16),
      authSession: session.authSession,
      clientId: this.client.id,
      mode,
      dpopJkt: 'jkt-1',
      request: emptyAuthorizationRequest(this.client.id, { scopes: ['openid'], ...o.request }),
      active: o.active,
      createdAt: this.clock.nowMs(),
      ...(o.handoff ? { handoff: o.handoff } : {}),
    };
    const version = await this.flows.save(flow, 0);
    const policy = acrPolicyFor(this.client.challengePolicy, [...this.methods.keys()], { recoveryHoldSeconds: this.config.challenge.recoveryHoldSeconds, federated: mode === 'federated' });
    return { caller, flow, version, policy, requested: requestedAcrs(policy, flow.request.acrValues), request: requestInfo(), started: false, dirty: false };
  }

  /** An active challenge of `method` as a prompt leaves it. */
  active(method: string, overrides: Partial<ActiveChallenge> = {}): ActiveChallenge {
    return { method, state: { to: 'ann@example.com' }, attempts: 0, expiresAt: this.clock.nowMs() + 300_000, guard: `email:ann@example.com`, ...overrides };
  }

  /** The flow as stored now. */
  async stored(authSession: string): Promise<FlowState | undefined> {
    return (await this.flows.load(authSession))?.flow;
  }

  async close(): Promise<void> {
    await this.store.close();
  }
}
