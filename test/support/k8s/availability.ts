import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import type { IPodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { ENV_VARS } from '@fpa/config';
import { resolveEnv } from './environment';
import { asInt, autoscaler, containerPort, HTTP_APPS, httpAppWorkload, isHttpApp, ofKind, selects, suiteContainer, type Manifests } from './manifests';

/** Availability: health probes, rollouts, graceful shutdown, and a Service, PodDisruptionBudget and autoscaler per HTTP app. */

/** libs/platform/src/bootstrap.ts: after SIGTERM an app exits on its own at most SHUTDOWN_GRACE_MS + 30 s later. */
const DRAIN_CEILING_MS = 30_000;

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
