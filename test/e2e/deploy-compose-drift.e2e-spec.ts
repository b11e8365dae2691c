import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '@fpa/config';
import { checkEnvExample, checkVariableNames, dotEnvFromExample, environmentOf, interpolationReferences, loadCompose, parseEnvExample, resolvedCompose, type Compose } from '../support/compose/compose';
import { checkFederation } from '../support/compose/federation';
import { checkDockerfileTarget, checkProductionDependencies, effective, parseDockerfile } from '../support/compose/dockerfile';
import { COMPOSE_FILE, ENV_EXAMPLE, NGINX_CONF, read } from '../support/compose/files';
import { checkIngress, parseNginx } from '../support/compose/nginx';

/**
 * The docker deployment checks (deploy-compose*.e2e-spec.ts) fed mutated copies of docker-compose.yml,
 * its example env file, nginx.conf and the Dockerfile: each check must speak up when its rule breaks.
 */

describe('the checks catch drift (mutated copies)', () => {
  const text = read(COMPOSE_FILE);
  const withTokenEnv = (line: string): string => {
    // Give the token service its own environment with one more variable.
    const compose = loadCompose(text);
    compose.services.token.environment = { ...environmentOf(compose.services.token), ...Object.fromEntries([line.split('=')]) };
    return JSON.stringify(compose);
  };

  it('an unknown variable on a suite service', () => {
    const compose = JSON.parse(withTokenEnv('TOKEN_TTL=60')) as Compose;
    expect(checkVariableNames(compose)).toEqual(['token: TOKEN_TTL is not a variable of libs/config/src/env-vars.ts']);
  });

  it('an env_file on a suite service', () => {
    const compose = loadCompose(text);
    compose.services.challenge.env_file = '.env';
    expect(checkVariableNames(compose)).toHaveLength(1);
  });

  it('an unknown or unused variable in the example env file, and a committed secret', () => {
    const example = parseEnvExample(`${read(ENV_EXAMPLE)}\nSESSION_SECRET=\n`);
    expect(checkEnvExample(loadCompose(text), example, interpolationReferences(text))).toEqual([
      `${ENV_EXAMPLE}: SESSION_SECRET is neither a suite variable (env-vars.ts) nor a compose-level one`,
      `${ENV_EXAMPLE}: SESSION_SECRET is not used by ${COMPOSE_FILE} (it would reach no service)`,
    ]);
    const leaked = parseEnvExample(read(ENV_EXAMPLE).replace(/^KEY_ENCRYPTION_KEY=$/m, 'KEY_ENCRYPTION_KEY=abc'));
    expect(checkEnvExample(loadCompose(text), leaked, interpolationReferences(text))).toHaveLength(1);
  });

  it('a production requirement left out (SMTP_URL with email_otp on the challenge service)', () => {
    const { stages } = parseDockerfile();
    const resolved = resolvedCompose(dotEnvFromExample(parseEnvExample(), false));
    const env = { ...effective(stages, 'challenge').env, ...environmentOf(resolved.services.challenge) };
    delete env.SMTP_URL;
    expect(() => loadConfig('challenge', env)).toThrow(/SMTP_URL/);
  });

  it('federation: the downstream registry unmounted, unset, writable, refused by the parser; trust anchors for one service only', () => {
    const resolve = (): Compose => resolvedCompose(dotEnvFromExample(parseEnvExample(), false));
    const missing = resolve();
    missing.services.federation.volumes = [];
    delete (missing.services.challenge.environment as Record<string, string>).FEDERATION_DOWNSTREAMS_FILE;
    delete (missing.services.token.environment as Record<string, string>).OPENID_FEDERATION_TRUST_ANCHORS;
    expect(checkFederation(missing)).toEqual([
      'challenge: loads the federation module but FEDERATION_DOWNSTREAMS_FILE is not set (deploy/federation-downstreams.json would reach no downstream server)',
      'federation: FEDERATION_DOWNSTREAMS_FILE /etc/first-party-auth/federation/downstreams.json is on no bind mount (the read-only image holds no such file)',
      'OPENID_FEDERATION_TRUST_ANCHORS differs between token, challenge, federation: set on challenge, federation (share it through x-federation-env)',
    ]);
    const dir = mkdtempSync(join(tmpdir(), 'fpa-downstreams-'));
    const bad = join(dir, 'downstreams.json');
    writeFileSync(bad, JSON.stringify([{ issuer: 'https://as.example', client_id: 'suite', colour: 'blue' }]));
    const refused = resolve();
    refused.services.challenge.volumes = [`${bad}:/etc/first-party-auth/federation/downstreams.json`];
    expect(checkFederation(refused)).toEqual([
      'challenge: the mount of /etc/first-party-auth/federation/downstreams.json must be read-only (:ro)',
      expect.stringMatching(/^challenge: .*downstreams\.json: downstreams\[0\]: unknown members colour$/),
      expect.stringMatching(/^the services that federate read different downstream registries: challenge \/.*, federation .*deploy\/federation-downstreams\.json$/),
    ]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('/metrics through the ingress, and a route to the wrong service', () => {
    const compose = loadCompose(text);
    const metrics = parseNginx(read(NGINX_CONF).replace('location = /ingress-health {', 'location /metrics { proxy_pass $token; }\n    location = /ingress-health {'));
    expect(checkIngress(metrics, compose)).toEqual(['/metrics is routed to token: keep it off the ingress']);
    const swapped = parseNginx(read(NGINX_CONF).replace(/location = \/jwks(\s+)\{ proxy_pass \$token; \}/, 'location = /jwks$1{ proxy_pass $challenge; }'));
    expect(checkIngress(swapped, compose)).toEqual(['/jwks goes to challenge, CONTRACT §1 says token']);
  });

  it('a root user, npm start as the process, and dev dependencies in the image', () => {
    const df = read('Dockerfile');
    const root = parseDockerfile(df.replace('USER 1000:1000', 'USER root')).stages;
    expect(checkDockerfileTarget(root, 'token', 'token')).toEqual(['token: runs as root (USER root)']);
    const npm = parseDockerfile(df.replace('ENTRYPOINT ["node", "--max-semi-space-size=16", "--heap-growing-percent=30", "dist/apps/token/src/main.js"]', 'CMD ["npm", "run", "start:token"]')).stages;
    expect(checkDockerfileTarget(npm, 'token', 'token').join('\n')).toMatch(/not node[\s\S]*npm/);
    const dev = parseDockerfile(df.replace('npm ci --omit=dev', 'npm ci')).stages;
    expect(checkProductionDependencies(dev, 'token').length).toBeGreaterThan(0);
  });
});
