import { Module } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@fpa/config';
import { BuiltinPresentationVerifier } from './builtin-presentation-verifier';
import { CredentialPolicy } from './credential-policy';
import { HttpPresentationVerifier } from './http-presentation-verifier';
import { Openid4vpController } from './openid4vp.controller';
import { Openid4vpService } from './openid4vp.service';
import { PRESENTATION_VERIFIER, type PresentationVerifier } from './presentation-verifier';
import { trustAnchorsFrom, VERIFIER_IDENTITY, verifierIdentityFrom, watchedTrustAnchors } from './verifier-identity.provider';

/**
 * OpenID4VP verifier side (issue 11): policy (DIGITAL_CREDENTIALS_FILE, validated at start-up),
 * the verifier identity (configured, or self-signed in embedded mode), the PresentationVerifier
 * port (built in, or the HTTP adapter when DIGITAL_CREDENTIALS_VERIFIER_URL is set), and the
 * wallet's endpoints `/openid4vp/requests/:id` and `/openid4vp/response`.
 */
@Module({
  controllers: [Openid4vpController],
  providers: [
    { provide: CredentialPolicy, inject: [APP_CONFIG], useFactory: (c: AppConfig) => CredentialPolicy.fromFile(c.digitalCredentials.policyFile) },
    { provide: VERIFIER_IDENTITY, inject: [APP_CONFIG], useFactory: (c: AppConfig) => verifierIdentityFrom(c) },
    {
      provide: PRESENTATION_VERIFIER,
      inject: [APP_CONFIG],
      useFactory: (c: AppConfig): PresentationVerifier =>
        c.digitalCredentials.verifierUrl
          ? new HttpPresentationVerifier(c.digitalCredentials.verifierUrl)
          : new BuiltinPresentationVerifier(c.digitalCredentials.trustAnchorsWatched && c.digitalCredentials.trustAnchors ? watchedTrustAnchors(c.digitalCredentials.trustAnchors) : trustAnchorsFrom(c.digitalCredentials.trustAnchors)),
    },
    Openid4vpService,
  ],
  exports: [Openid4vpService, CredentialPolicy, PRESENTATION_VERIFIER, VERIFIER_IDENTITY],
})
export class Openid4vpModule {}
