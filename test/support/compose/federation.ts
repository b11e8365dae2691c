import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join, posix } from 'node:path';
import { parseDownstreams } from '@fpa/federation';
import { appsReadingDownstreams, appsReadingOpenIdFederation } from '../app-modules';
import { environmentOf, SUITE_SERVICES, type Compose, type Obj } from './compose';
import { ROOT } from './files';

/**
 * Federation (issue 10) in docker-compose.yml: every service whose app loads the federation module
 * (derived from the root modules) gets FEDERATION_DOWNSTREAMS_FILE on a read-only bind mount of a
 * repository file the apps' parser accepts in production, the same file for all; the services that
 * read FEDERATION_* or OPENID_FEDERATION_* agree on every value.
 */

interface Mount {
  readonly source: string;
  readonly target: string;
  readonly readOnly: boolean;
}

/** `volumes:` in compose's short (`src:dst[:ro]`) or long (`{type, source, target, read_only}`) form; bind mounts only. */
export function bindMounts(service: Obj): Mount[] {
  return ((service.volumes as unknown[] | undefined) ?? []).flatMap((v): Mount[] => {
    if (typeof v === 'string') {
      const [source, target, mode] = v.split(':');
      if (target === undefined || !/^[./~]/.test(source)) return [];
      return [{ source, target, readOnly: (mode ?? '').split(',').includes('ro') }];
    }
    const o = v as { type?: string; source?: string; target?: string; read_only?: boolean };
    return o.type === 'bind' && o.source && o.target ? [{ source: o.source, target: o.target, readOnly: o.read_only === true }] : [];
  });
}

/** The host file behind a container path, through the service's bind mounts. */
export function hostFile(service: Obj, path: string): { file: string; readOnly: boolean } | undefined {
  const m = bindMounts(service)
    .filter((b) => path === b.target || path.startsWith(`${b.target.replace(/\/+$/, '')}/`))
    .sort((a, b) => b.target.length - a.target.length)[0];
  if (!m) return undefined;
  const rel = posix.relative(m.target, path);
  const source = isAbsolute(m.source) ? m.source : join(ROOT, m.source);
  return { file: rel ? join(source, rel) : source, readOnly: m.readOnly };
}

const serviceOf = (app: string): string | undefined => Object.entries(SUITE_SERVICES).find(([, a]) => a === app)?.[0];

function agree(compose: Compose, services: readonly string[], names: RegExp): string[] {
  const envs = services.map((s) => ({ s, env: environmentOf(compose.services[s] ?? {}) }));
  const keys = new Set(envs.flatMap((e) => Object.keys(e.env).filter((k) => names.test(k))));
  return [...keys]
    .sort()
    .filter((k) => new Set(envs.map((e) => e.env[k])).size > 1)
    .map((k) => `${k} differs between ${services.join(', ')}: set on ${envs.filter((e) => e.env[k] !== undefined).map((e) => e.s).join(', ') || 'none'} (share it through x-federation-env)`);
}

/** Takes the compose file with its `${…}` resolved (what `docker compose config` shows). */
export function checkFederation(compose: Compose): string[] {
  const problems: string[] = [];
  const readers = appsReadingDownstreams().map(serviceOf).filter((s) => s !== undefined);
  const files = new Map<string, string>();
  for (const name of readers) {
    const service = compose.services[name];
    const path = environmentOf(service ?? {}).FEDERATION_DOWNSTREAMS_FILE;
    if (!service || !path) {
      problems.push(`${name}: loads the federation module but FEDERATION_DOWNSTREAMS_FILE is not set (deploy/federation-downstreams.json would reach no downstream server)`);
      continue;
    }
    const host = hostFile(service, path);
    if (!host) {
      problems.push(`${name}: FEDERATION_DOWNSTREAMS_FILE ${path} is on no bind mount (the read-only image holds no such file)`);
      continue;
    }
    if (!host.readOnly) problems.push(`${name}: the mount of ${path} must be read-only (:ro)`);
    files.set(name, host.file);
    if (!existsSync(host.file)) {
      problems.push(`${name}: FEDERATION_DOWNSTREAMS_FILE is mounted from ${host.file}, which does not exist`);
      continue;
    }
    try {
      parseDownstreams(JSON.parse(readFileSync(host.file, 'utf8')), false);
    } catch (e) {
      problems.push(`${name}: ${posix.relative(ROOT, host.file)}: ${(e as Error).message}`);
    }
  }
  if (new Set(files.values()).size > 1) problems.push(`the services that federate read different downstream registries: ${[...files].map(([s, f]) => `${s} ${f}`).join(', ')}`);
  problems.push(...agree(compose, readers, /^FEDERATION_(?!DOWNSTREAMS_FILE$)/));
  problems.push(...agree(compose, appsReadingOpenIdFederation().map(serviceOf).filter((s) => s !== undefined), /^OPENID_FEDERATION_/));
  return problems;
}
