import { get } from 'node:http';
import { performance } from 'node:perf_hooks';
import { FirstPartyClient } from '@fpa/client-sdk';
import { decodeJwtUnverified, randomToken, s256CodeChallenge } from '@fpa/crypto';
import { ensureClient, startSuite, type RunningSuite } from '../../tools/suite/launch';
import type { ProxyExchange } from '../../tools/suite/proxy';
import { asNonce, ASSERTION_TYPE, postForm } from '../support/http';
import { startSmtpSink, type SmtpSink } from '../support/smtp';
import { createSuiteEnv, DEVICE_CLIENT, runCli, type AppProcess, type SuiteEnv } from '@fpa/testing';

/**
 * `npm run start:suite` as the tests start it (tools/suite: the same functions, not npm): registration,
 * two token replicas, challenge and federation as separate processes on PostgreSQL and Redis, behind
 * the path-routing proxy on one issuer URL. Then what happens to clients when a token replica dies
 * (SIGKILL) or is stopped (SIGTERM, issue 4 part 7) under load.
 */

jest.setTimeout(60_000);

const APP = { ...DEVICE_CLIENT, client_id: 'suite-app', grant_types: ['fp_register', 'client_credentials', 'refresh_token', 'authorization_code'] };
const GRACE_MS = 1000;
const CONCURRENCY = 8;

interface LoadResult {
  readonly id: string;
  /** HTTP status, or 0 when the connection to the proxy failed. */
  readonly status: number;
  readonly error: string | undefined;
  readonly startedAt: number;
  readonly endedAt: number;
}

interface LoadClient {
  readonly device: FirstPartyClient;
  readonly nonce: string;
}

/** What the tests measured, printed at the end (and quoted in the report). */
const measured: Record<string, unknown> = {};

