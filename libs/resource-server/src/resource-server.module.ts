import { type DynamicModule, Module, type FactoryProvider } from '@nestjs/common';
import { DpopAuthGuard } from './dpop-auth.guard';
import { UserAuthenticationGuard } from './user-authentication';
import { RESOURCE_SERVER_OPTIONS, type ResourceServerOptions } from './resource-server.options';

/**
 * `ResourceServerModule.forRootAsync({ inject, useFactory })`, then `@UseGuards(DpopAuthGuard)`.
 * The guard throws `OAuthError`s: register `OAuthExceptionFilter` (from @fpa/oauth-core) in APIs
 * outside this suite so they render as RFC 6750 challenges.
 */
@Module({})
export class ResourceServerModule {
  static forRootAsync(options: Omit<FactoryProvider<ResourceServerOptions>, 'provide'> & { imports?: DynamicModule['imports'] }): DynamicModule {
    const { imports, ...factory } = options;
    return {
      module: ResourceServerModule,
      imports,
      providers: [{ provide: RESOURCE_SERVER_OPTIONS, ...factory }, DpopAuthGuard, UserAuthenticationGuard],
      exports: [DpopAuthGuard, UserAuthenticationGuard, RESOURCE_SERVER_OPTIONS],
    };
  }
}
