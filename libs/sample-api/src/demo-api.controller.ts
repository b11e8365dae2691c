import { Controller, Get, UseGuards } from '@nestjs/common';
import { Access, DpopAuthGuard, RequireUserAuthentication, type AccessContext } from '@fpa/resource-server';

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

  /** Needs a user who verified an email address (issue 3): a device-only token gets 403 and a step-up hint. */
  @Get('profile')
  @RequireUserAuthentication({ verified: ['email'], stepUpAcr: 'urn:first-party-auth:acr:email' })
  profile(@Access() access: AccessContext): Record<string, unknown> {
    return { sub: access.subject, auth_session: access.authSession, email_verified: access.claims.email_verified === true, amr: access.claims.amr ?? [] };
  }

  /**
   * Needs a phishing-resistant authentication (acr phr: a passkey, device-bound `hwk` or synced
   * `swk`). Asking for the acr, not for an amr value, keeps the requirement and the step-up hint
   * the same thing.
   */
  @Get('payments')
  @RequireUserAuthentication({ acr: ['urn:first-party-auth:acr:phr'], stepUpAcr: 'urn:first-party-auth:acr:phr' })
  payments(@Access() access: AccessContext): Record<string, unknown> {
    return { sub: access.subject, amr: access.claims.amr ?? [] };
  }
}
