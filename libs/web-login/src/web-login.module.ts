import { Module } from '@nestjs/common';
import { AuthzRequestModule } from '@fpa/authz-request';
import type { AppConfig } from '@fpa/config';
import type { MetadataPart } from '@fpa/oauth-core';
import { ClientsModule } from '@fpa/clients';
import { SessionModule } from '@fpa/session';
import { BrowserBinding } from './browser-binding.service';
import { BrowserInteractions } from './interactions.service';
import { WebLoginController } from './web-login.controller';
import { WebLoginMetrics } from './web-login.metrics';
import { WebLoginService } from './web-login.service';

/**
 * The browser authorization endpoint and its hosted login. Import it next to
 * `ChallengeModule.forRoot(…)`, whose interaction loop and methods it uses.
 */
@Module({
  imports: [ClientsModule, SessionModule, AuthzRequestModule],
  controllers: [WebLoginController],
  providers: [BrowserBinding, BrowserInteractions, WebLoginService, WebLoginMetrics],
})
export class WebLoginModule {}

/** RFC 8414 members for the browser endpoint (META-3/META-4), published by the token service. */
export function webLoginMetadata(config: AppConfig): MetadataPart {
  return {
    authorization_endpoint: `${config.http.issuer}/authorize`,
    response_types_supported: ['code'],
    response_modes_supported: ['query'],
    code_challenge_methods_supported: ['S256'],
    // RFC 9207: every authorization response carries `iss`.
    authorization_response_iss_parameter_supported: true,
    prompt_values_supported: ['login', 'consent', 'none'],
  };
}
