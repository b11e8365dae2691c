import { ENV_VARS, loadConfig } from '@fpa/config';
import {
  checkEnvExample,
  checkServiceSet,
  checkVariableNames,
  dotEnvFromExample,
  environmentOf,
  HTTP_APPS,
  interpolationReferences,
  loadCompose,
  ONE_SHOT,
  parseEnvExample,
  resolvedCompose,
  SUITE_SERVICES,
  type Obj,
} from '../support/compose/compose';
import { effective, isRootUser, parseDockerfile } from '../support/compose/dockerfile';
import { checkFederation } from '../support/compose/federation';
import { check } from '../support/compose/files';
import { appsReadingOpenIdFederation } from '../support/app-modules';

/**
 * Issue 4's docker deployment, checked without a Docker engine: docker-compose.yml, its example env
 * file, the ingress config and the Dockerfile are parsed and held against the config table
 * (libs/config/src/env-vars.ts), `loadConfig` and CONTRACT §1. A variable the suite does not know,
 * a production requirement left unset, a route to the wrong service or /metrics on the ingress, a
 * root user or an `npm start` in an image all fail here. Each check is a function returning problems
 * (test/support/compose/). This file holds docker-compose.yml and its env file; the ingress, the
 * Dockerfile and the mutated copies that prove each check can fail are in deploy-compose-ingress,
 * deploy-compose-dockerfile and deploy-compose-drift. Needs no running service.
 */

