import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { startMessageCatcher, type MessageCatcher } from './catcher';
import { redact, ROOT } from '@fpa/testing';
import { startSuite, SuiteStartError, type RunningSuite } from './launch';

/**
 * `npm run start:suite`: the four services as separate processes — registration, SUITE_TOKEN_REPLICAS
 * token replicas (default 2), challenge, federation, plus the sample API for the demo — on PostgreSQL
 * and Redis, behind a path-routing proxy on PORT (default 8080) that is the one ISSUER.
 *
 *   DATABASE_URL  default postgres://postgres@127.0.0.1:5432/fpa_suite (created when missing)
 *   REDIS_URL     default redis://127.0.0.1:6379 (keys under REDIS_KEY_PREFIX, default fpa-suite:)
 *   PORT, HOST    the proxy (default 8080 on 127.0.0.1); ISSUER default http://localhost:PORT
 *   KEY_ENCRYPTION_KEY, DPOP_NONCE_SECRET  generated once into DATA_DIR/suite/ when unset (every replica gets the same)
 *   SMTP_URL, SMS_PROVIDER_URL  when unset, a local catcher takes the messages and writes them to OUTBOX_PATH
 *                 (default DATA_DIR/suite/outbox.jsonl), where `npm run demo` reads the code
 *   SUITE_TOKEN_REPLICAS (default 2), SUITE_SAMPLE_API (default true), SHUTDOWN_GRACE_MS, LOG_LEVEL, … as for the apps
 */
