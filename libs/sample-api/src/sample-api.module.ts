import { type DynamicModule, Module } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@fpa/config';
import { KeyManager, KeysModule } from '@fpa/keys';
import { MetricsRegistry } from '@fpa/platform';
import { ResourceServerModule, type ResourceServerOptions } from '@fpa/resource-server';
import { EPHEMERAL_STORE, type EphemeralStore } from '@fpa/store';
import { DemoApiController } from './demo-api.controller';
import { readFileSync } from 'node:fs';
import { importResourceServerPopKey, type CryptoKey } from '@fpa/crypto';

/**
 * Issue 12: the sample API accepts PoP tokens (seed 001 (E)/(F)); with RS_POP_KEY_FILE (its private
 * key, registered at the AS) also those with a generated symmetric key. A bad file stops start-up.
 */
async function popOptions(config: AppConfig): Promise<ResourceServerOptions['pop']> {
  const file = config.resourceServer.popKeyFile;
  if (!file) return {};
  let key: CryptoKey;
  try {
    key = await importResourceServerPopKey(JSON.parse(readFileSync(file, 'utf8')));
  } catch (e) {
    throw new Error(`RS_POP_KEY_FILE: ${file} is not a private EC, X25519 or RSA JWK (${(e as Error).message})`);
  }
  return { decryptionKey: key };
}

/** Every refusal of the guard, by reason (`predates_generation`, `revocations_not_restored`, `revoked`, …). */
function counter(metrics: MetricsRegistry): (reason: string) => void {
  const refusals = metrics.counter({ name: 'fpa_resource_server_refusals_total', help: 'Requests the sample API refused, by reason.', labelNames: ['reason'] as const });
  return (reason) => refusals.inc({ reason });
}

/**
 * The sample protected API. `keys: 'local'` (standalone) verifies with the in-process key manager;
 * `keys: 'remote'` (the sample-api app) fetches the AS's JWKS over HTTP like any outside API would.
 */
@Module({})
export class SampleApiModule {
  static forRoot(options: { keys: 'local' | 'remote' }): DynamicModule {
    const base = (config: AppConfig, store: EphemeralStore, metrics: MetricsRegistry): Omit<ResourceServerOptions, 'keys'> => ({
      issuer: config.resourceServer.issuer,
      audience: config.resourceServer.audience,
      publicBaseUrl: config.http.issuer,
      store,
      nonce: config.resourceServer.nonceSecret ? { secret: config.resourceServer.nonceSecret } : undefined,
      proofMaxAgeSeconds: config.dpop.proofMaxAgeSeconds,
      clockSkewSeconds: config.clockSkewSeconds,
      dpopAlgorithms: config.dpop.algs,
      onRefusal: counter(metrics),
    });
    const rs =
      options.keys === 'local'
        ? ResourceServerModule.forRootAsync({
            imports: [KeysModule],
            inject: [APP_CONFIG, EPHEMERAL_STORE, MetricsRegistry, KeyManager],
            useFactory: async (config: AppConfig, store: EphemeralStore, metrics: MetricsRegistry, keys: KeyManager) => ({
              ...base(config, store, metrics),
              keys: { resolve: keys.resolver() },
              pop: await popOptions(config),
            }),
          })
        : ResourceServerModule.forRootAsync({
            inject: [APP_CONFIG, EPHEMERAL_STORE, MetricsRegistry],
            useFactory: async (config: AppConfig, store: EphemeralStore, metrics: MetricsRegistry) => ({
              ...base(config, store, metrics),
              keys: { jwksUri: config.resourceServer.jwksUri, cacheSeconds: config.resourceServer.jwksCacheSeconds },
              pop: await popOptions(config),
            }),
          });
    return { module: SampleApiModule, imports: [rs], controllers: [DemoApiController] };
  }
}
