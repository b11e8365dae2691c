import { type DynamicModule, Module, type Provider } from '@nestjs/common';
import { ClientsModule } from '@fpa/clients';
import type { AppConfig } from '@fpa/config';
import { DpopModule } from '@fpa/dpop';
import { KeysModule } from '@fpa/keys';
import { MessagingModule } from '@fpa/messaging';
import type { MetadataPart } from '@fpa/oauth-core';
import { SessionModule } from '@fpa/session';
import { UsersModule } from '@fpa/users';
import { AuthorizeChallengeController } from './authorize-challenge.controller';
import { CHALLENGE_METHODS, type ChallengeMethod, type ChallengePlugin } from './challenge-method';
import { ChallengeOrchestrator, CHALLENGE_PATH } from './challenge-orchestrator.service';
import { DEFAULT_POLICY } from './challenge-policy';
import { ChallengeKitModule } from './challenge-kit.module';
import { ChallengeMetrics } from './challenge.metrics';

export interface ChallengeModuleOptions {
  readonly methods: readonly ChallengePlugin[];
}

/**
 * `ChallengeModule.forRoot({ methods: [EmailOtpModule.plugin, …] })` (STYLE.md): one list, read
 * twice — it yields the module imports and the method registry; a duplicate id stops start-up.
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
    return {
      module: ChallengeModule,
      imports: [ClientsModule, SessionModule, UsersModule, KeysModule, DpopModule, MessagingModule.forRoot(), ChallengeKitModule, ...options.methods.map((p) => p.module)],
      controllers: [AuthorizeChallengeController],
      providers: [registry, ChallengeOrchestrator, ChallengeMetrics],
      exports: [CHALLENGE_METHODS],
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
    acr_values_supported: Object.keys(DEFAULT_POLICY.acr),
  };
}
