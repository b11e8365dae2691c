import type { DynamicModule, ForwardReference, Type } from '@nestjs/common';
import { MODULE_METADATA } from '@nestjs/common/constants';
import { loadConfig, type AppConfig } from '@fpa/config';
import { FederationModule } from '@fpa/federation';
import { OpenIdFederationEntityModule, OpenIdFederationTrustModule } from '@fpa/openid-federation';
import { ChallengeAppModule } from '../../apps/challenge/src/challenge-app.module';
import { FederationAppModule } from '../../apps/federation/src/federation-app.module';
import { RegistrationAppModule } from '../../apps/registration/src/registration-app.module';
import { TokenAppModule } from '../../apps/token/src/token-app.module';

/**
 * Which modules each HTTP app really loads, read from its root module's import graph (not from a list
 * kept by hand): the deployment checks derive from it who needs the downstream registry file
 * (FederationModule reads FEDERATION_DOWNSTREAMS_FILE at start) and who calls OpenID Federation
 * entities (the trust chain resolver), so an app that starts loading one of them is checked at once.
 */

export type SuiteHttpApp = 'registration' | 'token' | 'challenge' | 'federation';

export const APP_ROOTS: Record<SuiteHttpApp, (config: AppConfig) => DynamicModule> = {
  registration: (c) => RegistrationAppModule.forRoot(c),
  token: (c) => TokenAppModule.forRoot(c),
  challenge: (c) => ChallengeAppModule.forRoot(c),
  federation: (c) => FederationAppModule.forRoot(c),
};

/** A production environment loadConfig accepts for every app (only to build the root modules). */
const SAMPLE_ENV = {
  APP_MODE: 'production',
  ISSUER: 'https://auth.example.com',
  DATABASE_URL: 'postgres://fpa@postgres.internal:5432/fpa',
  REDIS_URL: 'redis://redis.internal:6379',
  KEY_ENCRYPTION_KEY: Buffer.alloc(32, 1).toString('base64url'),
  DPOP_NONCE_SECRET: Buffer.alloc(32, 2).toString('base64url'),
  CHALLENGE_METHODS: 'totp',
};

type Import = Type | DynamicModule | Promise<DynamicModule> | ForwardReference;

/** Every module class reachable from the app's root module (dynamic modules and static @Module imports). */
export function modulesOf(app: SuiteHttpApp): Set<Type> {
  const seen = new Set<Type>();
  const walk = (item: Import | undefined): void => {
    if (!item || item instanceof Promise) return;
    if ('forwardRef' in item) return walk((item as ForwardReference).forwardRef() as Import);
    const cls = ('module' in item ? item.module : item) as Type;
    const dynamicImports = 'module' in item ? ((item as DynamicModule).imports ?? []) : [];
    if (seen.has(cls)) {
      dynamicImports.forEach(walk);
      return;
    }
    seen.add(cls);
    [...dynamicImports, ...((Reflect.getMetadata(MODULE_METADATA.IMPORTS, cls) as Import[] | undefined) ?? [])].forEach(walk);
  };
  walk(APP_ROOTS[app](loadConfig(app, SAMPLE_ENV)));
  return seen;
}

/** The apps that load FederationModule: they read FEDERATION_DOWNSTREAMS_FILE at start and call downstream servers. */
export function appsReadingDownstreams(): SuiteHttpApp[] {
  return (Object.keys(APP_ROOTS) as SuiteHttpApp[]).filter((a) => modulesOf(a).has(FederationModule));
}

/** The apps that read OPENID_FEDERATION_* (trust chains for native_callback_uri, or the entity configuration). */
export function appsReadingOpenIdFederation(): SuiteHttpApp[] {
  return (Object.keys(APP_ROOTS) as SuiteHttpApp[]).filter((a) => {
    const m = modulesOf(a);
    return m.has(OpenIdFederationTrustModule) || m.has(OpenIdFederationEntityModule);
  });
}
