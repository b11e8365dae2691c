import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import * as ts from 'typescript';
import { parseAllDocuments } from 'yaml';
import type { IObjectMeta } from '@kubernetes-models/apimachinery/apis/meta/v1/ObjectMeta';
import type { ILabelSelector } from '@kubernetes-models/apimachinery/apis/meta/v1/LabelSelector';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { ConfigMap, type IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service, type IService } from 'kubernetes-models/v1/Service';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';
import type { IPodTemplateSpec } from 'kubernetes-models/v1/PodTemplateSpec';
import { Deployment, type IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import { StatefulSet, type IStatefulSet } from 'kubernetes-models/apps/v1/StatefulSet';
import { Job, type IJob } from 'kubernetes-models/batch/v1/Job';
import { CronJob, type ICronJob } from 'kubernetes-models/batch/v1/CronJob';
import { HorizontalPodAutoscaler, type IHorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import type { IHorizontalPodAutoscalerSpec } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscalerSpec';
import { PodDisruptionBudget, type IPodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { Ingress, type IIngress } from 'kubernetes-models/networking.k8s.io/v1/Ingress';
import { NetworkPolicy, type INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import type { INetworkPolicyPort } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicyPort';
import { ConfigError, ENV_VARS, isKnownEnvVar, loadConfig, type AppName, type EnvVarName } from '@fpa/config';

/**
 * Checks on the rendered Kubernetes manifests (k8s/, README "Kubernetes"). Each check returns the
 * problems it found, one readable line each, so a test asserts `[]` and a mutation test can assert
 * that breaking one rule makes exactly that check speak up.
 */

const ROOT = join(__dirname, '..', '..');
export const NAMESPACE = 'first-party-auth';
/** The Secret the operator creates (k8s/README.md); manifests only reference it. */
export const SECRET_NAME = 'first-party-auth-secrets';
export const HTTP_APPS = ['registration', 'token', 'challenge', 'federation'] as const;
export type HttpApp = (typeof HTTP_APPS)[number];
type SuiteApp = HttpApp | 'cli';
const SUITE_IMAGE = /^ghcr\.io\/first-party-auth\/(registration|token|challenge|federation|cli)(?::[\w.-]+)?(?:@sha256:[0-9a-f]{64})?$/;

/** CONTRACT §1: the public paths and the service behind each. */
export const CONTRACT_ROUTES: Readonly<Record<string, HttpApp>> = {
  '/.well-known/oauth-authorization-server': 'token',
  '/jwks': 'token',
  '/register': 'registration',
  '/token': 'token',
  '/par': 'token',
  '/introspect': 'token',
  '/revoke': 'token',
  '/authorize-challenge': 'challenge',
  '/authorize': 'challenge',
  '/authorize/login': 'challenge',
  '/authorize/assets/login.js': 'challenge',
  '/federation/callback': 'federation',
  '/.well-known/openid-federation': 'federation',
};
/** Served by every app, never public (CONTRACT §1, README "Running the services separately"). */
export const NEVER_ROUTED = ['/metrics', '/health/live', '/health/ready', '/health', '/'];

/** libs/platform/src/bootstrap.ts: after SIGTERM an app exits on its own at most SHUTDOWN_GRACE_MS + 30 s later. */
const DRAIN_CEILING_MS = 30_000;
/** PostgreSQL keeps superuser_reserved_connections (default 3) out of max_connections. */
const PG_RESERVED_CONNECTIONS = 3;

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
const isSecretVar = (name: string): name is SecretVar => isKnownEnvVar(name) && (ENV_VARS[name] as { secret?: boolean }).secret === true;

// --- objects -------------------------------------------------------------------------------------

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata?: IObjectMeta;
  [field: string]: unknown;
}
type Validatable = new (data: never) => { validate(): void };

/** Every kind the manifests may contain: anything else (a CRD, a typo in apiVersion) is refused. */
const MODELS: Readonly<Record<string, Validatable>> = {
  'v1/Namespace': Namespace,
  'v1/ServiceAccount': ServiceAccount,
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret, // known so the "no Secret manifests" check names it; never allowed
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
  'apps/v1/StatefulSet': StatefulSet,
  'batch/v1/Job': Job,
  'batch/v1/CronJob': CronJob,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'networking.k8s.io/v1/Ingress': Ingress,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
};
const CLUSTER_SCOPED = new Set(['v1/Namespace']);

const keyOf = (o: K8sObject): string => `${o.apiVersion}/${o.kind}`;
const refOf = (o: K8sObject): string => `${o.kind}/${o.metadata?.name ?? '?'}`;

/** `kubectl kustomize k8s/overlays/<overlay>`, parsed. */
export function render(overlay: string): K8sObject[] {
  const dir = join(ROOT, 'k8s', 'overlays', overlay);
  let out: string;
  try {
    out = execFileSync('kubectl', ['kustomize', dir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 16 * 1024 * 1024 });
  } catch (e) {
    const err = e as { code?: string; stderr?: string; message: string };
    if (err.code === 'ENOENT') throw new Error('kubectl is not on PATH: the deployment checks render k8s/ with `kubectl kustomize` (kubectl ≥ 1.27, kustomize v5).');
    throw new Error(`kubectl kustomize k8s/overlays/${overlay} failed:\n${err.stderr ?? err.message}`);
  }
  const objects: K8sObject[] = [];
  for (const doc of parseAllDocuments(out)) {
    if (doc.errors.length > 0) throw new Error(`k8s/overlays/${overlay}: ${doc.errors[0].message}`);
    const obj = doc.toJS() as K8sObject | null;
    if (obj) objects.push(obj);
  }
  return objects;
}

// --- the index the checks read -------------------------------------------------------------------

export interface Workload {
  readonly ref: string;
  readonly owner: K8sObject;
  readonly template: IPodTemplateSpec;
  readonly pod: IPodSpec;
  readonly labels: Readonly<Record<string, string>>;
  readonly containers: readonly IContainer[];
  /** The suite app whose image it runs, if any (the only kind of container with app env rules). */
  readonly app: SuiteApp | undefined;
}

export interface Manifests {
  readonly objects: readonly K8sObject[];
  readonly workloads: readonly Workload[];
  readonly configMaps: ReadonlyMap<string, Readonly<Record<string, string>>>;
  readonly services: readonly IService[];
  readonly policies: readonly INetworkPolicy[];
}

function ofKind<T>(objects: readonly K8sObject[], key: string): T[] {
  return objects.filter((o) => keyOf(o) === key) as unknown as T[];
}

export function index(objects: readonly K8sObject[]): Manifests {
  const workloads: Workload[] = [];
  const add = (owner: K8sObject, template: IPodTemplateSpec | undefined): void => {
    const pod = template?.spec;
    if (!template || !pod) return;
    const containers = [...(pod.initContainers ?? []), ...pod.containers];
    const apps = new Set(containers.map((c) => SUITE_IMAGE.exec(c.image ?? '')?.[1] as SuiteApp | undefined).filter((a) => a !== undefined));
    workloads.push({ ref: refOf(owner), owner, template, pod, labels: template.metadata?.labels ?? {}, containers, app: apps.size === 1 ? [...apps][0] : undefined });
  };
  for (const o of objects) {
    if (keyOf(o) === 'apps/v1/Deployment') add(o, (o as unknown as IDeployment).spec?.template);
    if (keyOf(o) === 'apps/v1/StatefulSet') add(o, (o as unknown as IStatefulSet).spec?.template);
    if (keyOf(o) === 'batch/v1/Job') add(o, (o as unknown as IJob).spec?.template);
    if (keyOf(o) === 'batch/v1/CronJob') add(o, (o as unknown as ICronJob).spec?.jobTemplate.spec?.template);
  }
  const configMaps = new Map(ofKind<IConfigMap>(objects, 'v1/ConfigMap').map((c) => [c.metadata?.name ?? '', c.data ?? {}]));
  return { objects, workloads, configMaps, services: ofKind<IService>(objects, 'v1/Service'), policies: ofKind<INetworkPolicy>(objects, 'networking.k8s.io/v1/NetworkPolicy') };
}

const isSuite = (w: Workload): boolean => w.app !== undefined;
const isHttpApp = (w: Workload): boolean => w.app !== undefined && w.app !== 'cli';
const suiteContainer = (w: Workload): IContainer | undefined => w.containers.find((c) => SUITE_IMAGE.test(c.image ?? ''));

export function httpAppWorkload(m: Manifests, app: HttpApp): Workload | undefined {
  return m.workloads.find((w) => w.app === app && keyOf(w.owner) === 'apps/v1/Deployment');
}

function autoscaler(m: Manifests, w: Workload): { ref: string; spec: IHorizontalPodAutoscalerSpec } | undefined {
  for (const h of ofKind<IHorizontalPodAutoscaler>(m.objects, 'autoscaling/v2/HorizontalPodAutoscaler')) {
    const target = h.spec?.scaleTargetRef;
    if (h.spec && target?.kind === w.owner.kind && target.name === w.owner.metadata?.name) return { ref: `HorizontalPodAutoscaler/${h.metadata?.name}`, spec: h.spec };
  }
  return undefined;
}

// --- selectors and ports -------------------------------------------------------------------------

/** matchLabels only: the manifests keep selectors that simple so these checks can evaluate them. */
function selects(selector: ILabelSelector | undefined, labels: Readonly<Record<string, string>>): boolean {
  if (!selector) return false;
  if (selector.matchExpressions?.length) throw new Error('matchExpressions are not evaluated by these checks: use matchLabels');
  return Object.entries(selector.matchLabels ?? {}).every(([k, v]) => labels[k] === v);
}

function containerPort(c: IContainer, port: string | number | undefined): number | undefined {
  if (typeof port === 'number') return port;
  return c.ports?.find((p) => p.name === port)?.containerPort;
}

const asInt = (v: string | number | undefined, total: number): number | undefined => {
  if (v === undefined) return undefined;
  if (typeof v === 'number') return v;
  const pct = /^(\d+)%$/.exec(v);
  return pct ? Math.ceil((Number(pct[1]) / 100) * total) : Number.isInteger(Number(v)) ? Number(v) : undefined;
};

// --- environment -----------------------------------------------------------------------------------

type Source = 'configMap' | 'literal' | 'secret' | 'optionalSecret' | 'other';
interface ResolvedEnv {
  /** What loadConfig would see, with secret references replaced by samples. */
  readonly env: Record<string, string>;
  readonly sources: ReadonlyMap<string, Source>;
  readonly problems: readonly string[];
}

function resolveEnv(m: Manifests, where: string, c: IContainer): ResolvedEnv {
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

const SECRET_LIKE_NAME = /PASSWORD|PASSWD|SECRET|PRIVATE|CREDENTIAL|AUTHORIZATION|(^|_)TOKEN$|(^|_)KEY$|API_?KEY/i;
/** A URL with a password in it, or a long random-looking string (a key, a token). */
function looksSecret(value: string): boolean {
  return /:\/\/[^/\s@:]*:[^/\s@]+@/.test(value) || (/^(?!\/)[A-Za-z0-9+/_-]{32,}={0,2}$/.test(value) && /\d/.test(value));
}

// --- the checks ------------------------------------------------------------------------------------

/** Every object is of a known kind and valid against its Kubernetes schema, with no unknown field. */
export function checkSchemas(m: Manifests): string[] {
  const problems: string[] = [];
  for (const o of m.objects) {
    const Model = MODELS[keyOf(o)];
    if (!Model) {
      problems.push(`${refOf(o)}: unknown kind ${keyOf(o)} (allowed: ${Object.keys(MODELS).join(', ')})`);
      continue;
    }
    try {
      new Model(o as never).validate();
    } catch (e) {
      problems.push(`${refOf(o)}: ${(e as Error).message}`);
    }
    problems.push(...fieldChecker().unknownFields(keyOf(o), o).map((p) => `${refOf(o)}: ${p}`));
  }
  return problems;
}

/** One namespace, restricted by Pod Security Admission; no Secret manifests at all. */
export function checkNamespaceAndSecrets(m: Manifests): string[] {
  const problems: string[] = [];
  const ns = m.objects.find((o) => keyOf(o) === 'v1/Namespace' && o.metadata?.name === NAMESPACE);
  if (!ns) problems.push(`no Namespace ${NAMESPACE}`);
  else if (ns.metadata?.labels?.['pod-security.kubernetes.io/enforce'] !== 'restricted') problems.push(`Namespace ${NAMESPACE}: Pod Security Admission must enforce "restricted"`);
  for (const o of m.objects) {
    if (!CLUSTER_SCOPED.has(keyOf(o)) && o.metadata?.namespace !== NAMESPACE) problems.push(`${refOf(o)}: namespace ${o.metadata?.namespace ?? '(none)'}, expected ${NAMESPACE}`);
    if (o.kind === 'Secret') problems.push(`${refOf(o)}: Secret manifests are not allowed; reference ${SECRET_NAME}, which the operator creates`);
  }
  for (const [name, data] of m.configMaps) {
    for (const [k, v] of Object.entries(data)) {
      const secretName = isKnownEnvVar(k) ? isSecretVar(k) : SECRET_LIKE_NAME.test(k);
      if (secretName || looksSecret(v)) problems.push(`ConfigMap/${name}: ${k} holds a secret; it belongs in ${SECRET_NAME}`);
    }
  }
  return problems;
}

/** Security context, resources, images and volumes of every container in every pod template. */
export function checkPodSecurity(m: Manifests): string[] {
  const problems: string[] = [];
  for (const w of m.workloads) {
    const pod = w.pod;
    const psc = pod.securityContext ?? {};
    if (pod.automountServiceAccountToken !== false) problems.push(`${w.ref}: automountServiceAccountToken must be false`);
    if (pod.hostNetwork || pod.hostPID || pod.hostIPC) problems.push(`${w.ref}: shares a host namespace`);
    for (const v of pod.volumes ?? []) if (v.hostPath) problems.push(`${w.ref}: hostPath volume ${v.name}`);
    for (const c of w.containers) {
      const at = `${w.ref}/${c.name}`;
      const sc = c.securityContext ?? {};
      if ((sc.runAsNonRoot ?? psc.runAsNonRoot) !== true) problems.push(`${at}: runAsNonRoot must be true`);
      const uid = sc.runAsUser ?? psc.runAsUser;
      const gid = sc.runAsGroup ?? psc.runAsGroup;
      if (typeof uid !== 'number' || uid === 0) problems.push(`${at}: runAsUser must be a numeric non-root uid`);
      if (typeof gid !== 'number' || gid === 0) problems.push(`${at}: runAsGroup must be a numeric non-root gid`);
      if (sc.readOnlyRootFilesystem !== true) problems.push(`${at}: readOnlyRootFilesystem must be true`);
      if (sc.allowPrivilegeEscalation !== false) problems.push(`${at}: allowPrivilegeEscalation must be false`);
      if (sc.privileged === true) problems.push(`${at}: privileged`);
      if (!sc.capabilities?.drop?.includes('ALL')) problems.push(`${at}: capabilities must drop ALL`);
      if (sc.capabilities?.add?.length) problems.push(`${at}: adds capabilities ${sc.capabilities.add.join(', ')}`);
      if ((sc.seccompProfile ?? psc.seccompProfile)?.type !== 'RuntimeDefault') problems.push(`${at}: seccompProfile must be RuntimeDefault (pod or container)`);
      for (const kind of ['requests', 'limits'] as const) {
        for (const r of ['cpu', 'memory']) if (c.resources?.[kind]?.[r] === undefined) problems.push(`${at}: resources.${kind}.${r} missing`);
      }
      const image = c.image ?? '';
      if (!/[:@]/.test(image.split('/').pop() ?? '') || /:latest$/.test(image)) problems.push(`${at}: image ${image || '(none)'} needs a pinned tag or digest`);
    }
  }
  return problems;
}

/** The HTTP apps are probed on /health/live and /health/ready, on the port the app listens on (PORT). */
export function checkProbes(m: Manifests): string[] {
  const problems: string[] = [];
  for (const w of m.workloads.filter(isHttpApp)) {
    const c = suiteContainer(w)!;
    const at = `${w.ref}/${c.name}`;
    const port = Number(resolveEnv(m, at, c).env.PORT ?? ENV_VARS.PORT.default);
    const probes = { livenessProbe: '/health/live', readinessProbe: '/health/ready' } as const;
    for (const [probe, path] of Object.entries(probes) as [keyof typeof probes, string][]) {
      const get = c[probe]?.httpGet;
      if (!get) problems.push(`${at}: ${probe} must be an httpGet on ${path}`);
      else if (get.path !== path) problems.push(`${at}: ${probe} probes ${get.path ?? '/'}, expected ${path}`);
      else if (containerPort(c, get.port) !== port) problems.push(`${at}: ${probe} probes port ${get.port}, the app listens on ${port}`);
    }
    if (c.startupProbe?.httpGet && c.startupProbe.httpGet.path !== '/health/live') problems.push(`${at}: startupProbe should probe /health/live`);
    if (!c.ports?.some((p) => p.name === 'http' && p.containerPort === port)) problems.push(`${at}: no container port "http" = PORT ${port}`);
  }
  return problems;
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

/** Per HTTP app: rollout, graceful shutdown, Service, PodDisruptionBudget and HorizontalPodAutoscaler. */
export function checkAvailability(m: Manifests): string[] {
  const problems: string[] = [];
  const pdbs = ofKind<IPodDisruptionBudget>(m.objects, 'policy/v1/PodDisruptionBudget');
  for (const app of HTTP_APPS) {
    const w = httpAppWorkload(m, app);
    if (!w) {
      problems.push(`${app}: no Deployment runs ghcr.io/first-party-auth/${app}`);
      continue;
    }
    const d = w.owner as unknown as IDeployment;
    const name = d.metadata?.name ?? '';
    const c = suiteContainer(w)!;
    const env = resolveEnv(m, w.ref, c).env;
    const replicas = d.spec?.replicas ?? 1;
    if (replicas < 2) problems.push(`${w.ref}: replicas ${replicas}, at least 2`);

    const rolling = d.spec?.strategy?.rollingUpdate;
    if ((d.spec?.strategy?.type ?? 'RollingUpdate') !== 'RollingUpdate') problems.push(`${w.ref}: strategy must be RollingUpdate`);
    if (asInt(rolling?.maxUnavailable ?? '25%', replicas) !== 0) problems.push(`${w.ref}: rollingUpdate.maxUnavailable must be 0 (a rollout must never go below the PodDisruptionBudget)`);
    if ((asInt(rolling?.maxSurge ?? '25%', replicas) ?? 0) < 1) problems.push(`${w.ref}: rollingUpdate.maxSurge must be at least 1`);

    const graceMs = Number(env.SHUTDOWN_GRACE_MS ?? ENV_VARS.SHUTDOWN_GRACE_MS.default);
    const termMs = (w.pod.terminationGracePeriodSeconds ?? 30) * 1000;
    if (termMs <= graceMs + DRAIN_CEILING_MS) problems.push(`${w.ref}: terminationGracePeriodSeconds ${termMs / 1000} must exceed SHUTDOWN_GRACE_MS (${graceMs} ms) + the 30 s drain`);
    if (graceMs < 5000 && !c.lifecycle?.preStop) problems.push(`${w.ref}: SHUTDOWN_GRACE_MS ${graceMs} (or a preStop hook) must keep serving ≥ 5 s while the endpoint is removed`);

    const svc = m.services.find((s) => selects({ matchLabels: s.spec?.selector }, w.labels) && Object.keys(s.spec?.selector ?? {}).length > 0);
    if (!svc) problems.push(`${app}: no Service selects ${w.ref}'s pods`);
    else if (!svc.spec?.ports?.some((p) => containerPort(c, p.targetPort ?? p.port) === containerPort(c, 'http'))) problems.push(`Service/${svc.metadata?.name}: no port targets the http port`);

    const pdb = pdbs.find((p) => selects(p.spec?.selector, w.labels));
    if (!pdb) problems.push(`${app}: no PodDisruptionBudget selects ${w.ref}'s pods`);
    else {
      const { minAvailable, maxUnavailable } = pdb.spec ?? {};
      if (!(minAvailable === 1 || maxUnavailable === 1)) problems.push(`PodDisruptionBudget/${pdb.metadata?.name}: minAvailable 1 or maxUnavailable 1`);
      if (typeof minAvailable === 'number' && minAvailable >= replicas) problems.push(`PodDisruptionBudget/${pdb.metadata?.name}: minAvailable ${minAvailable} blocks every drain at ${replicas} replicas`);
    }

    const hpa = autoscaler(m, w);
    if (!hpa) problems.push(`${app}: no HorizontalPodAutoscaler targets Deployment/${name}`);
    else {
      const min = hpa.spec.minReplicas ?? 1;
      if (min < 2) problems.push(`${hpa.ref}: minReplicas ${min}, at least 2`);
      if (hpa.spec.maxReplicas < min) problems.push(`${hpa.ref}: maxReplicas below minReplicas`);
      if (replicas < min || replicas > hpa.spec.maxReplicas) problems.push(`${w.ref}: replicas ${replicas} outside the autoscaler's ${min}..${hpa.spec.maxReplicas}`);
      if (!hpa.spec.metrics?.some((x) => x.type === 'Resource' && x.resource?.name === 'cpu')) problems.push(`${hpa.ref}: no CPU metric`);
      if (!c.resources?.requests?.cpu) problems.push(`${w.ref}: a CPU autoscaler needs a CPU request`);
    }
  }
  return problems;
}

/** Which Service and port an Ingress sends a request path to (Exact, then the longest Prefix). */
export function route(ingress: IIngress, path: string): { service: string; port: string | number } | undefined {
  let best: { len: number; exact: boolean; service: string; port: string | number } | undefined;
  for (const rule of ingress.spec?.rules ?? []) {
    for (const p of rule.http?.paths ?? []) {
      const rp = p.path ?? '/';
      const exact = p.pathType === 'Exact';
      const segs = (s: string): string[] => s.split('/').filter(Boolean);
      const matches = exact ? rp === path : segs(rp).every((s, i) => segs(path)[i] === s);
      if (!matches) continue;
      const service = p.backend.service?.name ?? '';
      const port = p.backend.service?.port?.name ?? p.backend.service?.port?.number ?? '';
      const cand = { len: rp.length, exact, service, port };
      if (!best || (exact && !best.exact) || (exact === best.exact && cand.len > best.len)) best = cand;
    }
  }
  if (!best && ingress.spec?.defaultBackend?.service) return { service: ingress.spec.defaultBackend.service.name, port: ingress.spec.defaultBackend.service.port?.name ?? '' };
  return best && { service: best.service, port: best.port };
}

/** CONTRACT §1 paths go to their service's http port; /metrics and /health never leave the cluster; the host matches ISSUER. */
export function checkIngress(m: Manifests): string[] {
  const problems: string[] = [];
  const ingresses = ofKind<IIngress>(m.objects, 'networking.k8s.io/v1/Ingress');
  if (ingresses.length !== 1) return [`expected one Ingress, found ${ingresses.length}`];
  const ing = ingresses[0];
  for (const rule of ing.spec?.rules ?? []) {
    for (const p of rule.http?.paths ?? []) if (p.pathType === 'ImplementationSpecific') problems.push(`Ingress path ${p.path}: pathType ImplementationSpecific depends on the controller; use Exact or Prefix`);
  }
  for (const [path, app] of Object.entries(CONTRACT_ROUTES)) {
    const target = route(ing, path);
    const w = httpAppWorkload(m, app);
    const svc = m.services.find((s) => s.metadata?.name === target?.service);
    if (!target) problems.push(`Ingress: ${path} is not routed (CONTRACT §1: ${app})`);
    else if (!svc || !w || !selects({ matchLabels: svc.spec?.selector }, w.labels)) problems.push(`Ingress: ${path} goes to Service ${target.service}, not to the ${app} service`);
    else {
      const port = svc.spec?.ports?.find((p) => p.name === target.port || p.port === target.port);
      const c = suiteContainer(w)!;
      if (!port || containerPort(c, port.targetPort ?? port.port) !== containerPort(c, 'http')) problems.push(`Ingress: ${path} goes to port ${target.port} of Service ${target.service}, which is not the app's http port`);
    }
  }
  for (const path of NEVER_ROUTED) {
    const target = route(ing, path);
    if (target) problems.push(`Ingress: ${path} must not be public, it goes to Service ${target.service}`);
  }
  const token = httpAppWorkload(m, 'token');
  const issuer = new URL((token && resolveEnv(m, token.ref, suiteContainer(token)!).env.ISSUER) ?? 'http://localhost');
  const loopback = ['localhost', '127.0.0.1', '[::1]'].includes(issuer.hostname);
  if (!loopback) {
    const tlsHosts = new Set((ing.spec?.tls ?? []).flatMap((t) => t.hosts ?? []));
    for (const rule of ing.spec?.rules ?? []) {
      if (rule.host !== issuer.hostname) problems.push(`Ingress: rule host ${rule.host ?? '(any)'} is not the ISSUER host ${issuer.hostname}`);
    }
    if (issuer.protocol !== 'https:' || !tlsHosts.has(issuer.hostname)) problems.push(`Ingress: ${issuer.hostname} needs TLS (ISSUER ${issuer.href})`);
  }
  return problems;
}

function allows(ports: readonly INetworkPolicyPort[] | undefined, port: number, name?: string): boolean {
  return (ports ?? []).some((p) => p.port === port || (name !== undefined && p.port === name) || (p.endPort !== undefined && typeof p.port === 'number' && p.port <= port && port <= p.endPort));
}

/**
 * Default deny; the HTTP apps reachable only from the ingress controller and Prometheus; PostgreSQL
 * (5432) only from the suite's pods, Redis (6379) only from the HTTP apps; DNS for the suite's pods.
 */
export function checkNetworkPolicies(m: Manifests): string[] {
  const problems: string[] = [];
  const deny = m.policies.find(
    (p) =>
      Object.keys(p.spec?.podSelector.matchLabels ?? {}).length === 0 &&
      !p.spec?.podSelector.matchExpressions?.length &&
      p.spec?.policyTypes?.includes('Ingress') &&
      p.spec.policyTypes.includes('Egress') &&
      !p.spec.ingress?.length &&
      !p.spec.egress?.length,
  );
  if (!deny) problems.push('NetworkPolicy: no default-deny policy (podSelector {}, policyTypes Ingress and Egress, no rules)');

  for (const p of m.policies) {
    for (const r of p.spec?.ingress ?? []) {
      if (!r.from?.length) problems.push(`NetworkPolicy/${p.metadata?.name}: an ingress rule without "from" admits every source`);
      if (!r.ports?.length) problems.push(`NetworkPolicy/${p.metadata?.name}: an ingress rule without ports admits every port`);
    }
    for (const r of p.spec?.egress ?? []) if (!r.ports?.length) problems.push(`NetworkPolicy/${p.metadata?.name}: an egress rule without ports allows every port`);
  }

  const selecting = (w: Workload, type: 'Ingress' | 'Egress'): INetworkPolicy[] =>
    m.policies.filter((p) => selects(p.spec?.podSelector, w.labels) && (p.spec?.policyTypes ?? (type === 'Ingress' ? ['Ingress'] : [])).includes(type));
  const egressAllows = (w: Workload, port: number, protocol = 'TCP'): boolean =>
    selecting(w, 'Egress').some((p) => (p.spec?.egress ?? []).some((r) => allows(r.ports?.filter((x) => (x.protocol ?? 'TCP') === protocol), port)));

  for (const w of m.workloads) {
    const db = egressAllows(w, 5432);
    const redis = egressAllows(w, 6379);
    if (isSuite(w) && !db) problems.push(`${w.ref}: no egress to PostgreSQL (5432)`);
    if (!isSuite(w) && db) problems.push(`${w.ref}: egress to PostgreSQL (5432) is only for the suite's pods`);
    if (isHttpApp(w) && !redis) problems.push(`${w.ref}: no egress to Redis (6379)`);
    if (!isHttpApp(w) && redis) problems.push(`${w.ref}: egress to Redis (6379) is only for the HTTP apps`);
    if (isSuite(w) && !egressAllows(w, 53, 'UDP')) problems.push(`${w.ref}: no egress to DNS (53/UDP)`);

    const c = suiteContainer(w);
    if (isHttpApp(w) && c) {
      const httpPort = containerPort(c, 'http');
      let fromIngressController = false;
      for (const p of selecting(w, 'Ingress')) {
        for (const r of p.spec?.ingress ?? []) {
          for (const peer of r.from ?? []) {
            const ns = peer.namespaceSelector?.matchLabels?.['kubernetes.io/metadata.name'];
            if (peer.ipBlock || peer.podSelector || (ns !== 'ingress-nginx' && ns !== 'monitoring')) problems.push(`NetworkPolicy/${p.metadata?.name}: ${w.ref} admits ${JSON.stringify(peer)}; only the ingress-nginx and monitoring namespaces`);
            if (ns === 'ingress-nginx' && allows(r.ports, httpPort ?? -1, 'http')) fromIngressController = true;
          }
          if ((r.ports ?? []).some((x) => x.port !== 'http' && x.port !== httpPort)) problems.push(`NetworkPolicy/${p.metadata?.name}: ${w.ref} admits a port other than http`);
        }
      }
      if (!fromIngressController) problems.push(`${w.ref}: the ingress controller (namespace ingress-nginx) cannot reach the http port`);
    }
  }

  // Whoever accepts PostgreSQL or Redis connections (the dev overlay's stores) accepts them only from the suite's pods.
  for (const p of m.policies) {
    for (const r of p.spec?.ingress ?? []) {
      if (!allows(r.ports, 5432, 'postgres') && !allows(r.ports, 6379, 'redis')) continue;
      for (const peer of r.from ?? []) {
        const admitted = m.workloads.filter((w) => peer.podSelector && selects(peer.podSelector, w.labels));
        if (peer.ipBlock || peer.namespaceSelector || !peer.podSelector || admitted.some((w) => !isSuite(w))) {
          problems.push(`NetworkPolicy/${p.metadata?.name}: the stores admit ${JSON.stringify(peer)}; only the suite's pods`);
        }
      }
    }
  }
  return problems;
}

/** The CLI's scheduled commands (the CronJobs): each must exist and never overlap itself. */
export const CLI_CRONJOBS: readonly (readonly string[])[] = [
  ['keys', 'rotate'],
  ['janitor'],
];

/** The migration Job and the CronJobs (key rotation, the janitor) run the CLI; no CronJob overlaps itself. */
export function checkJobs(m: Manifests): string[] {
  const problems: string[] = [];
  const cli = m.workloads.filter((w) => w.app === 'cli');
  const runs = (w: Workload, args: readonly string[]): boolean => {
    const c = suiteContainer(w)!;
    return [...(c.command ?? []), ...(c.args ?? [])].join(' ').endsWith(args.join(' '));
  };
  const migrate = cli.find((w) => keyOf(w.owner) === 'batch/v1/Job' && runs(w, ['migration', 'run']));
  if (!migrate) problems.push('no Job runs `migration run`');
  for (const args of CLI_CRONJOBS) {
    const job = cli.find((w) => keyOf(w.owner) === 'batch/v1/CronJob' && runs(w, args));
    if (!job) problems.push(`no CronJob runs \`${args.join(' ')}\``);
    else if ((job.owner as unknown as ICronJob).spec?.concurrencyPolicy !== 'Forbid') problems.push(`${job.ref}: concurrencyPolicy must be Forbid`);
  }
  for (const w of cli) if (!['Never', 'OnFailure'].includes(w.pod.restartPolicy ?? '')) problems.push(`${w.ref}: restartPolicy must be Never or OnFailure`);
  return problems;
}

/** An in-cluster PostgreSQL accepts every pool at once: the HTTP apps at their autoscaler maximum plus surge, and the CLI jobs. */
export function checkDatabaseCapacity(m: Manifests): string[] {
  const pg = m.workloads.find((w) => w.containers.some((c) => /^postgres:/.test(c.image ?? '')));
  if (!pg) return [];
  const args = pg.containers.flatMap((c) => [...(c.command ?? []), ...(c.args ?? [])]).join(' ');
  const maxConnections = Number(/max_connections=(\d+)/.exec(args)?.[1] ?? 100);
  let total = 0;
  for (const w of m.workloads.filter(isSuite)) {
    const pool = Number(resolveEnv(m, w.ref, suiteContainer(w)!).env.DATABASE_POOL_SIZE ?? ENV_VARS.DATABASE_POOL_SIZE.default);
    const d = w.owner as unknown as IDeployment;
    const most = autoscaler(m, w)?.spec.maxReplicas ?? d.spec?.replicas ?? 1;
    const pods = w.owner.kind === 'Deployment' ? most + (asInt(d.spec?.strategy?.rollingUpdate?.maxSurge ?? '25%', most) ?? 0) : 1;
    total += pods * pool;
  }
  return total > maxConnections - PG_RESERVED_CONNECTIONS ? [`PostgreSQL max_connections ${maxConnections} is below the ${total} connections the pools may open`] : [];
}

/** Without an in-cluster PostgreSQL the database is a managed service: TLS to it, images pinned by digest. */
export function checkExternalStores(m: Manifests): string[] {
  const problems: string[] = [];
  if (m.workloads.some((w) => w.containers.some((c) => /^postgres:/.test(c.image ?? '')))) return problems;
  for (const w of m.workloads.filter(isSuite)) {
    const c = suiteContainer(w)!;
    const env = resolveEnv(m, w.ref, c).env;
    if (env.DATABASE_SSL !== 'true') problems.push(`${w.ref}: DATABASE_SSL must be true for a managed PostgreSQL`);
    if (!/@sha256:[0-9a-f]{64}$/.test(c.image ?? '')) problems.push(`${w.ref}: image ${c.image} must be pinned by digest`);
  }
  return problems;
}

export const ALL_CHECKS = {
  checkSchemas,
  checkNamespaceAndSecrets,
  checkPodSecurity,
  checkProbes,
  checkEnvironment,
  checkAvailability,
  checkIngress,
  checkNetworkPolicies,
  checkJobs,
  checkDatabaseCapacity,
  checkExternalStores,
} as const;

// --- unknown fields --------------------------------------------------------------------------------

/**
 * kubernetes-models validates types and required fields but lets unknown fields through, where the API
 * server (kubectl's default --validate=strict) refuses them. The models' TypeScript declarations list
 * every field, so the TypeScript checker walks each object against its kind's interface.
 */
class FieldChecker {
  private readonly checker: ts.TypeChecker;
  private readonly roots = new Map<string, ts.Type>();

  constructor(keys: readonly string[]) {
    const fileName = join(ROOT, 'test', 'support', '__k8s-kinds__.ts');
    const source = keys
      .map((key, i) => {
        const kind = key.slice(key.lastIndexOf('/') + 1);
        return `import type { I${kind} as T${i} } from 'kubernetes-models/${key}';\nexport type K${i} = T${i};`;
      })
      .join('\n');
    const options: ts.CompilerOptions = { noEmit: true, strict: true, skipLibCheck: true, types: [], target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.CommonJS, moduleResolution: ts.ModuleResolutionKind.Node10, lib: ['lib.es2022.d.ts'] };
    const host = ts.createCompilerHost(options);
    const { getSourceFile, fileExists, readFile } = host;
    host.getSourceFile = (name, lang, ...rest) => (name === fileName ? ts.createSourceFile(name, source, lang) : getSourceFile.call(host, name, lang, ...rest));
    host.fileExists = (name) => name === fileName || fileExists.call(host, name);
    host.readFile = (name) => (name === fileName ? source : readFile.call(host, name));
    const program = ts.createProgram([fileName], options, host);
    this.checker = program.getTypeChecker();
    const file = program.getSourceFile(fileName)!;
    let i = 0;
    for (const statement of file.statements) {
      if (ts.isTypeAliasDeclaration(statement)) this.roots.set(keys[i++], this.checker.getTypeAtLocation(statement.name));
    }
  }

  unknownFields(key: string, value: unknown): string[] {
    const root = this.roots.get(key);
    const out: string[] = [];
    if (root) this.walk(value, root, '', out);
    return out;
  }

  private walk(value: unknown, declared: ts.Type, path: string, out: string[]): void {
    if (value === null || typeof value !== 'object') return;
    let type = this.checker.getNonNullableType(declared);
    if (type.flags & (ts.TypeFlags.Any | ts.TypeFlags.Unknown)) return;
    if (type.isUnion()) {
      const objects = type.types.filter((t) => t.flags & ts.TypeFlags.Object);
      if (objects.length !== 1) return;
      type = objects[0];
    }
    if (Array.isArray(value)) {
      const element = this.checker.getIndexTypeOfType(type, ts.IndexKind.Number);
      if (element) value.forEach((v, i) => this.walk(v, element, `${path}[${i}]`, out));
      return;
    }
    const anyKey = this.checker.getIndexTypeOfType(type, ts.IndexKind.String);
    for (const [k, v] of Object.entries(value)) {
      const prop = this.checker.getPropertyOfType(type, k);
      if (prop) this.walk(v, this.checker.getTypeOfSymbol(prop), `${path}.${k}`, out);
      else if (anyKey) this.walk(v, anyKey, `${path}.${k}`, out);
      else out.push(`unknown field ${path.slice(1) ? `${path.slice(1)}.` : ''}${k}`);
    }
  }
}

let fields: FieldChecker | undefined;
function fieldChecker(): FieldChecker {
  fields ??= new FieldChecker(Object.keys(MODELS));
  return fields;
}
