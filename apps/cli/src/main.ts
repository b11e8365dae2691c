import 'reflect-metadata';
import { type DynamicModule, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ClientAdminService, ClientDefinitionError, ClientsModule, type Client } from '@fpa/clients';
import { configFromEnv } from '@fpa/platform';
import type { AppConfig } from '@fpa/config';
import { KeyManager, KeysModule, keyState } from '@fpa/keys';
import { JanitorModule, JanitorService, type JanitorSummary } from '@fpa/janitor';
import { openDataSource, runMigrations, usesPglite } from '@fpa/persistence';
import { PlatformModule } from '@fpa/platform';
import { RevocationService, SessionModule } from '@fpa/session';

const USAGE = `first-party-auth administration

  npm run migration:run                         apply pending migrations
  npm run client -- list
  npm run client -- create <json>               e.g. '{"client_id":"my-app","type":"public","first_party":true,
                                                  "grant_types":["fp_register","client_credentials","refresh_token"]}'
  npm run client -- create-resource-server <client_id> [resource ...]
                                                a confidential client that may introspect (prints its secret once)
  npm run client -- disable <client_id> | enable <client_id> | rotate-secret <client_id>
  npm run session -- revoke <auth_session>     end a device session: refresh and access tokens stop working
  npm run keys -- list
  npm run keys -- rotate [--immediate]          publish a new signing key; it signs after KEY_PUBLISH_LEAD_SECONDS
  npm run keys -- retire <kid>                  stop publishing a key now (compromise)
  npm run janitor [-- --batch-size=N --pause-ms=N]
                                                delete what has expired, in batches; prints a JSON summary,
                                                exits 1 on failure (AUDIT_RETENTION_DAYS, JANITOR_*)

Uses the same environment as the apps (DATABASE_URL, KEY_ENCRYPTION_KEY, …); without DATABASE_URL it
works on the embedded default's data in DATA_DIR (stop the server first).`;

@Module({})
class CliModule {
  static forRoot(config: AppConfig, area: string): DynamicModule {
    // Only `session` needs Redis (it sets the revocation flags resource servers read).
    const session = area === 'session';
    // The janitor needs PostgreSQL only: no signing keys loaded, no clients.
    if (area === 'janitor') return { module: CliModule, imports: [PlatformModule.forRoot(config, { store: false }), JanitorModule] };
    return { module: CliModule, imports: [PlatformModule.forRoot(config, { store: session }), ClientsModule, KeysModule, ...(session ? [SessionModule] : [])] };
  }
}

async function main(argv: string[]): Promise<number> {
  const [area, command, ...args] = argv;
  if (!area || area === 'help' || area === '--help') {
    console.log(USAGE);
    return 0;
  }
  const config = configFromEnv('cli', { LOG_LEVEL: 'warn', ...process.env });
  if (area === 'migration') {
    if (command !== 'run') return usage();
    const ds = await openDataSource(config);
    try {
      const ran = await runMigrations(ds, usesPglite(config));
      console.log(ran.length ? `applied: ${ran.join(', ')}` : 'schema is up to date');
    } finally {
      await ds.destroy();
    }
    return 0;
  }
  if (area === 'janitor') return janitorCommand(config, [command, ...args].filter((a) => a !== undefined));
  const app = await NestFactory.createApplicationContext(CliModule.forRoot(config, area), { logger: ['error', 'warn'] });
  try {
    if (area === 'client') return await clientCommand(app.get(ClientAdminService), command, args);
    if (area === 'keys') return await keysCommand(app.get(KeyManager), command, args);
    if (area === 'session' && command === 'revoke' && args[0]) {
      const known = await app.get(RevocationService).revokeSession(args[0], 'revoked_by_operator', new Date());
      console.log(known ? `session revoked; its tokens no longer work` : `no active session ${args[0]} (tokens revoked anyway)`);
      return known ? 0 : 1;
    }
    return usage();
  } finally {
    await app.close();
  }
}

/** FED-4/FED-8: what a client may do as a federating client of this server (shown only when set). */
function federation(c: Client): string {
  const callbacks = c.nativeCallbackUris.length ? `\tnative_callback_uris=${c.nativeCallbackUris.join(',')}` : '';
  return `${callbacks}${c.redirectToApp ? `\tredirect_to_app=${c.redirectToApp.deepLink} (apps: ${c.redirectToApp.appClientIds.join(',')})` : ''}`;
}

