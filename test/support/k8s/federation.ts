import { posix } from 'node:path';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { INetworkPolicyPeer } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicyPeer';
import { parseDownstreams } from '@fpa/federation';
import { appsReadingDownstreams, appsReadingOpenIdFederation, type SuiteHttpApp } from '../app-modules';
import { resolveEnv } from './environment';
import { httpAppWorkload, selects, suiteContainer, type Manifests, type Workload } from './manifests';
import { allows } from './network-policies';

/**
 * Federation (issue 10): the apps that load FederationModule (derived from their root modules) get the
 * downstream registry as a read-only ConfigMap file that the apps' own parser accepts in production, the
 * same file for all of them; the apps that read FEDERATION_* or OPENID_FEDERATION_* agree on every value;
 * the apps that call downstream servers or OpenID Federation entities may reach public HTTPS, and only that.
 */

/** Where a container's file comes from: the ConfigMap and key behind the mount that holds `path`. */
export interface MountedFile {
  readonly configMap: string;
  readonly key: string;
  readonly readOnly: boolean;
}

/** The ConfigMap key a path inside a container resolves to, or why it resolves to none. */
export function mountedFile(w: Workload, c: IContainer, path: string): MountedFile | string {
  const mount = (c.volumeMounts ?? []).filter((v) => path === v.mountPath || path.startsWith(`${v.mountPath.replace(/\/+$/, '')}/`)).sort((a, b) => b.mountPath.length - a.mountPath.length)[0];
  if (!mount) return `${path} is on no mounted volume (the root filesystem is read-only and holds no such file)`;
  const volume = w.pod.volumes?.find((v) => v.name === mount.name);
  const cm = volume?.configMap;
  if (!cm?.name) return `${path} is on volume ${mount.name}, which is not a ConfigMap`;
  const inVolume = mount.subPath ? posix.join(mount.subPath, posix.relative(mount.mountPath, path)) : posix.relative(mount.mountPath, path);
  const key = cm.items ? cm.items.find((i) => i.path === inVolume)?.key : inVolume;
  if (key === undefined) return `${path} is not among the items of ConfigMap ${cm.name}`;
  return { configMap: cm.name, key, readOnly: mount.readOnly === true };
}

const shown = (v: string | undefined): string => (v === undefined ? 'unset' : JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v));

function agree(m: Manifests, apps: readonly SuiteHttpApp[], names: RegExp): string[] {
  const envs = apps.flatMap((app) => {
    const w = httpAppWorkload(m, app);
    const c = w && suiteContainer(w);
    return w && c ? [{ app, env: resolveEnv(m, w.ref, c).env }] : [];
  });
  const keys = new Set(envs.flatMap((e) => Object.keys(e.env).filter((k) => names.test(k))));
  const problems: string[] = [];
  for (const k of [...keys].sort()) {
    const values = new Set(envs.map((e) => e.env[k]));
    if (values.size > 1) problems.push(`${k} differs between ${apps.join(', ')}: ${envs.map((e) => `${e.app} ${shown(e.env[k])}`).join(', ')} (set it in the ConfigMap first-party-auth-config)`);
  }
  return problems;
}

const PRIVATE_V4 = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '169.254.0.0/16', '127.0.0.0/8'];

function httpsEgress(m: Manifests, w: Workload): INetworkPolicyPeer[] | 'anywhere' {
  const peers: INetworkPolicyPeer[] = [];
  for (const p of m.policies) {
    if (!selects(p.spec?.podSelector, w.labels) || !(p.spec?.policyTypes ?? []).includes('Egress')) continue;
    for (const r of p.spec?.egress ?? []) {
      if (!allows(r.ports?.filter((x) => (x.protocol ?? 'TCP') === 'TCP'), 443)) continue;
      if (!r.to?.length) return 'anywhere';
      peers.push(...r.to);
    }
  }
  return peers;
}

export function checkFederation(m: Manifests): string[] {
  const problems: string[] = [];
  const readers = appsReadingDownstreams();
  const registries = new Map<string, string>();
  for (const app of readers) {
    const w = httpAppWorkload(m, app);
    const c = w && suiteContainer(w);
    if (!w || !c) continue;
    const at = `${w.ref}/${c.name}`;
    const file = resolveEnv(m, at, c).env.FEDERATION_DOWNSTREAMS_FILE;
    if (!file) {
      problems.push(`${at}: loads the federation module but FEDERATION_DOWNSTREAMS_FILE is not set (the ConfigMap federation-downstreams would reach no downstream server)`);
      continue;
    }
    const where = mountedFile(w, c, file);
    if (typeof where === 'string') {
      problems.push(`${at}: FEDERATION_DOWNSTREAMS_FILE ${where}`);
      continue;
    }
    if (!where.readOnly) problems.push(`${at}: the mount of ${file} must be readOnly`);
    registries.set(app, `${where.configMap}/${where.key}`);
    const content = m.configMaps.get(where.configMap)?.[where.key];
    if (content === undefined) {
      problems.push(`${at}: FEDERATION_DOWNSTREAMS_FILE names ConfigMap ${where.configMap} key ${where.key}, which is not in the manifests`);
      continue;
    }
    try {
      parseDownstreams(JSON.parse(content), false);
    } catch (e) {
      problems.push(`ConfigMap/${where.configMap} ${where.key} (read by ${app}): ${(e as Error).message}`);
    }
  }
  if (new Set(registries.values()).size > 1) problems.push(`the apps that federate read different downstream registries: ${[...registries].map(([a, r]) => `${a} ${r}`).join(', ')}`);

  // The file's path may differ between pods; what it holds is compared above.
  problems.push(...agree(m, readers, /^FEDERATION_(?!DOWNSTREAMS_FILE$)/));
  problems.push(...agree(m, appsReadingOpenIdFederation(), /^OPENID_FEDERATION_/));

  for (const app of new Set([...readers, ...appsReadingOpenIdFederation()])) {
    const w = httpAppWorkload(m, app);
    if (!w) continue;
    const peers = httpsEgress(m, w);
    if (peers === 'anywhere') {
      problems.push(`${w.ref}: egress to 443 without "to" reaches the cluster and private networks too; allow public addresses only`);
      continue;
    }
    const publicV4 = peers.filter((p) => p.ipBlock?.cidr === '0.0.0.0/0');
    if (publicV4.length === 0) problems.push(`${w.ref}: calls downstream servers or OpenID Federation entities, but no NetworkPolicy lets it reach public addresses on 443`);
    for (const p of publicV4) {
      const missing = PRIVATE_V4.filter((r) => !(p.ipBlock?.except ?? []).includes(r));
      if (missing.length > 0) problems.push(`${w.ref}: its 443 egress to 0.0.0.0/0 does not except ${missing.join(', ')} (private networks, cloud metadata)`);
    }
  }
  return problems;
}

/**
 * The example downstream registry commented in a kustomization file: the JSON array written as comment
 * lines (`#   [` … `#   ]`), uncommented, so the test can hold the documented example to the apps' parser.
 */
export function commentedJsonArray(text: string): unknown {
  const lines = text.split('\n').filter((l) => /^\s*#/.test(l)).map((l) => l.replace(/^\s*#/, ''));
  const start = lines.findIndex((l) => l.trim() === '[');
  const end = lines.findIndex((l, i) => i > start && l.trim() === ']');
  if (start < 0 || end < 0) throw new Error('no commented JSON array ([ … ] on lines of their own)');
  return JSON.parse(lines.slice(start, end + 1).join('\n'));
}
