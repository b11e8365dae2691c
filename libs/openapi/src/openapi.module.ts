import { type DynamicModule, Module } from '@nestjs/common';
import { APP_SETUP, type AppSetup } from '@fpa/platform';
import type { OpenAPIObject } from '@nestjs/swagger';
import type { OpenApiContribution } from './fragment';
import { buildSuiteDocument, serveOpenApi } from './suite-document';

export interface SuiteOpenApiOptions {
  /** What the document describes: fragments (plain data) and generated parts, in order. */
  readonly contributions: readonly OpenApiContribution[];
}

/**
 * Serves the suite's OpenAPI document at GET /openapi.json and Swagger UI at /docs. In production
 * the document is merged when the app is set up (`createApp` runs APP_SETUP before listening), so a
 * path or component contributed twice stops start-up. The embedded default merges it at the first
 * request for it instead (issue 13 goal 4: scanning every controller is a few hundred ms of its
 * start-up); the routes are the same, and a claim made twice still fails every e2e test that reads
 * the document.
 */
@Module({})
export class SuiteOpenApiModule {
  static forRoot(options: SuiteOpenApiOptions): DynamicModule {
    const setup: AppSetup = {
      setup: (app, config) => {
        const build = (): OpenAPIObject => buildSuiteDocument(app, config.http.issuer, options.contributions);
        serveOpenApi(app, config.mode === 'embedded' ? build : build());
      },
    };
    return { module: SuiteOpenApiModule, providers: [{ provide: APP_SETUP, useValue: setup }] };
  }
}
