import { isKnownEnvVar } from '@fpa/config';
import { isSecretVar, looksSecret, SECRET_LIKE_NAME } from './environment';
import { NAMESPACE, SECRET_NAME, type Manifests } from './manifests';
import { keyOf, refOf } from './render';

/** Security: the namespace and its Pod Security level, Secret references only, and every container's security context, resources and image. */

const CLUSTER_SCOPED = new Set(['v1/Namespace']);

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
