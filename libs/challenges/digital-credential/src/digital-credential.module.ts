import { Module } from '@nestjs/common';
import type { ChallengePlugin } from '@fpa/challenge-kit';
import { ClientsModule } from '@fpa/clients';
import { Openid4vpModule } from '@fpa/openid4vp';
import { CREDENTIAL_IDENTITIES, PgCredentialIdentities } from './credential-identities';
import { DigitalCredentialChallenge } from './digital-credential.challenge';

/** The `digital_credential` method and, through Openid4vpModule, the wallet's endpoints (/openid4vp/*). */
@Module({
  imports: [ClientsModule, Openid4vpModule],
  providers: [DigitalCredentialChallenge, { provide: CREDENTIAL_IDENTITIES, useClass: PgCredentialIdentities }],
  exports: [DigitalCredentialChallenge],
})
export class DigitalCredentialModule {
  static readonly plugin: ChallengePlugin = { id: 'digital_credential', module: DigitalCredentialModule, method: DigitalCredentialChallenge };
}
