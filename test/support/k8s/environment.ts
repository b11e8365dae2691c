import type { IContainer } from 'kubernetes-models/v1/Container';
import { ConfigError, ENV_VARS, isKnownEnvVar, loadConfig, type AppName, type EnvVarName } from '@fpa/config';
import { SECRET_NAME, SUITE_IMAGE, type Manifests } from './manifests';

/** Environment: what each container's variables resolve to (ConfigMaps, literals, Secret references) and what loadConfig makes of it. */

/** Every secret variable of ENV_VARS needs a syntactically valid sample, so loadConfig can judge a container's environment. */
type SecretVar = { [K in EnvVarName]: (typeof ENV_VARS)[K] extends { secret: true } ? K : never }[EnvVarName];
const SECRET_SAMPLES: Record<SecretVar, string> = {
  DATABASE_URL: 'postgres://fpa@postgres.internal:5432/fpa',
  REDIS_URL: 'rediss://redis.internal:6379',
  KEY_ENCRYPTION_KEY: Buffer.alloc(32, 7).toString('base64url'),
  DPOP_NONCE_SECRET: Buffer.alloc(32, 8).toString('base64url'),
  SMTP_URL: 'smtps://smtp.internal:465',
  SMS_PROVIDER_AUTHORIZATION: 'Bearer sample',
  RS_NONCE_SECRET: Buffer.alloc(32, 9).toString('base64url'),
};
export const isSecretVar = (name: string): name is SecretVar => isKnownEnvVar(name) && (ENV_VARS[name] as { secret?: boolean }).secret === true;

type Source = 'configMap' | 'literal' | 'secret' | 'optionalSecret' | 'other';
interface ResolvedEnv {
  /** What loadConfig would see, with secret references replaced by samples. */
  readonly env: Record<string, string>;
  readonly sources: ReadonlyMap<string, Source>;
  readonly problems: readonly string[];
}

export function resolveEnv(m: Manifests, where: string, c: IContainer): ResolvedEnv {
  const env: Record<string, string> = {};
  const sources = new Map<string, Source>();
  const problems: string[] = [];
  for (const from of c.envFrom ?? []) {
    if (from.secretRef) problems.push(`${where}: envFrom secretRef hides which variables it sets; use env[].valueFrom.secretKeyRef per variable`);
    if (from.prefix) problems.push(`${where}: envFrom prefix "${from.prefix}" renames variables`);
    const name = from.configMapRef?.name;
    if (name === undefined) continue;
    const data = m.configMaps.get(name);
    if (!data) {
      problems.push(`${where}: envFrom ConfigMap ${name} is not in the manifests`);
      continue;
    }
    for (const [k, v] of Object.entries(data)) {
      env[k] = v;
      sources.set(k, 'configMap');
    }
  }
  for (const e of c.env ?? []) {
    const ref = e.valueFrom;
    if (ref?.secretKeyRef) {
      if (ref.secretKeyRef.name !== SECRET_NAME) problems.push(`${where}: ${e.name} reads Secret ${ref.secretKeyRef.name}, not ${SECRET_NAME}`);
      if (ref.secretKeyRef.key !== e.name) problems.push(`${where}: ${e.name} reads key ${ref.secretKeyRef.key}; keep the Secret's keys named as the variables`);
      const optional = ref.secretKeyRef.optional === true;
      sources.set(e.name, optional ? 'optionalSecret' : 'secret');
      delete env[e.name];
      if (!optional) env[e.name] = isSecretVar(e.name) ? SECRET_SAMPLES[e.name] : 'sample';
    } else if (ref?.configMapKeyRef) {
      const v = m.configMaps.get(ref.configMapKeyRef.name ?? '')?.[ref.configMapKeyRef.key];
      if (v === undefined) problems.push(`${where}: ${e.name} reads a missing ConfigMap key ${ref.configMapKeyRef.name}/${ref.configMapKeyRef.key}`);
      else env[e.name] = v;
      sources.set(e.name, 'configMap');
    } else if (ref) {
      sources.set(e.name, 'other');
    } else {
      env[e.name] = e.value ?? '';
      sources.set(e.name, 'literal');
    }
  }
  return { env, sources, problems };
}

export const SECRET_LIKE_NAME = /PASSWORD|PASSWD|SECRET|PRIVATE|CREDENTIAL|AUTHORIZATION|(^|_)TOKEN$|(^|_)KEY$|API_?KEY/i;
/** A URL with a password in it, or a long random-looking string (a key, a token). */
export function looksSecret(value: string): boolean {
  return /:\/\/[^/\s@:]*:[^/\s@]+@/.test(value) || (/^(?!\/)[A-Za-z0-9+/_-]{32,}={0,2}$/.test(value) && /\d/.test(value));
}

/**
 * The suite's containers set only variables of ENV_VARS, take every secret from secretKeyRef, and get
 * what production needs: their environment passes loadConfig in production mode. Every container: no
 * literal that looks like a secret.
 */
export function checkEnvironment(m: Manifests): string[] {
  const problems: string[] = [];
  const issuers = new Set<string>();
  for (const w of m.workloads) {
    // Service links would add <SERVICE>_PORT, <SERVICE>_SERVICE_HOST, … for every Service in the namespace.
    if (w.app && w.pod.enableServiceLinks !== false) problems.push(`${w.ref}: enableServiceLinks must be false (the environment holds only what the manifest sets)`);
    for (const c of w.containers) {
      const at = `${w.ref}/${c.name}`;
      const resolved = resolveEnv(m, at, c);
      for (const [name, source] of resolved.sources) {
        const literal = source === 'literal' || source === 'configMap';
        if (literal && looksSecret(resolved.env[name] ?? '')) problems.push(`${at}: ${name} has a literal value that looks like a secret`);
        if (!SUITE_IMAGE.test(c.image ?? '') && literal && SECRET_LIKE_NAME.test(name)) problems.push(`${at}: ${name} must come from a secretKeyRef, not a literal value`);
      }
      for (const arg of [...(c.command ?? []), ...(c.args ?? [])]) if (looksSecret(arg)) problems.push(`${at}: an argument looks like a secret`);
      if (!w.app || !SUITE_IMAGE.test(c.image ?? '')) continue;

      problems.push(...resolved.problems);
      for (const [name, source] of resolved.sources) {
        if (!isKnownEnvVar(name)) problems.push(`${at}: ${name} is not in ENV_VARS (libs/config/src/env-vars.ts)`);
        else if (isSecretVar(name) && source !== 'secret' && source !== 'optionalSecret') problems.push(`${at}: ${name} is secret in ENV_VARS and must come from a secretKeyRef, not a ${source} value`);
      }
      if (w.app !== 'cli') {
        for (const name of Object.keys(ENV_VARS) as EnvVarName[]) {
          const required = (ENV_VARS[name] as { required?: string }).required === 'production';
          const source = resolved.sources.get(name);
          if (required && (source === undefined || source === 'optionalSecret')) problems.push(`${at}: ${name} is required in production and not provided`);
        }
      }
      try {
        const config = loadConfig(w.app as AppName, resolved.env);
        if (config.mode !== 'production') problems.push(`${at}: runs in ${config.mode} mode, expected production`);
        if (w.app !== 'cli') issuers.add(config.http.issuer);
      } catch (e) {
        problems.push(`${at}: loadConfig('${w.app}') refuses this environment: ${e instanceof ConfigError ? e.problems.join('; ') : (e as Error).message}`);
      }
    }
  }
  if (issuers.size > 1) problems.push(`the apps disagree on ISSUER: ${[...issuers].join(', ')} (CONTRACT §1: one issuer)`);
  return problems;
}
