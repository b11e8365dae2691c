import { Module } from '@nestjs/common';
import { AuthzRequestModule } from '@fpa/authz-request';
import type { AppConfig } from '@fpa/config';
import { DpopModule } from '@fpa/dpop';
import type { MetadataPart } from '@fpa/oauth-core';
import { ParController } from './par.controller';
import { ParMetrics } from './par.metrics';
import { PAR_PATH, PushedAuthorizationService } from './pushed-authorization.service';

/**
 * `POST /par` in the token service. Import it next to `TokenModule.forRoot(…)` (whose client
 * authenticator it uses) and add `parMetadata` to that module's metadata parts.
 */
@Module({
  imports: [AuthzRequestModule, DpopModule],
  controllers: [ParController],
  providers: [PushedAuthorizationService, ParMetrics],
})
export class ParModule {}

/** RFC 8414 / RFC 9126 §5 members (PAR-1, META-4); `authorization_details_types_supported` comes with the token module. */
export function parMetadata(config: AppConfig): MetadataPart {
  return {
    pushed_authorization_request_endpoint: `${config.http.issuer}${PAR_PATH}`,
    require_pushed_authorization_requests: config.authorization.requirePushedAuthorizationRequests,
  };
}
