import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import type { IIngress } from 'kubernetes-models/networking.k8s.io/v1/Ingress';
import type { INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseDownstreams } from '@fpa/federation';
import { appsReadingDownstreams, appsReadingOpenIdFederation } from '../support/app-modules';
import { resolveEnv } from '../support/k8s/environment';
import {
  ALL_CHECKS,
  CLI_CRONJOBS,
  CONTRACT_ROUTES,
  HTTP_APPS,
  checkAvailability,
  checkEnvironment,
  checkFederation,
  checkIngress,
  checkNamespaceAndSecrets,
  checkNetworkPolicies,
  checkPodSecurity,
  checkProbes,
  checkSchemas,
  commentedJsonArray,
  httpAppWorkload,
  index,
  render,
  route,
  suiteContainer,
  type K8sObject,
  type Manifests,
} from '../support/k8s';

/**
 * The Kubernetes manifests (k8s/): each overlay renders with `kubectl kustomize`, every object is a
 * valid Kubernetes object of a known kind, and the deployment rules hold — security context, probes,
 * resources, Secret references only, the environment the apps validate (ENV_VARS, loadConfig in
 * production), rollouts that never drop below the PodDisruptionBudget, the CONTRACT §1 routes and the
 * NetworkPolicies. No cluster needed. The "mutations" block proves each check fails when its rule breaks.
 */

const OVERLAYS = ['dev', 'prod'] as const;
const rendered = new Map<string, K8sObject[]>();
const manifests = (overlay: string): Manifests => index(rendered.get(overlay)!);

beforeAll(() => {
  for (const overlay of OVERLAYS) rendered.set(overlay, render(overlay));
});

