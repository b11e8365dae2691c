import { type CanActivate, type ExecutionContext, Injectable, SetMetadata, applyDecorators, UseGuards } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { OAuthError } from '@fpa/oauth-core';
import { DpopAuthGuard, type AuthenticatedRequest } from './dpop-auth.guard';

/**
 * What a route needs to know about the user (seed 004: "the resource server can decide on what
 * user properties are required"; CONTRACT §5). All listed conditions must hold.
 */
export interface UserRequirement {
  /** Identifiers the user verified: `email` → `email_verified`, `phone` → `phone_number_verified`. */
  readonly verified?: readonly ('email' | 'phone')[];
  /** Every listed RFC 8176 value must be in the token's `amr` (e.g. `hwk` for a passkey). */
  readonly amr?: readonly string[];
  /** The token's `acr` must be one of these. */
  readonly acr?: readonly string[];
  /** The user authenticated at most this many seconds ago (`auth_time`). */
  readonly maxAge?: number;
  /** The acr_values a client should ask the challenge endpoint for, sent back in the challenge. */
  readonly stepUpAcr?: string;
}

const REQUIREMENT = Symbol('fpa:user-requirement');

/**
 * Requires user properties on top of a valid DPoP-bound token: 403 with
 * `WWW-Authenticate: DPoP error="insufficient_user_authentication"` and what is missing, so the
 * app can step up at the authorization challenge endpoint (RFC 9470 semantics, STEP-1; CONTRACT §5
 * chose 403).
 */
export function RequireUserAuthentication(requirement: UserRequirement): MethodDecorator & ClassDecorator {
  return applyDecorators(SetMetadata(REQUIREMENT, requirement), UseGuards(DpopAuthGuard, UserAuthenticationGuard));
}

/** Which parts of a requirement the token's claims do not meet (empty = all met). */
export function missingProperties(claims: Record<string, unknown>, req: UserRequirement, nowSeconds: number): string[] {
  const missing: string[] = [];
  for (const v of req.verified ?? []) {
    const claim = v === 'email' ? 'email_verified' : 'phone_number_verified';
    if (claims[claim] !== true) missing.push(claim);
  }
  const amr = Array.isArray(claims.amr) ? claims.amr : [];
  for (const a of req.amr ?? []) if (!amr.includes(a)) missing.push(`amr:${a}`);
  if (req.acr && !(typeof claims.acr === 'string' && req.acr.includes(claims.acr))) missing.push('acr');
  if (req.maxAge !== undefined) {
    const authTime = typeof claims.auth_time === 'number' ? claims.auth_time : undefined;
    if (authTime === undefined || nowSeconds - authTime > req.maxAge) missing.push('max_age');
  }
  return missing;
}

@Injectable()
export class UserAuthenticationGuard implements CanActivate {
  constructor(private readonly reflector: Reflector) {}

  canActivate(context: ExecutionContext): boolean {
    const requirement = this.reflector.getAllAndOverride<UserRequirement | undefined>(REQUIREMENT, [context.getHandler(), context.getClass()]);
    if (!requirement) return true;
    const req = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const access = req.fpaAccess;
    if (!access) throw new Error('DpopAuthGuard must run before UserAuthenticationGuard');
    const missing = missingProperties(access.claims, requirement, Math.floor(Date.now() / 1000));
    if (missing.length === 0) return true;
    const hints = [
      'error="insufficient_user_authentication"',
      `error_description="the session lacks ${missing.join(', ')}"`,
      requirement.stepUpAcr ? `acr_values="${requirement.stepUpAcr}"` : undefined,
      requirement.maxAge !== undefined ? `max_age=${requirement.maxAge}` : undefined,
    ].filter(Boolean);
    throw new OAuthError('insufficient_user_authentication', `the session lacks ${missing.join(', ')}`, {
      headers: { 'WWW-Authenticate': `DPoP ${hints.join(', ')}`, 'Access-Control-Expose-Headers': 'WWW-Authenticate, DPoP-Nonce' },
      extra: { missing, ...(requirement.stepUpAcr ? { acr_values: requirement.stepUpAcr } : {}), ...(requirement.maxAge !== undefined ? { max_age: requirement.maxAge } : {}) },
    });
  }
}
