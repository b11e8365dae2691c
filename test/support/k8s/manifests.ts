import type { ILabelSelector } from '@kubernetes-models/apimachinery/apis/meta/v1/LabelSelector';
import type { IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import type { IService } from 'kubernetes-models/v1/Service';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';
import type { IPodTemplateSpec } from 'kubernetes-models/v1/PodTemplateSpec';
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import type { IStatefulSet } from 'kubernetes-models/apps/v1/StatefulSet';
import type { IJob } from 'kubernetes-models/batch/v1/Job';
import type { ICronJob } from 'kubernetes-models/batch/v1/CronJob';
import type { IHorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import type { IHorizontalPodAutoscalerSpec } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscalerSpec';
import type { INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import { keyOf, refOf, type K8sObject } from './render';

/** The index every check reads: the workloads (pod templates) and the suite app each runs, with selector and port helpers. */

export const NAMESPACE = 'first-party-auth';
/** The Secret the operator creates (k8s/README.md); manifests only reference it. */
export const SECRET_NAME = 'first-party-auth-secrets';
export const HTTP_APPS = ['registration', 'token', 'challenge', 'federation'] as const;
export type HttpApp = (typeof HTTP_APPS)[number];
export type SuiteApp = HttpApp | 'cli';
export const SUITE_IMAGE = /^ghcr\.io\/first-party-auth\/(registration|token|challenge|federation|cli)(?::[\w.-]+)?(?:@sha256:[0-9a-f]{64})?$/;

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

export function ofKind<T>(objects: readonly K8sObject[], key: string): T[] {
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

export const isSuite = (w: Workload): boolean => w.app !== undefined;
export const isHttpApp = (w: Workload): boolean => w.app !== undefined && w.app !== 'cli';
export const suiteContainer = (w: Workload): IContainer | undefined => w.containers.find((c) => SUITE_IMAGE.test(c.image ?? ''));

export function httpAppWorkload(m: Manifests, app: HttpApp): Workload | undefined {
  return m.workloads.find((w) => w.app === app && keyOf(w.owner) === 'apps/v1/Deployment');
}

export function autoscaler(m: Manifests, w: Workload): { ref: string; spec: IHorizontalPodAutoscalerSpec } | undefined {
  for (const h of ofKind<IHorizontalPodAutoscaler>(m.objects, 'autoscaling/v2/HorizontalPodAutoscaler')) {
    const target = h.spec?.scaleTargetRef;
    if (h.spec && target?.kind === w.owner.kind && target.name === w.owner.metadata?.name) return { ref: `HorizontalPodAutoscaler/${h.metadata?.name}`, spec: h.spec };
  }
  return undefined;
}

// --- selectors and ports -------------------------------------------------------------------------

/** matchLabels only: the manifests keep selectors that simple so these checks can evaluate them. */
export function selects(selector: ILabelSelector | undefined, labels: Readonly<Record<string, string>>): boolean {
  if (!selector) return false;
  if (selector.matchExpressions?.length) throw new Error('matchExpressions are not evaluated by these checks: use matchLabels');
  return Object.entries(selector.matchLabels ?? {}).every(([k, v]) => labels[k] === v);
}

export function containerPort(c: IContainer, port: string | number | undefined): number | undefined {
  if (typeof port === 'number') return port;
  return c.ports?.find((p) => p.name === port)?.containerPort;
}

export const asInt = (v: string | number | undefined, total: number): number | undefined => {
  if (v === undefined) return undefined;
  if (typeof v === 'number') return v;
  const pct = /^(\d+)%$/.exec(v);
  return pct ? Math.ceil((Number(pct[1]) / 100) * total) : Number.isInteger(Number(v)) ? Number(v) : undefined;
};