async function clientCommand(admin: ClientAdminService, command: string | undefined, args: string[]): Promise<number> {
  const show = (c: Client): string =>
    `${c.id}\t${c.type}${c.firstParty ? ' first-party' : ''}\t${c.enabled ? 'enabled' : 'DISABLED'}\tgrants=${c.grantTypes.join(',') || '-'}\tauth=${c.authMethods.join(',')}${c.permissions.length ? `\tpermissions=${c.permissions.join(',')}` : ''}${keySet(c)}${federation(c)}`;
  switch (command) {
    case 'list':
      for (const c of await admin.list()) console.log(show(c));
      return 0;
    case 'create': {
      if (!args[0]) return usage();
      const { client, secret } = await admin.create(JSON.parse(args[0]) as unknown);
      console.log(`created ${show(client)}`);
      if (secret) console.log(`client_secret (shown once, store it now): ${secret}`);
      else if (client.type === 'confidential') console.log('no client_secret: the client authenticates with private_key_jwt, signed by a key of its key set');
      return 0;
    }
    case 'create-resource-server': {
      if (!args[0]) return usage();
      const { client, secret } = await admin.create({ client_id: args[0], type: 'confidential', permissions: ['introspect'], resources: args.slice(1) });
      console.log(`created ${show(client)}`);
      console.log(`client_secret (shown once, store it now): ${secret}`);
      return 0;
    }
    case 'disable':
    case 'enable':
      if (!args[0]) return usage();
      console.log(show(await admin.setEnabled(args[0], command === 'enable')));
      return 0;
    case 'rotate-secret':
      if (!args[0]) return usage();
      console.log(`client_secret (shown once, store it now): ${await admin.rotateSecret(args[0])}`);
      return 0;
    default:
      return usage();
  }
}

/** Where a client's private_key_jwt keys come from (never the keys themselves). */
function keySet(c: Client): string {
  if (c.jwksUri) return `\tjwks_uri=${c.jwksUri}`;
  return c.jwks ? `\tjwks=${c.jwks.keys.length} key(s)` : '';
}

async function keysCommand(keys: KeyManager, command: string | undefined, args: string[]): Promise<number> {
  switch (command) {
    case 'list': {
      const now = Date.now();
      for (const k of keys.list()) {
        console.log(`${k.kid}\t${k.alg}\t${keyState(k, now)}\tactivates=${k.activatesAt.toISOString()}\tunpublished=${k.expiresAt?.toISOString() ?? '-'}`);
      }
      return 0;
    }
    case 'rotate': {
      const r = await keys.rotate({ immediate: args.includes('--immediate') });
      if (!r.created) console.log(`a rotation is already pending: ${r.kid} signs from ${r.activatesAt.toISOString()}`);
      else {
        console.log(`new key ${r.kid} is published now and signs from ${r.activatesAt.toISOString()}`);
        for (const o of r.retiring) console.log(`  ${o.kid} stops signing then and stays published until ${o.expiresAt.toISOString()}`);
      }
      return 0;
    }
    case 'retire':
      if (!args[0]) return usage();
      console.log((await keys.retire(args[0])) ? `${args[0]} is no longer published` : `no key ${args[0]}`);
      return 0;
    default:
      return usage();
  }
}

/**
 * `janitor [--batch-size=N] [--pause-ms=N]`: one run, its summary as one JSON line on stdout; exit 1
 * when it failed, including when PostgreSQL cannot be reached (then with the error only).
 */
async function janitorCommand(config: AppConfig, args: string[]): Promise<number> {
  const options: { batchSize?: number; pauseMs?: number } = {};
  for (const arg of args) {
    const m = /^--(batch-size|pause-ms)=(\d{1,6})$/.exec(arg);
    if (!m) return usage();
    if (m[1] === 'batch-size') options.batchSize = Math.max(1, Number(m[2]));
    else options.pauseMs = Number(m[2]);
  }
  let app: Awaited<ReturnType<typeof NestFactory.createApplicationContext>> | undefined;
  try {
    app = await NestFactory.createApplicationContext(CliModule.forRoot(config, 'janitor'), { logger: ['error'], abortOnError: false });
    const s = await app.get(JanitorService).run(options);
    console.log(JSON.stringify(janitorJson(s)));
    return s.outcome === 'success' ? 0 : 1;
  } catch (e) {
    const err = e as { name?: string; code?: string; message?: string };
    console.log(JSON.stringify({ outcome: 'failure', error: `${err.name ?? 'Error'}${err.code ? ` ${err.code}` : ''}: ${err.message ?? String(e)}`.slice(0, 300) }));
    return 1;
  } finally {
    await app?.close().catch(() => undefined);
  }
}

function janitorJson(s: JanitorSummary): Record<string, unknown> {
  return {
    outcome: s.outcome,
    run_id: s.runId,
    as_of: s.asOf.toISOString(),
    started_at: s.startedAt.toISOString(),
    finished_at: s.finishedAt.toISOString(),
    duration_ms: s.durationMs,
    batch_size: s.batchSize,
    batches: s.batches,
    deleted: s.deleted,
    sessions_skipped: s.sessionsSkipped,
    ...(s.error === undefined ? {} : { error: s.error }),
  };
}

function usage(): number {
  console.error(USAGE);
  return 2;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(e instanceof ClientDefinitionError || e instanceof SyntaxError ? `error: ${(e as Error).message}` : e);
    process.exit(1);
  },
);
