import { readFileSync } from 'node:fs';
import { Global, Module } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@fpa/config';
import { EXAMPLE_DETAIL_TYPES } from './examples/authorization-details';
import { AuthorizationDetailsConfigError, AuthorizationDetailsRegistry, type DetailTypeDefinition } from './authorization-details';
import { AllowListNativeCallbackPolicy, NativeCallbackTrust, nativeCallbackTrustPoliciesProvider } from './native-callback-trust';
import { PushedRequests } from './pushed-requests';

/** The deployment's RAR types: AUTHORIZATION_DETAILS_FILE, or the examples in the embedded default. */
export function loadAuthorizationDetails(config: AppConfig): AuthorizationDetailsRegistry {
  const file = config.authorization.detailsFile;
  if (!file) return new AuthorizationDetailsRegistry(config.mode === 'embedded' ? EXAMPLE_DETAIL_TYPES : {});
  let definitions: Record<string, DetailTypeDefinition>;
  try {
    definitions = JSON.parse(readFileSync(file, 'utf8')) as Record<string, DetailTypeDefinition>;
  } catch (e) {
    throw new AuthorizationDetailsConfigError(`AUTHORIZATION_DETAILS_FILE ${file}: ${(e as Error).message}`);
  }
  return new AuthorizationDetailsRegistry(definitions);
}

/**
 * Authorization requests: validation (with the RAR types), trust in `native_callback_uri` (FED-4:
 * the allow-list, then MORE_NATIVE_CALLBACK_TRUST_POLICIES) and pushed requests, for every service
 * that takes them.
 */
@Global()
@Module({
  providers: [
    { provide: AuthorizationDetailsRegistry, inject: [APP_CONFIG], useFactory: loadAuthorizationDetails },
    PushedRequests,
    AllowListNativeCallbackPolicy,
    nativeCallbackTrustPoliciesProvider,
    NativeCallbackTrust,
  ],
  exports: [AuthorizationDetailsRegistry, PushedRequests, NativeCallbackTrust],
})
export class AuthzRequestModule {}