describe('docker-compose.yml', () => {
  const compose = loadCompose();
  const example = parseEnvExample();
  const refs = interpolationReferences();
  const { stages } = parseDockerfile();

  it('classifies every service: the suite (registration, token, challenge, federation, migrate) or a third-party image', () => {
    check(checkServiceSet(compose));
  });

  it('sets on the suite services only variables of libs/config/src/env-vars.ts, all under environment:', () => {
    check(checkVariableNames(compose));
  });

  it('takes secrets from .env: the example documents every ${…} with known names only and commits no secret', () => {
    check(checkEnvExample(compose, example, refs));
    expect([...new Set(refs.filter((r) => r.required).map((r) => r.name))].sort()).toEqual(['DPOP_NONCE_SECRET', 'KEY_ENCRYPTION_KEY', 'POSTGRES_PASSWORD']);
  });

  it('refuses to start without the secrets (${…:?}) instead of running on empty ones', () => {
    expect(() => resolvedCompose({})).toThrow(/POSTGRES_PASSWORD|KEY_ENCRYPTION_KEY|DPOP_NONCE_SECRET/);
  });

  for (const allOptional of [false, true]) {
    const label = allOptional ? 'with every optional setting of the example on' : 'with the example as shipped';
    describe(label, () => {
      const vars = dotEnvFromExample(example, allOptional);
      const resolved = resolvedCompose(vars);

      it.each(Object.entries(SUITE_SERVICES))('%s: loadConfig accepts its environment in production (what the image and compose give it)', (service, app) => {
        const image = effective(stages, app).env;
        const env = { ...image, ...environmentOf(resolved.services[service]) };
        const config = loadConfig(app, env);
        expect(config.mode).toBe('production');
        expect(config.db.url).toBeDefined();
        if (app !== 'cli') {
          expect(config.redis.url).toBeDefined();
          expect(config.keys.encryptionKey).toBeDefined();
          expect(config.dpop.nonceSecret).toBeDefined();
        }
        if (app === 'challenge') {
          if (config.challenge.methods.includes('email_otp')) expect(config.messaging.smtpUrl).toBeDefined();
          if (config.challenge.methods.includes('sms_otp')) expect(config.messaging.smsUrl).toBeDefined();
        }
      });

      it('gives every HTTP app each variable env-vars.ts marks required in production, non-empty', () => {
        const required = Object.entries(ENV_VARS)
          .filter(([, spec]) => (spec as { required?: string }).required === 'production')
          .map(([name]) => name);
        expect(required.length).toBeGreaterThan(0);
        const problems: string[] = [];
        for (const service of HTTP_APPS) {
          const env = environmentOf(resolved.services[service]);
          for (const name of required) if (!env[name]) problems.push(`${service}: ${name} is not set`);
        }
        check(problems);
      });

      it('federation (issue 10): challenge and federation read deploy/federation-downstreams.json on a read-only mount, and the apps’ parser accepts it; FEDERATION_* and OPENID_FEDERATION_* agree', () => {
        check(checkFederation(resolved));
      });

      it('every OPENID_FEDERATION_* of the example env file reaches token, challenge and federation', () => {
        const names = [...example.keys()].filter((n) => n.startsWith('OPENID_FEDERATION_'));
        expect(names.length).toBeGreaterThanOrEqual(3);
        expect(appsReadingOpenIdFederation().sort()).toEqual(['challenge', 'federation', 'token']);
        const problems: string[] = [];
        for (const service of appsReadingOpenIdFederation()) {
          const env = environmentOf(resolved.services[service]);
          for (const name of names) if (env[name] !== (vars[name] ?? '')) problems.push(`${service}: ${name} is ${JSON.stringify(env[name])}, .env says ${JSON.stringify(vars[name] ?? '')}`);
        }
        check(problems);
      });

      it('uses one ISSUER for every service: the URL the ingress publishes', () => {
        const issuers = new Set(Object.keys(SUITE_SERVICES).map((s) => environmentOf(resolved.services[s]).ISSUER));
        expect(issuers.size).toBe(1);
        const issuer = new URL([...issuers][0]!);
        const ports = (resolved.services.ingress.ports as string[]).map((p) => String(p).split(':'));
        const [bind, hostPort] = ports[0].length === 3 ? ports[0] : ['0.0.0.0', ports[0][0]];
        expect(issuer.port || (issuer.protocol === 'https:' ? '443' : '80')).toBe(hostPort);
        if (bind === '127.0.0.1') expect(['localhost', '127.0.0.1']).toContain(issuer.hostname);
      });

      it('points the store and mail URLs at the compose services, with the postgres service’s own credentials', () => {
        const pg = environmentOf(resolved.services.postgres);
        const problems: string[] = [];
        for (const service of Object.keys(SUITE_SERVICES)) {
          const env = environmentOf(resolved.services[service]);
          const deps = Object.keys((resolved.services[service].depends_on as Obj | undefined) ?? {});
          for (const key of ['DATABASE_URL', 'REDIS_URL', 'SMTP_URL'] as const) {
            if (!env[key]) continue;
            const u = new URL(env[key]);
            if (!(u.hostname in resolved.services)) problems.push(`${service}: ${key} names host ${u.hostname}, not a compose service`);
            else if (!deps.includes(u.hostname)) problems.push(`${service}: ${key} needs ${u.hostname} but does not depend on it`);
          }
          const db = env.DATABASE_URL ? new URL(env.DATABASE_URL) : undefined;
          if (db && (decodeURIComponent(db.username) !== pg.POSTGRES_USER || decodeURIComponent(db.password) !== pg.POSTGRES_PASSWORD || db.pathname !== `/${pg.POSTGRES_DB}`)) {
            problems.push(`${service}: DATABASE_URL does not match the postgres service's user, password and database`);
          }
        }
        check(problems);
      });
    });
  }

  it('builds each suite service from its Dockerfile target and runs it as non-root on a read-only root filesystem', () => {
    const problems: string[] = [];
    for (const [service, app] of Object.entries(SUITE_SERVICES)) {
      const s = compose.services[service];
      const build = s.build as Obj | undefined;
      if (build?.target !== app || (build.context !== '.' && build.context !== './')) problems.push(`${service}: build must be {context: ., target: ${app}}`);
      if (!stages.some((st) => st.name === app)) problems.push(`${service}: the Dockerfile has no target ${app}`);
      if (s.user !== undefined && isRootUser(String(s.user))) problems.push(`${service}: user: ${String(s.user)} overrides the image's non-root user`);
      if (s.user === undefined && isRootUser(effective(stages, app).user)) problems.push(`${service}: the image runs as root`);
      if (s.read_only !== true) problems.push(`${service}: read_only is not true`);
      if (s.privileged === true) problems.push(`${service}: privileged`);
    }
    check(problems);
  });

  it('has a health check on every long-running service; the suite’s ask node for /health/*', () => {
    const problems: string[] = [];
    for (const [name, s] of Object.entries(compose.services)) {
      const hc = s.healthcheck as { test?: unknown; disable?: boolean } | undefined;
      if (ONE_SHOT.includes(name)) continue;
      const test = hc?.test;
      const argv = Array.isArray(test) ? test.map(String) : typeof test === 'string' ? ['CMD-SHELL', test] : [];
      if (hc?.disable === true || argv.length < 2 || argv[0] === 'NONE') {
        problems.push(`${name}: no health check`);
        continue;
      }
      if (name in SUITE_SERVICES && (argv[0] !== 'CMD' || argv[1] !== 'node' || !/\/health\/(live|ready)/.test(argv.join(' ')))) {
        problems.push(`${name}: health check must be ["CMD", "node", "-e", …/health/…] (the image has no curl): ${JSON.stringify(argv)}`);
      }
    }
    check(problems);
  });

  it('starts in order: stores healthy → migrate completed → apps healthy → ingress', () => {
    const problems: string[] = [];
    const expectDeps = (service: string, wanted: Record<string, string>): void => {
      const deps = compose.services[service]?.depends_on;
      if (Array.isArray(deps)) {
        problems.push(`${service}: depends_on needs the long form with a condition`);
        return;
      }
      const got = Object.fromEntries(Object.entries((deps as Record<string, { condition?: string }>) ?? {}).map(([k, v]) => [k, v?.condition ?? 'service_started']));
      for (const [dep, condition] of Object.entries(wanted)) {
        if (got[dep] !== condition) problems.push(`${service}: depends_on ${dep} should be ${condition}, is ${got[dep] ?? 'missing'}`);
      }
      for (const [dep, condition] of Object.entries(got)) {
        const right = ONE_SHOT.includes(dep) ? 'service_completed_successfully' : 'service_healthy';
        if (condition !== right) problems.push(`${service}: depends_on ${dep} is ${condition}, should be ${right}`);
      }
    };
    const stores = { postgres: 'service_healthy', redis: 'service_healthy', migrate: 'service_completed_successfully' };
    for (const app of HTTP_APPS) expectDeps(app, stores);
    expectDeps('challenge', { mailpit: 'service_healthy' });
    expectDeps('migrate', { postgres: 'service_healthy' });
    expectDeps('ingress', Object.fromEntries(HTTP_APPS.map((a) => [a, 'service_healthy'])));
    check(problems);
  });

  it('runs the migrations once with `node dist/apps/cli/src/main.js migration run` and does not restart it', () => {
    const migrate = compose.services.migrate;
    const image = effective(stages, 'cli');
    const argv = [...(image.entrypoint ?? []), ...((migrate.command as string[] | undefined) ?? image.cmd ?? [])];
    expect(argv).toEqual(['node', 'dist/apps/cli/src/main.js', 'migration', 'run']);
    expect(migrate.entrypoint).toBeUndefined();
    expect(String(migrate.restart ?? 'no')).toBe('no');
  });
});