async function main(): Promise<void> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
  const port = intVar('PORT', 8080, 1, 65535);
  const host = env.HOST ?? '127.0.0.1';
  const replicas = intVar('SUITE_TOKEN_REPLICAS', 2, 1, 16);
  const sampleApi = (env.SUITE_SAMPLE_API ?? 'true') !== 'false';
  const issuer = (env.ISSUER ?? `http://localhost:${port}`).replace(/\/+$/, '');
  const dir = resolve(ROOT, env.DATA_DIR ?? '.data', 'suite');
  const shown = (p: string): string => {
    const r = relative(process.cwd(), p);
    return r && !r.startsWith('..') ? r : p;
  };
  env.DATABASE_URL ??= 'postgres://postgres@127.0.0.1:5432/fpa_suite';
  env.REDIS_URL ??= 'redis://127.0.0.1:6379';
  env.REDIS_KEY_PREFIX ??= 'fpa-suite:';
  env.LOG_LEVEL ??= 'info';
  delete env.PORT;
  delete env.HOST;

  const notes: string[] = [];
  const generated = (['KEY_ENCRYPTION_KEY', 'DPOP_NONCE_SECRET'] as const).filter((v) => !env[v]);
  if (generated.length > 0) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    for (const v of generated) env[v] = persistedSecret(join(dir, `${v.toLowerCase().replace(/_/g, '-')}`));
    notes.push(
      `${generated.join(' and ')} ${generated.length > 1 ? 'were' : 'was'} not set: using the value${generated.length > 1 ? 's' : ''} generated once into ${shown(dir)}/.`,
      `Every process — all token replicas included — gets the same ${generated.length > 1 ? 'values' : 'value'}: replicas must share them (signing keys are encrypted under KEY_ENCRYPTION_KEY, DPoP nonces are HMACs under DPOP_NONCE_SECRET).`,
    );
  }
  let catcher: MessageCatcher | undefined;
  if (!env.SMTP_URL || !env.SMS_PROVIDER_URL) {
    catcher = await startMessageCatcher(resolve(env.OUTBOX_PATH ?? join(dir, 'outbox.jsonl')));
    env.SMTP_URL ??= catcher.smtpUrl;
    env.SMS_PROVIDER_URL ??= catcher.smsUrl;
  }

  const say = (line: string): void => console.log(`suite │ ${line}`);
  const width = 'registration'.length;
  let suite: RunningSuite;
  say(`PostgreSQL ${redact(env.DATABASE_URL)}, Redis ${redact(env.REDIS_URL)} (prefix ${env.REDIS_KEY_PREFIX})`);
  try {
    suite = await startSuite({
      env,
      port,
      host,
      issuer,
      tokenReplicas: replicas,
      sampleApi,
      demoClient: true,
      createDatabase: true,
      log: say,
      onOutput: (name, line) => console.log(`${name.padEnd(width)} │ ${line}`),
    });
  } catch (e) {
    await catcher?.close();
    if (e instanceof SuiteStartError) {
      console.error(`\nnpm run start:suite: ${e.message}`);
      process.exit(1);
    }
    throw e;
  }

  let stopping = false;
  for (const p of suite.processes) {
    void p.exit.then((s) => {
      if (!stopping) say(`${p.name} exited (${s.signal ?? `code ${s.code}`}); the proxy routes around it`);
    });
  }
  const outbox = catcher ? shown(catcher.outboxPath) : undefined;
  console.log(
    [
      '',
      `first-party-auth: ${suite.processes.length} processes behind one URL (${replicas} token replica${replicas > 1 ? 's' : ''}, round-robin)`,
      `  issuer       ${suite.issuer}   (the proxy on ${host}:${port}; every app has ISSUER=${suite.issuer})`,
      `  metadata     ${suite.issuer}/.well-known/oauth-authorization-server`,
      `  challenge    ${suite.issuer}/authorize-challenge and the browser login ${suite.issuer}/authorize — OpenAPI at ${suite.issuer}/openapi.json, Swagger UI at ${suite.issuer}/docs`,
      sampleApi ? `  sample API   ${suite.issuer}/api/me, /api/profile (not one of the four services; for the demo)` : '',
      `  demo client  demo-app`,
      `  processes    ${suite.processes.map((p) => `${p.name} ${p.url}`).join(', ')}`,
      `               health (/health/live, /health/ready) and /metrics on each process's own port; the proxy answers /metrics with 404`,
      catcher
        ? `  messages     email and SMS codes are sent to a local catcher (${catcher.smtpUrl}, ${catcher.smsUrl}) and written to ${outbox}`
        : `  messages     sent through SMTP_URL / SMS_PROVIDER_URL`,
      ...notes.map((n) => `  note         ${n}`),
      '',
      sampleApi
        ? `Try the whole device flow from another terminal:  ISSUER=${suite.issuer}${catcher ? ` OUTBOX_PATH=${outbox}` : ''} npm run demo`
        : `The demo needs the sample API (SUITE_SAMPLE_API=true).`,
      catcher ? '' : `(the demo's step-up reads the email code from an outbox: with your own SMTP_URL, enter the code yourself or unset SMTP_URL)`,
      'Ctrl-C stops the proxy and every process (SIGTERM, each drains for SHUTDOWN_GRACE_MS).',
      '',
    ]
      .filter((l, i, all) => l !== '' || all[i - 1] !== '')
      .join('\n'),
  );

  const shutdown = async (signal: string): Promise<void> => {
    if (stopping) {
      say(`${signal} again: killing every process`);
      for (const p of suite.processes) if (!p.exited()) p.child.kill('SIGKILL');
      process.exit(1);
    }
    stopping = true;
    say(`${signal}: stopping the proxy, then SIGTERM to every process`);
    await suite.stop();
    await catcher?.close();
    for (const p of suite.processes) {
      const s = await p.exit;
      say(`${p.name} ${s.code === 0 ? 'stopped' : `ended with ${s.signal ?? `code ${s.code}`}`}`);
    }
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
}

function intVar(name: string, fallback: number, min: number, max: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    console.error(`npm run start:suite: ${name} must be an integer from ${min} to ${max}`);
    process.exit(1);
  }
  return n;
}

/** base64url of 32 random bytes, written once (mode 0600) and read on every later start. */
function persistedSecret(path: string): string {
  if (!existsSync(path)) writeFileSync(path, randomBytes(32).toString('base64url'), { mode: 0o600, flag: 'wx' });
  return readFileSync(path, 'utf8').trim();
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
