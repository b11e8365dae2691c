import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateClientKeyPair, signJwt, type ClientKeyPair } from '@fpa/crypto';
import { TokenMetrics } from '@fpa/grants';
import { runCli } from '@fpa/testing';
import { startStandalone, type RunningApp } from '@fpa/testing/app';
import { ASSERTION_TYPE, expectOAuthError, postForm, type FormResponse } from '../support/http';
import { serveJson, startJwksServer, type JwksServer } from '../support/jwks-server';

/**
 * A `jwks_uri` that cannot give a usable key set (JWTCA-8, issue 9): timeouts, oversized or
 * private-key sets, non-JSON, errors, redirects — each an invalid_client with its reason and nothing
 * spent or issued, never a 5xx; the cooldown after a failure, the stale grace, and the CLI and
 * CLIENTS_FILE refusing clients that could never authenticate.
 */
describe('jwks_uri refusals and unusable client definitions (standalone, PostgreSQL + Redis)', () => {
  let suite: RunningApp;
  let jwks: JwksServer;
  let dataDir: string;
  let key: ClientKeyPair;
  const privateJwk = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });

  /** One client per URI: a failed fetch holds for its URI for the cooldown. */
  const clientFor = (name: string): Record<string, unknown> => ({
    client_id: name,
    type: 'confidential',
    auth_methods: ['private_key_jwt'],
    grant_types: ['client_credentials'],
    jwks_uri: jwks.url(`/${name}.jwks`),
  });
  const goodSet = (): unknown => ({ keys: [{ ...key.publicJwk, kid: 'k' }] });

  beforeAll(async () => {
    key = await generateClientKeyPair('ES256');
    jwks = await startJwksServer();
    dataDir = mkdtempSync(join(tmpdir(), 'fpa-pkjwt-refusals-'));
    suite = await startStandalone('pkjwtrefusals', { APP_MODE: 'embedded', DATA_DIR: dataDir, CLIENT_JWKS_FETCH_TIMEOUT_MS: '500' });
    for (const name of ['slow', 'huge', 'leaky', 'html', 'garbage', 'broken', 'moved', 'flaky', 'turned']) await suite.createClient(clientFor(name));
    jwks.route('/slow.jwks', () => undefined);
    jwks.route('/huge.jwks', (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      // 128 KiB, twice CLIENT_JWKS_MAX_BYTES, without a Content-Length: cut while it streams.
      res.write('{"keys":[');
      for (let i = 0; i < 128 && !res.destroyed; i++) res.write(`${JSON.stringify({ ...key.publicJwk, kid: `k${i}`, pad: 'x'.repeat(900) })},`);
      res.end('{}]}');
    });
    jwks.route('/leaky.jwks', serveJson({ keys: [{ ...key.publicJwk, kid: 'k' }, { ...privateJwk, kid: 'oops' }] }));
    jwks.route('/html.jwks', (_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html>keys</html>'));
    jwks.route('/garbage.jwks', serveJson('{"keys": [ not json'));
    jwks.route('/broken.jwks', (_req, res) => res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":"down"}'));
    jwks.route('/moved.jwks', (_req, res) => res.writeHead(302, { location: jwks.url('/moved-target.jwks') }).end());
    jwks.route('/moved-target.jwks', serveJson(goodSet()));
  });
  afterAll(async () => {
    await suite?.close();
    await jwks?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  const now = (): number => suite.clock.nowSeconds();
  const assertion = (clientId: string, claims: Record<string, unknown> = {}): Promise<string> =>
    signJwt({ iss: clientId, sub: clientId, aud: suite.issuer, iat: now(), exp: now() + 60, jti: randomUUID(), ...claims }, { alg: 'ES256', kid: 'k', typ: 'client-authentication+jwt' }, key.privateKey);
  const token = (a: string): Promise<FormResponse> => postForm(`${suite.issuer}/token`, { grant_type: 'client_credentials', client_assertion_type: ASSERTION_TYPE, client_assertion: a });

  async function counters(): Promise<{ reasons: Map<string, number>; issued: number }> {
    const metrics = suite.get(TokenMetrics);
    const reasons = new Map<string, number>();
    for (const v of (await metrics.clientAuthFailures.get()).values) reasons.set(String(v.labels.reason), (reasons.get(String(v.labels.reason)) ?? 0) + v.value);
    return { reasons, issued: (await metrics.tokensIssued.get()).values.reduce((n, v) => n + v.value, 0) };
  }
  async function refused(request: () => Promise<FormResponse>, reason: string): Promise<void> {
    const before = await counters();
    const res = await request();
    const after = await counters();
    expectOAuthError(res, 401, 'invalid_client');
    const added: string[] = [];
    for (const [k, v] of after.reasons) for (let i = 0; i < v - (before.reasons.get(k) ?? 0); i++) added.push(k);
    expect(added).toEqual([reason]);
    expect(after.issued).toBe(before.issued);
  }

  describe('each unusable jwks_uri → 401 invalid_client with its reason', () => {
    it.each([
      ['does not answer within CLIENT_JWKS_FETCH_TIMEOUT_MS', 'slow', 'jwks_uri_timeout'],
      ['streams more than CLIENT_JWKS_MAX_BYTES', 'huge', 'jwks_uri_too_large'],
      ['serves a set with a private key', 'leaky', 'jwks_uri_private_key'],
      ['answers text/html', 'html', 'jwks_uri_content_type'],
      ['answers JSON that does not parse', 'garbage', 'jwks_uri_malformed_json'],
      ['answers 500', 'broken', 'jwks_uri_http_status'],
      ['redirects', 'moved', 'jwks_uri_redirect'],
    ])('a jwks_uri that %s', async (_what, name, reason) => {
      const started = Date.now();
      await refused(async () => token(await assertion(name)), reason);
      expect(Date.now() - started).toBeLessThan(2500);
    });

    it('the redirect was not followed', () => {
      expect(jwks.hits('/moved.jwks')).toBe(1);
      expect(jwks.hits('/moved-target.jwks')).toBe(0);
    });

    it('within the cooldown a failed URI is not fetched again: the failure stands', async () => {
      const hits = jwks.hits('/broken.jwks');
      await refused(async () => token(await assertion('broken')), 'jwks_uri_http_status');
      await refused(async () => token(await assertion('slow')), 'jwks_uri_timeout');
      expect(jwks.hits('/broken.jwks')).toBe(hits);
    });
  });

  describe('after the cooldown (the app clock moves)', () => {
    afterAll(() => suite.clock.reset());

    it('nothing was spent: the refused assertion works once the URI is fixed', async () => {
      jwks.route('/flaky.jwks', (_req, res) => res.writeHead(503, { 'content-type': 'application/json' }).end('{}'));
      const a = await assertion('flaky');
      await refused(() => token(a), 'jwks_uri_http_status');
      jwks.route('/flaky.jwks', serveJson(goodSet()));
      suite.clock.advance(31_000);
      const res = await token(a);
      expect(res.status).toBe(200);
      await refused(() => token(a), 'replay');
    });

    it('CLIENT_JWKS_STALE_GRACE_SECONDS: an expired set keeps verifying 600 s while refetches fail; one with private keys ends it at once', async () => {
      jwks.route('/turned.jwks', serveJson(goodSet()));
      expect((await token(await assertion('turned'))).status).toBe(200);
      expect((await token(await assertion('flaky'))).status).toBe(200);
      jwks.route('/turned.jwks', (_req, res) => res.writeHead(500, { 'content-type': 'application/json' }).end('{}'));
      jwks.route('/flaky.jwks', serveJson({ keys: [privateJwk] }));
      suite.clock.advance(301_000);
      // Expired (300 s): refetches fail. The 500 leaves the stale set usable; the private key does not.
      expect((await token(await assertion('turned'))).status).toBe(200);
      await refused(async () => token(await assertion('flaky')), 'jwks_uri_private_key');
      suite.clock.advance(600_000);
      await refused(async () => token(await assertion('turned')), 'jwks_uri_http_status');
    });
  });

  describe('the CLI and CLIENTS_FILE refuse a client that could never authenticate', () => {
    const cli = (definition: Record<string, unknown>): ReturnType<typeof runCli> => runCli(['client', 'create', JSON.stringify(definition)], suite.env.env, { timeoutMs: 30_000 });
    const service = { type: 'confidential', auth_methods: ['private_key_jwt'], grant_types: ['client_credentials'] };

    it('a private_key_jwt-only client is created without a secret', async () => {
      const { code, output } = await cli({ ...service, client_id: 'cli-svc', jwks_uri: 'https://svc.example.com/jwks' });
      expect({ code, output }).toEqual({ code: 0, output: expect.stringContaining('no client_secret: the client authenticates with private_key_jwt') });
      expect(output).not.toMatch(/shown once/);
      expect(output).toMatch(/jwks_uri=https:\/\/svc.example.com\/jwks/);
    });

    it('no keys, private keys, an http jwks_uri in production: exit 1 with the reason, nothing created', async () => {
      const noKeys = await cli({ ...service, client_id: 'cli-bare' });
      expect(noKeys).toEqual({ code: 1, output: expect.stringContaining('a confidential client with private_key_jwt needs its public keys in jwks or jwks_uri') });
      const leaky = await cli({ ...service, client_id: 'cli-leaky', jwks: { keys: [{ ...privateJwk, kid: 'p' }] } });
      expect(leaky).toEqual({ code: 1, output: expect.stringContaining('jwks key 0 holds private or symmetric key material') });
      expect(leaky.output).not.toContain(privateJwk.d);
      // The CLI on this database runs in production mode (APP_MODE=production in the run's environment).
      const http = await cli({ ...service, client_id: 'cli-http', jwks_uri: jwks.url('/x.jwks') });
      expect(http).toEqual({ code: 1, output: expect.stringContaining('jwks_uri must be an https URL') });
      const rows = await suite.env.db.query<{ client_id: string }>(`SELECT client_id FROM clients WHERE client_id LIKE 'cli-%' ORDER BY client_id`);
      expect(rows.map((r) => r.client_id)).toEqual(['cli-svc']);
    });

    it('CLIENTS_FILE with such a client stops start-up, naming it', async () => {
      const file = join(dataDir, 'clients.json');
      writeFileSync(file, JSON.stringify({ clients: [{ ...service, client_id: 'file-bare' }] }));
      await expect(startStandalone('pkjwtfile', { CLIENTS_FILE: file })).rejects.toThrow(/client file-bare: a confidential client with private_key_jwt needs its public keys/);
    });
  });
});