describe('tools/suite: the four services as separate processes behind one URL', () => {
  let env: SuiteEnv;
  let smtp: SmtpSink;
  let suite: RunningSuite;
  let issuer: string;
  const exchanges = new Map<string, ProxyExchange>();
  const health: { upstream: string; healthy: boolean; reason: string | undefined; at: number }[] = [];

  beforeAll(async () => {
    smtp = await startSmtpSink();
    env = await createSuiteEnv('suiteproxy', { SMTP_URL: smtp.url, SHUTDOWN_GRACE_MS: String(GRACE_MS), LOG_LEVEL: 'info', CHALLENGE_RESEND_SECONDS: '0' });
    const t0 = performance.now();
    suite = await startSuite({
      env: env.env,
      tokenReplicas: 2,
      healthIntervalMs: 500,
      onProxyEvent: (e) => {
        if (e.type === 'exchange') exchanges.set(e.exchange.id, e.exchange);
        else health.push({ upstream: e.upstream, healthy: e.healthy, reason: e.reason, at: e.at });
      },
    });
    measured.startMs = Math.round(performance.now() - t0);
    issuer = suite.issuer;
    expect(await ensureClient(APP, suite.env)).toBe('created');
  });

  afterAll(async () => {
    await suite?.stop();
    await smtp?.close();
    await env?.dispose();
    console.log(`suite-proxy measurements: ${JSON.stringify(measured, null, 2)}`);
  });

  /** The exchanges the proxy saw for requests whose X-Request-Id starts with `prefix`. */
  const exchangesOf = (prefix: string): ProxyExchange[] => [...exchanges.values()].filter((x) => x.id.startsWith(prefix));

  const newDevice = async (): Promise<FirstPartyClient> => {
    const device = await FirstPartyClient.create({ issuer, clientId: APP.client_id });
    await device.register();
    return device;
  };

  /** A registered device and a current DPoP nonce (valid for this and the next 60 s window) to drive load with. */
  const loadClient = async (): Promise<LoadClient> => ({ device: await newDevice(), nonce: await asNonce(issuer) });

  /**
   * `concurrency` workers sending device token requests through the proxy, each with its own fresh client
   * assertion (single-use jti) and DPoP proof, and `X-Request-Id: <label>-<n>` so the proxy's record of
   * the exchange can be matched. Runs until `total` requests or until `stop()` says so.
   */
  const runLoad = async (label: string, options: { total?: number; stop?: () => boolean; onCompleted?: (n: number) => void; client?: LoadClient }): Promise<LoadResult[]> => {
    const { device, nonce } = options.client ?? (await loadClient());
    const results: LoadResult[] = [];
    let next = 0;
    const worker = async (): Promise<void> => {
      for (;;) {
        if (options.total !== undefined && next >= options.total) return;
        if (options.stop?.()) return;
        const id = `${label}-${next++}`;
        const body = new URLSearchParams({ grant_type: 'client_credentials', client_assertion_type: ASSERTION_TYPE, client_assertion: await device.clientAssertion() }).toString();
        const dpop = await device.proof('POST', `${issuer}/token`, nonce);
        const startedAt = performance.now();
        let status = 0;
        let error: string | undefined;
        try {
          const res = await fetch(`${issuer}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', dpop, 'x-request-id': id }, body });
          status = res.status;
          const json = (await res.json()) as { error?: string; token_type?: string };
          if (status !== 200) error = json.error;
          else if (json.token_type !== 'DPoP') error = 'no DPoP token';
        } catch (e) {
          error = String((e as { cause?: { code?: string } }).cause?.code ?? e);
        }
        results.push({ id, status, error, startedAt, endedAt: performance.now() });
        options.onCompleted?.(results.length);
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    return results;
  };

  it('runs the device flow and the email challenge flow with the SDK through the proxy, each path on its own process', async () => {
    const before = new Set(exchanges.keys());
    const device = await FirstPartyClient.create({ issuer, clientId: APP.client_id });
    const reg = await device.register();
    const token = await device.requestToken();
    expect(token).toMatchObject({ token_type: 'DPoP', auth_session: reg.auth_session, refresh_token: expect.any(String) });
    expect(decodeJwtUnverified(token.access_token).payload).toMatchObject({ iss: issuer, auth_session: reg.auth_session, cnf: { jkt: device.dpopKey.jkt } });

    // Introspection through the proxy by a resource server client (the sample API is not one of the four services).
    const rs = await runCli(['client', 'create-resource-server', 'suite-rs', `${issuer}/resources`], suite.env);
    const rsSecret = /client_secret \(shown once, store it now\): (\S+)/.exec(rs.output)?.[1];
    expect(rsSecret).toEqual(expect.any(String));
    const introspected = await postForm(`${issuer}/introspect`, { token: token.access_token }, { authorization: `Basic ${Buffer.from(`suite-rs:${rsSecret}`).toString('base64')}` });
    expect(introspected.status).toBe(200);
    expect(introspected.body).toMatchObject({ active: true, client_id: APP.client_id, auth_session: reg.auth_session });

    // The email challenge (device way in): SMTP to the sink, the code back, the authorization code redeemed at /token.
    const email = 'suite-user@example.com';
    const { tokens } = await device.authorize({
      mode: 'device',
      acrValues: 'urn:first-party-auth:acr:email',
      params: { email },
      onChallenge: async (challenge) => (challenge.status === 'code_sent' ? { code: await smtp.code(email) } : undefined),
    });
    expect(decodeJwtUnverified(tokens.access_token).payload).toMatchObject({ iss: issuer, email_verified: true, auth_session: reg.auth_session });

    // Which process answered what: the proxy's record of this test's exchanges.
    const mine = [...exchanges.values()].filter((x) => !before.has(x.id));
    const served = (path: string): string[] => [...new Set(mine.filter((x) => x.path === path).map((x) => x.upstream!))].sort();
    expect(served('/register')).toEqual(['registration']);
    expect(served('/authorize-challenge')).toEqual(['challenge']);
    expect(served('/introspect').every((u) => /^token-\d$/.test(u))).toBe(true);
    // Round-robin: discovery, nonce challenges and grants went to both token replicas (a nonce minted by one is accepted by the other).
    expect([...new Set(mine.filter((x) => x.service === 'token').map((x) => x.upstream))].sort()).toEqual(['token-1', 'token-2']);
    expect(mine.every((x) => x.outcome === 'proxied' && x.attempts.length === 1)).toBe(true);

    // /metrics is on each process's own port, never through the proxy; the federation paths reach the federation process.
    expect((await fetch(`${issuer}/metrics`)).status).toBe(404);
    expect((await fetch(`${suite.process('token-1').url}/metrics`)).status).toBe(200);
    const fed = await fetch(`${issuer}/.well-known/openid-federation`, { headers: { 'x-request-id': 'fed-probe' } });
    await fed.arrayBuffer();
    expect(exchanges.get('fed-probe')).toMatchObject({ service: 'federation', upstream: 'federation', outcome: 'proxied' });
  });

  it('the browser login through the proxy: GET /authorize, the form posts and the assets on the challenge process, the code redeemed on a token replica', async () => {
    const web = { client_id: 'suite-web', type: 'public', first_party: true, auth_methods: ['none'], grant_types: ['authorization_code'], scopes: ['openid'], redirect_uris: ['https://app.example.com/cb'], dpop_bound_access_tokens: false };
    expect(await ensureClient(web, suite.env)).toBe('created');
    const verifier = randomToken(32);
    const query = new URLSearchParams({ client_id: web.client_id, response_type: 'code', redirect_uri: web.redirect_uris[0], scope: 'openid', state: 's1', code_challenge: s256CodeChallenge(verifier), code_challenge_method: 'S256' });
    const first = await fetch(`${issuer}/authorize?${query}`, { headers: { 'x-request-id': 'web-authorize' } });
    expect(first.status).toBe(200);
    const cookie = first.headers.get('set-cookie')!.split(';')[0];
    const page = await first.text();
    const hidden = { interaction: /name="interaction" value="([^"]+)"/.exec(page)![1], csrf: /name="csrf" value="([^"]+)"/.exec(page)![1] };
    const post = (id: string, form: Record<string, string>) =>
      fetch(`${issuer}/authorize/login`, { method: 'POST', redirect: 'manual', headers: { cookie, 'content-type': 'application/x-www-form-urlencoded', 'x-request-id': id }, body: new URLSearchParams({ ...hidden, ...form }) });
    expect((await post('web-login-1', { challenge_type: 'email_otp', email: 'suite-web@example.com' })).status).toBe(200);
    const done = await post('web-login-2', { code: await smtp.code('suite-web@example.com') });
    expect(done.status).toBe(303);
    const back = new URL(done.headers.get('location')!);
    expect(back.searchParams.get('iss')).toBe(issuer);
    const asset = await fetch(`${issuer}/authorize/assets/login.css`, { headers: { 'x-request-id': 'web-asset' } });
    expect(asset.status).toBe(200);
    const tokens = await postForm(`${issuer}/token`, { grant_type: 'authorization_code', client_id: web.client_id, code: back.searchParams.get('code')!, code_verifier: verifier, redirect_uri: web.redirect_uris[0] });
    expect(tokens.status).toBe(200);
    for (const id of ['web-authorize', 'web-login-1', 'web-login-2', 'web-asset']) expect(exchanges.get(id)).toMatchObject({ service: 'challenge', upstream: 'challenge', outcome: 'proxied' });
  });

  it('SIGKILL of one token replica mid-run: the other keeps serving, and only requests in flight on the killed process fail', async () => {
    const victim = suite.process('token-1');
    const TOTAL = 300;
    const KILL_AFTER = 100;
    let killAt = Infinity;
    let exitAt = Infinity;
    const results = await runLoad('kill', {
      total: TOTAL,
      onCompleted: (n) => {
        if (n !== KILL_AFTER) return;
        killAt = performance.now();
        victim.child.kill('SIGKILL');
        void victim.exit.then(() => (exitAt = performance.now()));
      },
    });
    await victim.exit;
    const xs = exchangesOf('kill-');
    const byId = new Map(xs.map((x) => [x.id, x]));
    const failures = results.filter((r) => r.status !== 200 || r.error);
    const downAt = health.find((h) => h.upstream === 'token-1' && !h.healthy && h.at >= killAt)?.at ?? Infinity;

    expect(results).toHaveLength(TOTAL);
    expect(victim.exited()).toBe(true);
    expect(await victim.exit).toEqual({ code: null, signal: 'SIGKILL' });
    // Before the kill both replicas served.
    expect(new Set(xs.filter((x) => x.endedAt < killAt).map((x) => x.upstream))).toEqual(new Set(['token-1', 'token-2']));
    // Every failure is a request the proxy had already sent to the killed process before it was gone: a 502 from the
    // proxy (connection lost after send, never replayed) — at most one per concurrent client.
    expect(failures.length).toBeLessThanOrEqual(CONCURRENCY);
    for (const f of failures) {
      const x = byId.get(f.id);
      expect({ id: f.id, upstream: x?.upstream, outcome: x?.outcome, attempts: x?.attempts.map((a) => a.connected) }).toEqual({ id: f.id, upstream: 'token-1', outcome: 'upstream_failed', attempts: [true] });
      // 502 from the proxy; or, had the head of the answer already been passed on, the client's connection cut.
      if (f.status !== 0) expect({ status: f.status, error: f.error }).toEqual({ status: 502, error: 'temporarily_unavailable' });
      expect(x!.dispatchedAt!).toBeLessThan(exitAt);
    }
    // The proxy took token-1 out of rotation right after the kill; from then on nothing failed and nothing went to it.
    expect(downAt).toBeLessThan(Infinity);
    const afterDown = results.filter((r) => r.startedAt > downAt);
    expect(afterDown.length).toBeGreaterThan(50);
    expect(afterDown.filter((r) => r.status !== 200)).toEqual([]);
    expect(afterDown.map((r) => byId.get(r.id)?.upstream).filter((u) => u !== 'token-2')).toEqual([]);
    // Requests routed to token-1 after it died were refused before anything was sent, and went to token-2.
    const retried = xs.filter((x) => x.attempts.length > 1);
    for (const x of retried) expect(x).toMatchObject({ status: 200, upstream: 'token-2', attempts: [{ upstream: 'token-1', connected: false }, { upstream: 'token-2', connected: true }] });
    expect(suite.proxy.upstreams().find((u) => u.name === 'token-1')).toMatchObject({ healthy: false });

    // A replica that dies with nothing in flight is only found out by the next request (or poll): put the dead
    // port back in the table as if the proxy still believed in it. Those requests are refused before anything is
    // sent, so the proxy retries them on token-2 and none fails. The proxy's own readiness poll (every 500 ms) may
    // find the dead port before any request does — then nothing reaches it and the round proves nothing — so the
    // round is repeated (fresh entry, at most five times) until a request got there first. Never a failure in any.
    const client = await loadClient();
    let refused: ProxyExchange[] = [];
    let staleRounds = 0;
    while (refused.length === 0 && staleRounds < 5) {
      const label = `stale-${staleRounds++}`;
      suite.proxy.addUpstream('token', 'token-1-stale', victim.url);
      const stale = await runLoad(label, { total: 16, client });
      suite.proxy.removeUpstream('token-1-stale');
      expect(stale.filter((r) => r.status !== 200 || r.error)).toEqual([]);
      refused = exchangesOf(`${label}-`).filter((x) => x.attempts[0]?.upstream === 'token-1-stale');
    }
    expect(refused.length).toBeGreaterThan(0);
    for (const x of refused) {
      expect(x).toMatchObject({ status: 200, outcome: 'proxied', upstream: 'token-2', attempts: [{ upstream: 'token-1-stale', connected: false, error: 'ECONNREFUSED' }, { upstream: 'token-2', connected: true }] });
    }

    measured.kill = {
      requests: TOTAL,
      concurrency: CONCURRENCY,
      killedAfterCompleted: KILL_AFTER,
      failed: failures.length,
      failedIds: failures.map((f) => f.id),
      retriedBeforeSend: retried.length,
      staleReplicaRequestsRetriedBeforeSend: refused.length,
      staleReplicaRounds: staleRounds,
      msFromKillToExitSeen: Math.round(exitAt - killAt),
      msFromKillToOutOfRotation: Math.round(downAt - killAt),
      servedByToken2AfterKill: xs.filter((x) => x.upstream === 'token-2' && (x.dispatchedAt ?? 0) > killAt && x.status === 200).length,
      wallMs: Math.round(Math.max(...results.map((r) => r.endedAt)) - Math.min(...results.map((r) => r.startedAt))),
    };
  });

  it('SIGTERM to a token replica under load: readiness 503 during the grace period, every accepted request answered, exit 0, traffic moves to the other replica', async () => {
    const fresh = await suite.addTokenReplica(); // token-3 replaces the killed one
    await suite.proxy.checkHealth();
    expect(suite.proxy.upstreams().filter((u) => u.service === 'token' && u.healthy).map((u) => u.name).sort()).toEqual(['token-2', 'token-3']);
    const victim: AppProcess = suite.process('token-2');
    const TERM_AFTER = 100;
    const AFTER_EXIT = 100;
    let termAt = Infinity;
    let exitAt = Infinity;
    let completed = 0;
    let completedAtExit = Infinity;
    const readiness: { at: number; status: number | string }[] = [];
    let polling: Promise<void> | undefined;
    const pollReadiness = async (): Promise<void> => {
      while (!victim.exited()) {
        const at = performance.now();
        readiness.push({ at, status: await readyStatus(victim.url) });
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    const results = await runLoad('term', {
      stop: () => completed >= completedAtExit + AFTER_EXIT || performance.now() - termAt > 20_000,
      onCompleted: (n) => {
        completed = n;
        if (n !== TERM_AFTER) return;
        termAt = performance.now();
        victim.child.kill('SIGTERM');
        polling = pollReadiness();
        void victim.exit.then(() => {
          exitAt = performance.now();
          completedAtExit = completed;
        });
      },
    });
    await polling;
    const status = await victim.exit;
    const xs = exchangesOf('term-');
    const byId = new Map(xs.map((x) => [x.id, x]));
    const downAt = health.find((h) => h.upstream === 'token-2' && !h.healthy && h.at >= termAt);

    // The process exited 0, after the grace period.
    expect(status).toEqual({ code: 0, signal: null });
    expect(exitAt - termAt).toBeGreaterThanOrEqual(GRACE_MS);
    // Readiness answered 503 from the signal on (until the port closed); never 200 again.
    const during = readiness.filter((r) => r.at > termAt + 50);
    expect(during.some((r) => r.status === 503)).toBe(true);
    expect(during.filter((r) => r.status === 200)).toEqual([]);
    // The proxy took it out of rotation because readiness failed, before the grace period was over.
    expect(downAt).toMatchObject({ reason: 'readiness 503' });
    expect(downAt!.at - termAt).toBeLessThan(GRACE_MS);
    // Not one request failed: everything token-2 accepted (in flight at the signal, or routed to it before the
    // proxy noticed) got its answer, and everything else went to token-3.
    expect(results.filter((r) => r.status !== 200 || r.error)).toEqual([]);
    const answeredByVictimAfterTerm = xs.filter((x) => x.upstream === 'token-2' && x.endedAt > termAt);
    expect(answeredByVictimAfterTerm.length).toBeGreaterThan(0);
    expect(answeredByVictimAfterTerm.every((x) => x.status === 200 && x.outcome === 'proxied')).toBe(true);
    const afterDown = results.filter((r) => r.startedAt > downAt!.at + 5);
    expect(afterDown.length).toBeGreaterThan(AFTER_EXIT);
    expect(afterDown.map((r) => byId.get(r.id)?.upstream).filter((u) => u !== 'token-3')).toEqual([]);
    expect(xs.every((x) => x.attempts.length === 1)).toBe(true);

    // The process's own view: every term-* request it logged was answered 200, none aborted, and it said it stopped.
    const lines = victim
      .output()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { msg?: string; req?: { id?: string }; res?: { statusCode?: number } });
    const logged = lines.filter((l) => l.req?.id?.startsWith('term-'));
    expect(logged.length).toBe(xs.filter((x) => x.upstream === 'token-2').length);
    expect(logged.every((l) => l.msg === 'request completed' && l.res?.statusCode === 200)).toBe(true);
    expect(lines.some((l) => l.msg === 'stopped')).toBe(true);
    expect(fresh.exited()).toBe(false);

    measured.sigterm = {
      requests: results.length,
      concurrency: CONCURRENCY,
      graceMs: GRACE_MS,
      failed: 0,
      answeredByVictimAfterSigterm: answeredByVictimAfterTerm.length,
      msFromSigtermToOutOfRotation: Math.round(downAt!.at - termAt),
      msFromSigtermToExit: Math.round(exitAt - termAt),
      readinessAfterSigterm: summarise(during.map((r) => r.status)),
      servedByToken3AfterOutOfRotation: afterDown.length,
    };
  });
});

/** GET /health/ready on one process: the status, or the connection error's code. */
function readyStatus(url: string): Promise<number | string> {
  return new Promise((resolve) => {
    const req = get(`${url}/health/ready`, { agent: false, timeout: 1000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
  });
}

function summarise(values: readonly (number | string)[]): string {
  const runs: string[] = [];
  for (const v of values) {
    const last = runs.at(-1);
    if (last?.startsWith(`${v}×`)) runs[runs.length - 1] = `${v}×${Number(last.split('×')[1]) + 1}`;
    else runs.push(`${v}×1`);
  }
  return runs.join(', ');
}
