import { type DynamicModule, Module, type Provider, type Type } from '@nestjs/common';
import { ACR } from '@fpa/assurance';
import { AuthzRequestModule } from '@fpa/authz-request';
import { CHALLENGE_METHODS, ChallengeKitModule, type ChallengeMethod, type ChallengePlugin } from '@fpa/challenge-kit';
import { ClientsModule } from '@fpa/clients';
import type { AppConfig } from '@fpa/config';
import { DpopModule } from '@fpa/dpop';
import { KeysModule } from '@fpa/keys';
import { MessagingModule } from '@fpa/messaging';
import type { MetadataPart } from '@fpa/oauth-core';
import { SessionModule } from '@fpa/session';
import { UsersModule } from '@fpa/users';
import { CALLER_BINDINGS, type CallerBinding } from './bindings/caller';
import { CallerBindings } from './bindings/caller-bindings.service';
import { AppHandoffBinding } from './bindings/app-handoff.binding';
import { DeviceTokenBinding } from './bindings/device-token.binding';
import { DpopPublicClientBinding } from './bindings/dpop-public-client.binding';
import { FederatingClientBinding } from './bindings/federating-client.binding';
import { RequestSessions } from './bindings/request-sessions';
import { AuthenticationRecorder } from './effects/authentication-recorder.service';
import { CodeIssuer } from './effects/code-issuer.service';
import { DeliveryService } from './effects/delivery.service';
import { EnrolmentGuard } from './effects/enrolment-guard.service';
import { WebFallback } from './effects/web-fallback.service';
import { EphemeralFlowStore, FlowStore } from './flow/flow-store';
import { AuthorizeChallengeController } from './http/authorize-challenge.controller';
import { CHALLENGE_PATH } from './http/challenge-request';
import { InteractionMetrics } from './interaction.metrics';
import { FlowStarter } from './loop/flow-starter';
import { InteractionLoop } from './loop/interaction-loop.service';
import { OutcomeDecider } from './loop/outcome-decider.service';
import { SessionFacts } from './loop/session-facts.service';
import { StepApplier } from './loop/step-applier.service';
import { StepRunner } from './loop/step-runner.service';
import { ROUTING_RULES, type RoutingRule } from './routing/routing';

export interface ChallengeModuleOptions {
  /** The one place a challenge method registers; CHALLENGE_METHODS (config) enables a subset at run time. */
  readonly methods: readonly ChallengePlugin[];
  /** Routing rules consulted before any method runs (STYLE.md: routing kept apart from methods). */
  readonly routing?: readonly Type<RoutingRule>[];
  /** false: the loop without `POST /authorize-challenge` (the federation service resumes flows, CONTRACT §1). Default true. */
  readonly endpoint?: boolean;
}

/**
 * The native authorization endpoint: `ChallengeModule.forRoot({ methods: [EmailOtpModule.plugin, …] })`
 * (STYLE.md). One list, read twice — it yields the module imports and the method registry; a
 * duplicate id stops start-up. What a method proves, and so which acrs it can serve, comes from
 * its own `assurance` declaration, not from a second list here.
 */
@Module({})
export class ChallengeModule {
  static forRoot(options: ChallengeModuleOptions): DynamicModule {
    const ids = new Set<string>();
    for (const p of options.methods) {
      if (ids.has(p.id)) throw new Error(`challenge method ${p.id} is registered twice`);
      ids.add(p.id);
    }
    const registry: Provider = {
      provide: CHALLENGE_METHODS,
      inject: options.methods.map((p) => p.method),
      useFactory: (...methods: ChallengeMethod[]) => {
        const map = new Map<string, ChallengeMethod>();
        methods.forEach((m, i) => {
          if (m.id !== options.methods[i].id) throw new Error(`challenge plug-in ${options.methods[i].id} declares ${m.id}`);
          map.set(m.id, m);
        });
        return map;
      },
    };
    const routing = options.routing ?? [];
    return {
      module: ChallengeModule,
      // The loop and the methods serve the browser login too (libs/web-login).
      global: true,
      imports: [ClientsModule, SessionModule, UsersModule, KeysModule, DpopModule, MessagingModule.forRoot(), ChallengeKitModule, AuthzRequestModule, ...options.methods.map((p) => p.module)],
      controllers: options.endpoint === false ? [] : [AuthorizeChallengeController],
      providers: [
        registry,
        RequestSessions,
        AppHandoffBinding,
        DeviceTokenBinding,
        FederatingClientBinding,
        DpopPublicClientBinding,
        // Order matters: the first binding that applies to a request takes it — this server's app
        // taking a redirect_to_app handoff (FED-14) before plain device requests, a federating
        // client's request_uri or federated session (FED-11) before first-party public clients.
        { provide: CALLER_BINDINGS, inject: [AppHandoffBinding, DeviceTokenBinding, FederatingClientBinding, DpopPublicClientBinding], useFactory: (...b: CallerBinding[]) => b },
        ...routing,
        { provide: ROUTING_RULES, inject: [...routing], useFactory: (...r: RoutingRule[]) => r },
        { provide: FlowStore, useClass: EphemeralFlowStore },
        CallerBindings,
        InteractionMetrics,
        SessionFacts,
        FlowStarter,
        DeliveryService,
        EnrolmentGuard,
        AuthenticationRecorder,
        CodeIssuer,
        WebFallback,
        OutcomeDecider,
        StepApplier,
        StepRunner,
        InteractionLoop,
      ],
      exports: [CHALLENGE_METHODS, InteractionLoop, WebFallback],
    };
  }
}

/** RFC 8414 members the token service publishes for the challenge endpoint (FIPA-7, FED-1, META-4). */
export function challengeMetadata(config: AppConfig): MetadataPart {
  const url = `${config.http.issuer}${CHALLENGE_PATH}`;
  return {
    authorization_challenge_endpoint: url,
    native_authorization_endpoint: url,
    grant_types_supported: ['authorization_code'],
    response_types_supported: ['code'],
    code_challenge_methods_supported: ['S256'],
    acr_values_supported: Object.values(ACR),
  };
}
