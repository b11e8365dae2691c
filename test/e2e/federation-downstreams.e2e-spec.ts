import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { decodeJwtUnverified } from '@fpa/crypto';
import { ChallengeClient } from '@fpa/testing';
import { startApp, type RunningApp } from '@fpa/testing/app';
import { downstreamsFile, embedded, federatingApp, postCallback } from '../support/federation';
import { startFlakyDownstream, type FlakyDownstream } from '../support/flaky-downstream';
import { expectNoStore } from '../support/http';

/** panva's oidc-provider in its own process (ESM-only); resolves with its issuer once it listens. */
async function startOidcProvider(): Promise<{ issuer: string; child: ChildProcess; requests(): Promise<Record<string, number>> }> {
  const child = spawn(process.execPath, [join(__dirname, '../support/oidc-provider-server.mjs')], { stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve, reject) => {
    const rl = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    rl.once('line', resolve);
    child.once('exit', (code) => reject(new Error(`oidc-provider exited (${code})`)));
  });
  const issuer = `http://127.0.0.1:${(JSON.parse(line) as { port: number }).port}`;
  return { issuer, child, requests: async () => (await (await fetch(`${issuer}/__requests`)).json()) as Record<string, number> };
}

/**
 * Issue 10, the federating side against other servers: a real OAuth server with PAR and no native
 * endpoint (oidc-provider: FED-9, `native_authorization_federate_unsupported` and no PAR sent), and a
 * downstream whose token endpoint is slow, answers garbage or 503 (503 `temporarily_unavailable`, the
 * federation left resumable: the same code, never redeemed, completes once the downstream answers).
 */
describe('federation, federating side: downstreams that cannot or do not answer', () => {
  let as1: RunningApp;
  let op: Awaited<ReturnType<typeof startOidcProvider>>;
  let flaky: FlakyDownstream;

  beforeAll(async () => {
    op = await startOidcProvider();
    flaky = await startFlakyDownstream();
    const file = downstreamsFile([
      { issuer: op.issuer, client_id: 'as1' },
      { issuer: flaky.issuer, client_id: 'as1', trust: { amr: ['otp'] } },
    ]);
    as1 = await startApp({ label: 'fed_down', overrides: { ...embedded(), FEDERATION_DOWNSTREAMS_FILE: file, FEDERATION_HTTP_TIMEOUT_MS: '1000', FEDERATION_HTTP_MAX_BYTES: '65536' } });
    await as1.createClient(federatingApp('https://bank-b.example', { noNative: op.issuer, down: 'https://down.example', flaky: flaky.issuer }));
  });
  afterAll(async () => {
    await as1?.close();
    await flaky?.close();
    // Waits for the provider's process to end, so no pipe to it keeps this worker alive.
    if (op && op.child.exitCode === null) {
      const exited = new Promise((resolve) => op.child.once('exit', resolve));
      op.child.kill();
      await exited;
    }
  });

  async function choose(bank: string): Promise<{ app: ChallengeClient; res: Awaited<ReturnType<ChallengeClient['send']>> }> {
    const app = await ChallengeClient.create(as1.issuer);
    await app.send({ client_id: 'fed-app', response_type: 'code', code_challenge: app.codeChallenge, code_challenge_method: 'S256', scope: 'openid' });
    return { app, res: await app.send({ bank }) };
  }

  it('FED-9: a downstream with PAR but no native endpoint → native_authorization_federate_unsupported, and no PAR was sent', async () => {
    const meta = (await (await fetch(`${op.issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    expect(meta.pushed_authorization_request_endpoint).toEqual(expect.any(String));
    const { res } = await choose('no-native');
    expect(res.status).toBe(400);
    expectNoStore(res);
    expect(res.body.error).toBe('native_authorization_federate_unsupported');
    const seen = await op.requests();
    expect(seen['/.well-known/openid-configuration']).toBeGreaterThanOrEqual(1);
    expect(seen['/request'] ?? 0).toBe(0);
  });

  it('a token endpoint that answers garbage, 503, too much or too late: 503 temporarily_unavailable, then the same code completes', async () => {
    const { app, res } = await choose('flaky');
    expect(res.body.error).toBe('federate');
    expect(flaky.parRequests).toBe(1);
    const post = () => postCallback(as1.issuer, app, { auth_session: app.authSession as string, authorization_code: 'downstream-code-1' });
    for (const mode of ['garbage', 'error_503', 'huge', 'slow'] as const) {
      flaky.mode = mode;
      const failed = await post();
      expect({ mode, status: failed.status, error: failed.body.error }).toEqual({ mode, status: 503, error: 'temporarily_unavailable' });
      expect(failed.body.auth_session).toBe(app.authSession);
    }
    flaky.mode = 'ok';
    const done = await post();
    expect(done.status).toBe(200);
    const token = await app.redeem(done.body.authorization_code as string, { client_id: 'fed-app' });
    const claims = decodeJwtUnverified(token.body.access_token as string).payload;
    // `fed`, and of the downstream's amr only what it is trusted for (otp, not pwd).
    expect(claims.amr).toEqual(expect.arrayContaining(['fed', 'otp']));
    expect(claims.amr).not.toContain('pwd');
    // Redeemed once: the federation is over.
    expect((await post()).status).toBe(400);
  });
});
