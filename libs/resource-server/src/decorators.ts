import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { AccessContext, AuthenticatedRequest } from './dpop-auth.guard';

function access(ctx: ExecutionContext): AccessContext {
  const req = ctx.switchToHttp().getRequest<AuthenticatedRequest>();
  if (!req.fpaAccess) throw new Error('DpopAuthGuard must run before reading the access context');
  return req.fpaAccess;
}

/** The caller's `auth_session` (seed 004: resource servers decide per session what they need). */
export const AuthSession = createParamDecorator((_: unknown, ctx: ExecutionContext) => access(ctx).authSession);

/** The whole verified access context. */
export const Access = createParamDecorator((_: unknown, ctx: ExecutionContext) => access(ctx));
