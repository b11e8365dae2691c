import { Module } from '@nestjs/common';
import { APP_SETUP, type AppSetup } from '@fpa/platform';
import { setupOpenApi } from './setup-openapi';

/**
 * Import next to `ChallengeModule.forRoot(…)` to serve the endpoint's OpenAPI document at
 * GET /openapi.json and Swagger UI at /docs. `createApp` runs the setup before the app listens.
 */
@Module({ providers: [{ provide: APP_SETUP, useValue: { setup: (app) => {
  setupOpenApi(app);
} } satisfies AppSetup }] })
export class ChallengeOpenApiModule {}
