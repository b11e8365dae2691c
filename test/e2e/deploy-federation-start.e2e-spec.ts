import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DownstreamRegistry } from '@fpa/federation';
import { appMain, createSuiteEnv, runNode, type SuiteEnv } from '@fpa/testing';
import { startApp } from '@fpa/testing/app';
import { APP_ROOTS, appsReadingDownstreams, appsReadingOpenIdFederation, type SuiteHttpApp } from '../support/app-modules';
import { environmentOf, resolvedCompose, dotEnvFromExample, parseEnvExample } from '../support/compose/compose';
import { hostFile } from '../support/compose/federation';
import { resolveEnv } from '../support/k8s/environment';
import { commentedJsonArray, httpAppWorkload, index, mountedFile, render, suiteContainer, type Manifests } from '../support/k8s';

/**
 * Issue 10: the apps start with the federation settings the deployments give them. Each app that reads
 * them (token, challenge, federation; derived from their root modules) is started in this process on
 * real PostgreSQL and Redis with the FEDERATION_* / OPENID_FEDERATION_* values of its k8s Deployment
 * (dev overlay) or compose service, and the downstream registry file it would see in its container: the
 * ConfigMap's content written out, or the bind-mounted repository file. The k8s run registers the
 * example of kustomization.yaml (what an overlay does) and real trust anchor keys (what config.env's
 * commented lines become), so start-up parses and imports everything; a bad registry stops start-up.
 */

const FEDERATION_VARS = /^(OPENID_)?FEDERATION_/;
const apps = [...new Set([...appsReadingDownstreams(), ...appsReadingOpenIdFederation()])];
let suiteEnv: SuiteEnv;
const dir = mkdtempSync(join(tmpdir(), 'fpa-fed-start-'));

beforeAll(async () => {
  suiteEnv = await createSuiteEnv('fedstart');
});
afterAll(async () => {
  await suiteEnv?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

/** An overlay's changes: the commented example as the registry, trust anchors with a real key, authority hints. */
function k8sWithFederation(): Manifests {
  const objects = render('dev');
  const downstreams = objects.find((o) => o.kind === 'ConfigMap' && o.metadata?.name?.startsWith('federation-downstreams-')) as unknown as { data: Record<string, string> };
  downstreams.data['downstreams.json'] = JSON.stringify(commentedJsonArray(readFileSync(join(__dirname, '..', '..', 'k8s', 'base', 'kustomization.yaml'), 'utf8')));
  const config = objects.find((o) => o.kind === 'ConfigMap' && o.metadata?.name?.startsWith('first-party-auth-config-')) as unknown as { data: Record<string, string> };
  const jwk = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' });
  config.data.OPENID_FEDERATION_TRUST_ANCHORS = JSON.stringify([{ entity_id: 'https://ta.example.org', jwks: { keys: [{ ...jwk, kid: 'ta-1' }] } }]);
  config.data.OPENID_FEDERATION_AUTHORITY_HINTS = 'https://ta.example.org';
  return index(objects);
}

/** The app's federation variables from its Deployment, with the mounted registry written to a file here. */
function fromK8s(m: Manifests, app: SuiteHttpApp): Record<string, string> {
  const w = httpAppWorkload(m, app)!;
  const c = suiteContainer(w)!;
  const env = Object.fromEntries(Object.entries(resolveEnv(m, w.ref, c).env).filter(([k]) => FEDERATION_VARS.test(k)));
  if (env.FEDERATION_DOWNSTREAMS_FILE) {
    const where = mountedFile(w, c, env.FEDERATION_DOWNSTREAMS_FILE);
    if (typeof where === 'string') throw new Error(where);
    const file = join(dir, `${app}-${where.key}`);
    writeFileSync(file, m.configMaps.get(where.configMap)![where.key]);
    env.FEDERATION_DOWNSTREAMS_FILE = file;
  }
  return env;
}

/** The app's federation variables from its compose service (every optional .env setting off), the mount resolved on the host. */
function fromCompose(app: SuiteHttpApp): Record<string, string> {
  const service = resolvedCompose(dotEnvFromExample(parseEnvExample(), false)).services[app];
  const env = Object.fromEntries(Object.entries(environmentOf(service)).filter(([k]) => FEDERATION_VARS.test(k)));
  if (env.FEDERATION_DOWNSTREAMS_FILE) env.FEDERATION_DOWNSTREAMS_FILE = hostFile(service, env.FEDERATION_DOWNSTREAMS_FILE)!.file;
  return env;
}

async function startsReady(app: SuiteHttpApp, overrides: Record<string, string>): Promise<{ downstreams?: string[]; entityStatement?: string }> {
  const running = await startApp({ app, module: APP_ROOTS[app], env: suiteEnv, overrides });
  try {
    expect((await fetch(`${running.issuer}/health/ready`)).status).toBe(200);
    const out: { downstreams?: string[]; entityStatement?: string } = {};
    if (appsReadingDownstreams().includes(app)) {
      const registry = running.get(DownstreamRegistry);
      out.downstreams = [...registry.hosts];
    }
    if (app === 'federation') {
      const res = await fetch(`${running.issuer}/.well-known/openid-federation`);
      expect(res.status).toBe(200);
      out.entityStatement = await res.text();
    }
    return out;
  } finally {
    await running.close();
  }
}

const payload = (jws: string): Record<string, unknown> => JSON.parse(Buffer.from(jws.split('.')[1], 'base64url').toString('utf8')) as Record<string, unknown>;

describe('k8s (dev overlay, with a registered downstream and trust anchors)', () => {
  const m = k8sWithFederation();

  it.each(apps)('%s starts ready with its Deployment’s federation settings and mounted registry', async (app) => {
    const env = fromK8s(m, app);
    expect(env.OPENID_FEDERATION_TRUST_ANCHORS).toBeDefined();
    const started = await startsReady(app, env);
    if (appsReadingDownstreams().includes(app)) expect(started.downstreams).toEqual(['as.bank-b.example', 'login.bank-b.example']);
    if (started.entityStatement) expect(payload(started.entityStatement).authority_hints).toEqual(['https://ta.example.org']);
  });

  // The built app as a process (`npm run build` first): a failed start in this process would leave its pools open.
  it('a registry the parser refuses stops the built app (exit 1), naming FEDERATION_DOWNSTREAMS_FILE', async () => {
    const env = fromK8s(m, 'federation');
    writeFileSync(env.FEDERATION_DOWNSTREAMS_FILE, JSON.stringify([{ issuer: 'https://as.bank-b.example' }]));
    const res = await runNode(appMain('federation'), [], { ...suiteEnv.env, ...env, PORT: '0', ISSUER: 'http://127.0.0.1:3000' }, { timeoutMs: 30_000 });
    expect(res.code).toBe(1);
    expect(res.output).toMatch(/FEDERATION_DOWNSTREAMS_FILE: downstreams\[0\]\.client_id must be a string/);
  });
});

describe('docker compose (the example .env)', () => {
  it.each(apps)('%s starts ready with its service’s federation settings and the bind-mounted deploy/federation-downstreams.json', async (app) => {
    const env = fromCompose(app);
    const started = await startsReady(app, env);
    if (appsReadingDownstreams().includes(app)) {
      expect(env.FEDERATION_DOWNSTREAMS_FILE).toMatch(/deploy\/federation-downstreams\.json$/);
      expect(started.downstreams).toEqual([]);
    }
  });
});
