import type { Type } from '@nestjs/common';
import { RedirectToAppRouting } from './redirect-to-app.routing';
import type { RoutingRule } from './routing';

/**
 * The routing rules the suite's apps register (`ChallengeModule.forRoot({ routing: BUILTIN_ROUTING })`),
 * in the order they are asked. Each is driven by per-client policy data and does nothing for a
 * client without it (FED-8: `redirect_to_app`).
 */
export const BUILTIN_ROUTING: readonly Type<RoutingRule>[] = [RedirectToAppRouting];
