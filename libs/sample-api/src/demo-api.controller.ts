import { Controller, Get, UseGuards } from '@nestjs/common';
import { Access, DpopAuthGuard, type AccessContext } from '@fpa/resource-server';

/** A small protected API: shows what a resource server learns from a DPoP-bound token. */
@Controller('api')
@UseGuards(DpopAuthGuard)
export class DemoApiController {
  @Get('me')
  me(@Access() access: AccessContext): Record<string, unknown> {
    return {
      auth_session: access.authSession,
      client_id: access.clientId,
      sub: access.subject,
      scope: access.scopes.filter((s) => !s.startsWith('auth_session:')),
      jkt: access.jkt,
    };
  }
}
