import { Module } from '@nestjs/common';
import { SuiteOpenApiModule } from '@fpa/openapi';
import { challengeOpenApi } from './challenge.openapi';

/**
 * For an app composed around the challenge endpoint alone (a custom composition, the plug-in
 * tests): serves a document of that endpoint at GET /openapi.json and Swagger UI at /docs. The
 * suite's apps use `SuiteOpenApiModule` with every service's fragment instead.
 */
@Module({ imports: [SuiteOpenApiModule.forRoot({ contributions: [challengeOpenApi] })] })
export class ChallengeOpenApiModule {}
