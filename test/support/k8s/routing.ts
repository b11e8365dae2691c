import type { IIngress } from 'kubernetes-models/networking.k8s.io/v1/Ingress';
import { resolveEnv } from './environment';
import { containerPort, httpAppWorkload, ofKind, selects, suiteContainer, type HttpApp, type Manifests } from './manifests';

/** Routing: the Ingress sends the CONTRACT §1 paths to their services and keeps the internal ones in the cluster. */

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
  '/openapi.json': 'challenge',
  '/docs': 'challenge',
  '/docs/swagger-ui.css': 'challenge',
  '/federation/callback': 'federation',
  '/federation/jwks': 'federation',
  '/.well-known/openid-federation': 'federation',
};
/** Served by every app, never public (CONTRACT §1, README "Running the services separately"). */
export const NEVER_ROUTED = ['/metrics', '/health/live', '/health/ready', '/health', '/'];

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
