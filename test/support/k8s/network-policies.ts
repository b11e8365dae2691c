import type { INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import type { INetworkPolicyPort } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicyPort';
import { containerPort, isHttpApp, isSuite, selects, suiteContainer, type Manifests, type Workload } from './manifests';

/** Network policies: default deny and the few connections the suite needs. */

export function allows(ports: readonly INetworkPolicyPort[] | undefined, port: number, name?: string): boolean {
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
