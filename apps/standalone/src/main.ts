import 'reflect-metadata';
import { runApp } from '@fpa/platform';
import { StandaloneAppModule } from './standalone-app.module';

void runApp(
  'standalone',
  (config) => StandaloneAppModule.forRoot(config),
  async (_app, config) => {
    const store = config.db.url ? 'PostgreSQL' : `PGlite in ${config.dataDir}/pgdata`;
    const cache = config.redis.url ? 'Redis' : 'an in-process store';
    console.log(
      [
        '',
        `first-party-auth is running (${config.mode} mode) on ${store} with ${cache}.`,
        `  issuer       ${config.http.issuer}`,
        `  metadata     ${config.http.issuer}/.well-known/oauth-authorization-server`,
        `  demo client  demo-app (first-party public client: fp_register, client_credentials, refresh_token, authorization_code)`,
        `  sample API   ${config.http.issuer}/api/me (needs a DPoP-bound token), /api/profile (also a verified email)`,
        `  challenge    ${config.http.issuer}/authorize-challenge — OpenAPI at ${config.http.issuer}/openapi.json, Swagger UI at /docs`,
        '',
        `Try the whole device flow from another terminal:  ISSUER=${config.http.issuer} npm run demo`,
        config.mode === 'embedded' ? `Start over: stop the server and delete ${config.dataDir}/` : '',
        '',
      ].join('\n'),
    );
  },
);
