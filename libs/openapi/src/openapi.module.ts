import { type DynamicModule, Module } from '@nestjs/common';
import { APP_SETUP, type AppSetup } from '@fpa/platform';
import type { OpenApiContribution } from './fragment';
import { buildSuiteDocument, serveOpenApi } from './suite-document';

export interface SuiteOpenApiOptions {
  /** What the document describes: fragments (plain data) and generated parts, in order. */
  readonly contributions: readonly OpenApiContribution[];
}

/**
 * Serves the suite's OpenAPI document at GET /openapi.json and Swagger UI at /docs. The document is
 * merged when the app is set up (`createApp` runs APP_SETUP before listening), so a path or
 * component contributed twice stops start-up.
 */
@Module({})
export class SuiteOpenApiModule {
  static forRoot(options: SuiteOpenApiOptions): DynamicModule {
    const setup: AppSetup = { setup: (app, config) => serveOpenApi(app, buildSuiteDocument(app, config.http.issuer, options.contributions)) };
    return { module: SuiteOpenApiModule, providers: [{ provide: APP_SETUP, useValue: setup }] };
  }
}