describe.each(OVERLAYS)('k8s/overlays/%s', (overlay) => {
  it('renders the four apps, the migration Job, the rotation and janitor CronJobs, the Ingress and the NetworkPolicies', () => {
    const m = manifests(overlay);
    for (const app of HTTP_APPS) expect(httpAppWorkload(m, app)).toBeDefined();
    const cronJobs = m.workloads.filter((w) => w.owner.kind === 'CronJob' && w.app === 'cli').map((w) => w.containers[0].args?.join(' '));
    expect(cronJobs.sort()).toEqual(CLI_CRONJOBS.map((a) => a.join(' ')).sort());
    const kinds = m.objects.map((o) => o.kind);
    for (const kind of ['Namespace', 'ConfigMap', 'Service', 'HorizontalPodAutoscaler', 'PodDisruptionBudget', 'Job', 'CronJob', 'Ingress', 'NetworkPolicy']) expect(kinds).toContain(kind);
  });

  it('every object is of a known kind, valid against its Kubernetes schema, with no unknown field', () => {
    expect(checkSchemas(manifests(overlay))).toEqual([]);
  });

  it('one restricted namespace, and no Secret manifest: only references to the operator-made Secret', () => {
    expect(checkNamespaceAndSecrets(manifests(overlay))).toEqual([]);
  });

  it('every container: non-root, read-only root filesystem, no privilege escalation, capabilities dropped, RuntimeDefault seccomp, resources, pinned image', () => {
    expect(checkPodSecurity(manifests(overlay))).toEqual([]);
  });

  it('the HTTP apps are probed on /health/live and /health/ready at their PORT', () => {
    expect(checkProbes(manifests(overlay))).toEqual([]);
  });

  it('the suite sets only ENV_VARS names, takes every secret from a secretKeyRef, and its environment passes loadConfig in production', () => {
    expect(checkEnvironment(manifests(overlay))).toEqual([]);
  });

  it('rollouts keep every old pod until a new one is ready; shutdown grace; a Service, PDB and CPU autoscaler per app', () => {
    expect(checkAvailability(manifests(overlay))).toEqual([]);
  });

  it('the Ingress routes every CONTRACT §1 path to its service and never /metrics or /health', () => {
    expect(checkIngress(manifests(overlay))).toEqual([]);
  });

  it('NetworkPolicies: default deny, ingress only from ingress-nginx and monitoring, PostgreSQL and Redis only for the suite', () => {
    expect(checkNetworkPolicies(manifests(overlay))).toEqual([]);
  });

  it('federation (issue 10): every app loading the federation module mounts the downstream registry read-only from a ConfigMap its parser accepts; FEDERATION_* and OPENID_FEDERATION_* agree; public HTTPS egress only', () => {
    expect(checkFederation(manifests(overlay))).toEqual([]);
  });

  it('the OpenID Federation settings of config.env (uncommented) reach token, challenge and federation, and loadConfig takes them', () => {
    const commented = readFileSync(join(__dirname, '..', '..', 'k8s', 'base', 'config.env'), 'utf8')
      .split('\n')
      .map((l) => /^#(OPENID_FEDERATION_[A-Z_]+)=(.+)$/.exec(l))
      .filter((x) => x !== null);
    expect(commented.map((x) => x[1]).sort()).toEqual(['OPENID_FEDERATION_AUTHORITY_HINTS', 'OPENID_FEDERATION_ORGANIZATION_NAME', 'OPENID_FEDERATION_TRUST_ANCHORS']);
    const objects = structuredClone(rendered.get(overlay)!);
    const cm = objects.find((o) => o.kind === 'ConfigMap' && o.metadata?.name?.startsWith('first-party-auth-config-')) as unknown as { data: Record<string, string> };
    for (const [, name, value] of commented) cm.data[name] = value;
    const m = index(objects);
    expect(appsReadingOpenIdFederation().sort()).toEqual(['challenge', 'federation', 'token']);
    for (const app of appsReadingOpenIdFederation()) {
      const w = httpAppWorkload(m, app)!;
      const env = resolveEnv(m, w.ref, suiteContainer(w)!).env;
      for (const [, name, value] of commented) expect([app, name, env[name]]).toEqual([app, name, value]);
    }
    expect([...checkEnvironment(m), ...checkFederation(m)]).toEqual([]);
  });

  it('the migration Job, the key-rotation and janitor CronJobs, database capacity and the managed-store rules', () => {
    const m = manifests(overlay);
    expect([...ALL_CHECKS.checkJobs(m), ...ALL_CHECKS.checkDatabaseCapacity(m), ...ALL_CHECKS.checkExternalStores(m)]).toEqual([]);
  });
});

describe('the downstream registry (FEDERATION_DOWNSTREAMS_FILE) in k8s/base', () => {
  const base = join(__dirname, '..', '..', 'k8s', 'base');

  it('is read by exactly the apps that load the federation module: challenge and federation', () => {
    expect(appsReadingDownstreams().sort()).toEqual(['challenge', 'federation']);
  });

  it('ships empty: the ConfigMap federation-downstreams holds [] (nobody federates until an overlay registers a server)', () => {
    const m = manifests('prod');
    const name = [...m.configMaps.keys()].find((n) => n.startsWith('federation-downstreams-'));
    expect(name).toBeDefined();
    expect(parseDownstreams(JSON.parse(m.configMaps.get(name!)!['downstreams.json']), false)).toEqual([]);
  });

  it('the example commented in kustomization.yaml passes the apps’ parser with production rules (https only)', () => {
    const example = parseDownstreams(commentedJsonArray(readFileSync(join(base, 'kustomization.yaml'), 'utf8')), false);
    expect(example.map((d) => [d.issuer, d.clientId, d.hosts])).toEqual([['https://as.bank-b.example', 'suite-at-bank-b', ['as.bank-b.example', 'login.bank-b.example']]]);
  });
});

describe('overlay differences', () => {
  const images = (overlay: string): string[] => manifests(overlay).workloads.flatMap((w) => w.containers.map((c) => c.image ?? ''));

  it('dev runs PostgreSQL, Redis and a mail catcher in the namespace; prod runs none of them', () => {
    expect(images('dev')).toEqual(expect.arrayContaining([expect.stringMatching(/^postgres:/), expect.stringMatching(/^redis:/), expect.stringMatching(/mailpit/)]));
    expect(images('prod').filter((i) => !i.startsWith('ghcr.io/first-party-auth/'))).toEqual([]);
  });

  it('prod: images by digest, a TLS host from cert-manager, at least 3 replicas of the busy apps', () => {
    const m = manifests('prod');
    expect(images('prod').every((i) => /@sha256:[0-9a-f]{64}$/.test(i))).toBe(true);
    const ing = m.objects.find((o) => o.kind === 'Ingress') as unknown as IIngress;
    expect(ing.metadata?.annotations?.['cert-manager.io/cluster-issuer']).toBeDefined();
    expect(ing.spec?.tls?.[0]?.hosts).toEqual([ing.spec?.rules?.[0]?.host]);
    for (const app of ['token', 'registration', 'challenge'] as const) expect((httpAppWorkload(m, app)!.owner as unknown as IDeployment).spec?.replicas).toBeGreaterThanOrEqual(3);
  });

  it('the Ingress router used by the checks reads Exact before Prefix and segment-wise prefixes', () => {
    const ing: IIngress = {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'Ingress',
      spec: {
        rules: [
          {
            http: {
              paths: [
                { path: '/fed', pathType: 'Prefix', backend: { service: { name: 'a', port: { name: 'http' } } } },
                { path: '/token', pathType: 'Exact', backend: { service: { name: 'b', port: { name: 'http' } } } },
                { path: '/', pathType: 'Prefix', backend: { service: { name: 'c', port: { number: 80 } } } },
              ],
            },
          },
        ],
      },
    };
    expect(route(ing, '/token')?.service).toBe('b');
    expect(route(ing, '/fed/x')?.service).toBe('a');
    expect(route(ing, '/federation')?.service).toBe('c');
    expect(route(ing, '/metrics')?.service).toBe('c');
  });
});

/** Each rule, broken on purpose in a copy of the dev or prod render: the check that guards it must say so. */
describe('mutations: every check fails when its rule breaks', () => {
  type Find = <T>(kind: string, name: string) => T;
  const mutate = (overlay: string, change: (find: Find, objects: K8sObject[]) => void): Manifests => {
    const objects = structuredClone(rendered.get(overlay)!);
    const find: Find = <T>(kind: string, name: string): T => {
      const o = objects.find((x) => x.kind === kind && x.metadata?.name === name);
      if (!o) throw new Error(`no ${kind}/${name}`);
      return o as unknown as T;
    };
    change(find, objects);
    return index(objects);
  };
  const container = (find: Find, name: string): IContainer => find<IDeployment>('Deployment', name).spec!.template.spec!.containers[0];

  it('an unknown kind, a schema violation and a misspelt field', () => {
    const m = mutate('dev', (find, objects) => {
      objects.push({ apiVersion: 'monitoring.coreos.com/v1', kind: 'ServiceMonitor', metadata: { name: 'sm', namespace: 'first-party-auth' } });
      (container(find, 'token').ports![0] as { containerPort: unknown }).containerPort = 'http';
      const probe = container(find, 'challenge').readinessProbe as Record<string, unknown>;
      probe.periodSecond = probe.periodSeconds;
    });
    const problems = checkSchemas(m).join('\n');
    expect(problems).toMatch(/ServiceMonitor\/sm: unknown kind/);
    expect(problems).toMatch(/Deployment\/token: .*containerPort must be integer/);
    expect(problems).toMatch(/Deployment\/challenge: unknown field spec\.template\.spec\.containers\[0\]\.readinessProbe\.periodSecond/);
  });

  it('a Secret manifest with data', () => {
    const m = mutate('prod', (_find, objects) => {
      objects.push({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'first-party-auth-secrets', namespace: 'first-party-auth' }, stringData: { DATABASE_URL: 'postgres://x:y@db/fpa' } });
    });
    expect(checkNamespaceAndSecrets(m)).toEqual([expect.stringMatching(/^Secret\/first-party-auth-secrets: Secret manifests are not allowed/)]);
  });

  it('readOnlyRootFilesystem removed, a capability added, no memory limit', () => {
    const m = mutate('dev', (find) => {
      delete container(find, 'token').securityContext!.readOnlyRootFilesystem;
      container(find, 'registration').securityContext!.capabilities!.add = ['NET_BIND_SERVICE'];
      delete find<{ spec: { template: { spec: { containers: IContainer[] } } } }>('StatefulSet', 'postgres').spec.template.spec.containers[0].resources!.limits!.memory;
    });
    expect(checkPodSecurity(m)).toEqual([
      'Deployment/registration/registration: adds capabilities NET_BIND_SERVICE',
      'Deployment/token/token: readOnlyRootFilesystem must be true',
      'StatefulSet/postgres/postgres: resources.limits.memory missing',
    ]);
  });

  it('a readiness probe on the wrong path', () => {
    const m = mutate('prod', (find) => {
      container(find, 'challenge').readinessProbe!.httpGet!.path = '/health/live';
    });
    expect(checkProbes(m)).toEqual(['Deployment/challenge/challenge: readinessProbe probes /health/live, expected /health/ready']);
  });

  it('a literal DATABASE_URL, an unknown variable, a missing DPOP_NONCE_SECRET, a literal postgres password', () => {
    const m = mutate('dev', (find) => {
      const token = container(find, 'token');
      token.env = token.env!.filter((e) => e.name !== 'DATABASE_URL' && e.name !== 'DPOP_NONCE_SECRET');
      token.env.push({ name: 'DATABASE_URL', value: 'postgres://fpa:hunter2@postgres:5432/fpa' }, { name: 'NODE_OPTIONS', value: '--max-old-space-size=256' });
      const pg = find<{ spec: { template: { spec: { containers: IContainer[] } } } }>('StatefulSet', 'postgres').spec.template.spec.containers[0];
      pg.env = pg.env!.map((e) => (e.name === 'POSTGRES_PASSWORD' ? { name: e.name, value: 'hunter2' } : e));
    });
    const problems = checkEnvironment(m).join('\n');
    expect(problems).toMatch(/Deployment\/token\/token: DATABASE_URL has a literal value that looks like a secret/);
    expect(problems).toMatch(/Deployment\/token\/token: DATABASE_URL is secret in ENV_VARS and must come from a secretKeyRef, not a literal value/);
    expect(problems).toMatch(/Deployment\/token\/token: NODE_OPTIONS is not in ENV_VARS/);
    expect(problems).toMatch(/Deployment\/token\/token: DPOP_NONCE_SECRET is required in production and not provided/);
    expect(problems).toMatch(/Deployment\/token\/token: loadConfig\('token'\) refuses this environment: DPOP_NONCE_SECRET: is required when APP_MODE=production/);
    expect(problems).toMatch(/StatefulSet\/postgres\/postgres: POSTGRES_PASSWORD must come from a secretKeyRef/);
  });

  it('email_otp without SMTP_URL for the challenge app, and an http ISSUER in production', () => {
    const m = mutate('prod', (find, objects) => {
      const c = container(find, 'challenge');
      c.env = c.env!.filter((e) => e.name !== 'SMTP_URL');
      const cm = objects.find((o) => o.kind === 'ConfigMap' && o.metadata?.name?.startsWith('first-party-auth-config-')) as unknown as { data: Record<string, string> };
      cm.data.ISSUER = 'http://auth.example.com';
    });
    const problems = checkEnvironment(m).join('\n');
    expect(problems).toMatch(/Deployment\/challenge\/challenge: loadConfig\('challenge'\) refuses this environment: .*SMTP_URL: is required when email_otp is enabled in production/);
    expect(problems).toMatch(/Deployment\/token\/token: loadConfig\('token'\) refuses this environment: ISSUER: must be an https URL/);
  });

  it('maxUnavailable 1, a short termination grace, a missing PodDisruptionBudget and autoscaler', () => {
    const m = mutate('dev', (find, objects) => {
      find<IDeployment>('Deployment', 'token').spec!.strategy!.rollingUpdate!.maxUnavailable = 1;
      find<IDeployment>('Deployment', 'registration').spec!.template.spec!.terminationGracePeriodSeconds = 30;
      objects.splice(objects.findIndex((o) => o.kind === 'PodDisruptionBudget' && o.metadata?.name === 'challenge'), 1);
      objects.splice(objects.findIndex((o) => o.kind === 'HorizontalPodAutoscaler' && o.metadata?.name === 'federation'), 1);
    });
    expect(checkAvailability(m)).toEqual([
      'Deployment/registration: terminationGracePeriodSeconds 30 must exceed SHUTDOWN_GRACE_MS (10000 ms) + the 30 s drain',
      'Deployment/token: rollingUpdate.maxUnavailable must be 0 (a rollout must never go below the PodDisruptionBudget)',
      'challenge: no PodDisruptionBudget selects Deployment/challenge\'s pods',
      'federation: no HorizontalPodAutoscaler targets Deployment/federation',
    ]);
  });

  it('/metrics made public, /token sent to the registration service, /par dropped', () => {
    const m = mutate('prod', (find) => {
      const paths = find<IIngress>('Ingress', 'first-party-auth').spec!.rules![0].http!.paths;
      paths.push({ path: '/metrics', pathType: 'Prefix', backend: { service: { name: 'token', port: { name: 'http' } } } });
      paths.find((p) => p.path === '/token')!.backend.service!.name = 'registration';
      paths.splice(paths.findIndex((p) => p.path === '/par'), 1);
    });
    expect(checkIngress(m)).toEqual([
      `Ingress: /token goes to Service registration, not to the ${CONTRACT_ROUTES['/token']} service`,
      'Ingress: /par is not routed (CONTRACT §1: token)',
      'Ingress: /metrics must not be public, it goes to Service token',
    ]);
  });

  it('no default deny, PostgreSQL egress for every pod, the apps open to any namespace', () => {
    const m = mutate('dev', (find, objects) => {
      objects.splice(objects.findIndex((o) => o.kind === 'NetworkPolicy' && o.metadata?.name === 'default-deny'), 1);
      find<INetworkPolicy>('NetworkPolicy', 'allow-postgres-egress').spec!.podSelector = {};
      find<INetworkPolicy>('NetworkPolicy', 'allow-http-from-ingress-controller').spec!.ingress![0].from = [{ namespaceSelector: {} }];
    });
    const problems = checkNetworkPolicies(m).join('\n');
    expect(problems).toMatch(/no default-deny policy/);
    expect(problems).toMatch(/StatefulSet\/postgres: egress to PostgreSQL \(5432\) is only for the suite's pods/);
    expect(problems).toMatch(/Deployment\/mailpit: egress to PostgreSQL/);
    expect(problems).toMatch(/allow-http-from-ingress-controller: Deployment\/token admits \{"namespaceSelector":\{\}\}/);
    expect(problems).toMatch(/Deployment\/token: the ingress controller \(namespace ingress-nginx\) cannot reach the http port/);
  });

  it('the rotation CronJob allowed to overlap, the migration Job gone', () => {
    const m = mutate('prod', (find, objects) => {
      find<{ spec: { concurrencyPolicy: string } }>('CronJob', 'rotate-keys').spec.concurrencyPolicy = 'Allow';
      objects.splice(objects.findIndex((o) => o.kind === 'Job'), 1);
    });
    expect(ALL_CHECKS.checkJobs(m)).toEqual(['no Job runs `migration run`', 'CronJob/rotate-keys: concurrencyPolicy must be Forbid']);
  });

  it('the janitor CronJob allowed to overlap; gone; without PostgreSQL egress; with a literal DATABASE_URL', () => {
    const overlapping = mutate('dev', (find) => {
      find<{ spec: { concurrencyPolicy: string } }>('CronJob', 'janitor').spec.concurrencyPolicy = 'Replace';
    });
    expect(ALL_CHECKS.checkJobs(overlapping)).toEqual(['CronJob/janitor: concurrencyPolicy must be Forbid']);
    const gone = mutate('prod', (_find, objects) => {
      objects.splice(objects.findIndex((o) => o.kind === 'CronJob' && o.metadata?.name === 'janitor'), 1);
    });
    expect(ALL_CHECKS.checkJobs(gone)).toEqual(['no CronJob runs `janitor`']);
    const isolated = mutate('dev', (find) => {
      const pod = find<{ spec: { jobTemplate: { spec: { template: { metadata: { labels: Record<string, string> }; spec: { containers: IContainer[] } } } } } }>('CronJob', 'janitor').spec.jobTemplate.spec.template;
      delete pod.metadata.labels['first-party-auth/postgres-client'];
      pod.spec.containers[0].env = pod.spec.containers[0].env!.map((e) => (e.name === 'DATABASE_URL' ? { name: e.name, value: 'postgres://fpa:hunter2@postgres:5432/fpa' } : e));
    });
    expect(checkNetworkPolicies(isolated)).toContain('CronJob/janitor: no egress to PostgreSQL (5432)');
    expect(checkEnvironment(isolated).join('\n')).toMatch(/CronJob\/janitor\/janitor: DATABASE_URL is secret in ENV_VARS and must come from a secretKeyRef/);
  });

  it('federation: the downstream registry unmounted, unset, writable, or refused by the parser', () => {
    const m = mutate('dev', (find) => {
      const fed = container(find, 'federation');
      fed.volumeMounts = fed.volumeMounts!.filter((v) => v.name !== 'federation-downstreams');
      const challenge = container(find, 'challenge');
      challenge.env = challenge.env!.filter((e) => e.name !== 'FEDERATION_DOWNSTREAMS_FILE');
    });
    expect(checkFederation(m)).toEqual([
      'Deployment/challenge/challenge: loads the federation module but FEDERATION_DOWNSTREAMS_FILE is not set (the ConfigMap federation-downstreams would reach no downstream server)',
      'Deployment/federation/federation: FEDERATION_DOWNSTREAMS_FILE /etc/first-party-auth/federation/downstreams.json is on no mounted volume (the root filesystem is read-only and holds no such file)',
    ]);
    const bad = mutate('prod', (find, objects) => {
      container(find, 'federation').volumeMounts!.find((v) => v.name === 'federation-downstreams')!.readOnly = false;
      const cm = objects.find((o) => o.kind === 'ConfigMap' && o.metadata?.name?.startsWith('federation-downstreams-')) as unknown as { data: Record<string, string> };
      cm.data['downstreams.json'] = JSON.stringify([{ issuer: 'http://as.bank-b.example', client_id: 'suite' }]);
    });
    const problems = checkFederation(bad);
    expect(problems).toContain('Deployment/federation/federation: the mount of /etc/first-party-auth/federation/downstreams.json must be readOnly');
    for (const app of ['challenge', 'federation']) expect(problems).toContainEqual(expect.stringMatching(new RegExp(`^ConfigMap/federation-downstreams-\\w+ downstreams\\.json \\(read by ${app}\\): downstreams\\[0\\]\\.issuer must be an https URL`)));
    expect(problems).toHaveLength(3);
  });

  it('federation: trust anchors for one app only, another registry for the callback, token without public HTTPS, the metadata range reachable', () => {
    const m = mutate('dev', (find, objects) => {
      container(find, 'challenge').env!.push({ name: 'OPENID_FEDERATION_TRUST_ANCHORS', value: '[{"entity_id":"https://ta.example.org","jwks":{"keys":[{"kty":"EC"}]}}]' });
      const cm = structuredClone(objects.find((o) => o.kind === 'ConfigMap' && o.metadata?.name?.startsWith('federation-downstreams-'))!);
      cm.metadata!.name = 'other-downstreams';
      objects.push(cm);
      find<IDeployment>('Deployment', 'federation').spec!.template.spec!.volumes!.find((v) => v.name === 'federation-downstreams')!.configMap!.name = 'other-downstreams';
      delete find<IDeployment>('Deployment', 'token').spec!.template.metadata!.labels!['first-party-auth/federation-egress'];
      const v4 = find<INetworkPolicy>('NetworkPolicy', 'allow-federation-egress').spec!.egress![0].to![0].ipBlock!;
      v4.except = v4.except!.filter((r) => r !== '169.254.0.0/16');
    });
    const problems = checkFederation(m);
    expect(problems).toEqual([
      expect.stringMatching(/^the apps that federate read different downstream registries: challenge federation-downstreams-\w+\/downstreams\.json, federation other-downstreams\/downstreams\.json$/),
      'OPENID_FEDERATION_TRUST_ANCHORS differs between token, challenge, federation: token unset, challenge "[{\\"entity_id\\":\\"https://ta.example.org\\",\\"…", federation unset (set it in the ConfigMap first-party-auth-config)',
      'Deployment/challenge: its 443 egress to 0.0.0.0/0 does not except 169.254.0.0/16 (private networks, cloud metadata)',
      'Deployment/federation: its 443 egress to 0.0.0.0/0 does not except 169.254.0.0/16 (private networks, cloud metadata)',
      'Deployment/token: calls downstream servers or OpenID Federation entities, but no NetworkPolicy lets it reach public addresses on 443',
    ]);
  });

  it('a tag instead of a digest in prod, DATABASE_SSL off; too few PostgreSQL connections in dev', () => {
    const prod = mutate('prod', (find, objects) => {
      container(find, 'federation').image = 'ghcr.io/first-party-auth/federation:0.1.0';
      (objects.find((o) => o.kind === 'ConfigMap' && o.metadata?.name?.startsWith('first-party-auth-config-')) as unknown as { data: Record<string, string> }).data.DATABASE_SSL = 'false';
    });
    const problems = ALL_CHECKS.checkExternalStores(prod);
    expect(problems).toContain('Deployment/federation: image ghcr.io/first-party-auth/federation:0.1.0 must be pinned by digest');
    expect(problems).toContain('Deployment/token: DATABASE_SSL must be true for a managed PostgreSQL');
    const dev = mutate('dev', (find) => {
      find<{ spec: { template: { spec: { containers: IContainer[] } } } }>('StatefulSet', 'postgres').spec.template.spec.containers[0].args = ['postgres', '-c', 'max_connections=50'];
    });
    expect(ALL_CHECKS.checkDatabaseCapacity(dev)).toEqual([expect.stringMatching(/^PostgreSQL max_connections 50 is below the \d+ connections the pools may open$/)]);
  });
});
