import { FirstPartyClient } from '@fpa/client-sdk';
import { createDpopProof, type ClientKeyPair } from '@fpa/crypto';
import { JanitorService } from '@fpa/janitor';
import { DEVICE_CLIENT, runCli } from '@fpa/testing';
import { startStandalone, type RunningApp } from '@fpa/testing/app';
import { asNonce, postForm, type FormResponse } from '../support/http';

const ACCESS_TOKEN_TTL = 60;
const REFRESH_TOKEN_TTL = 3600;
const SKEW = 5;

/**
 * Issue 8 item 5 through the real services: what the janitor keeps still works (a rotated refresh
 * token of a live family is detected as reused after a run), every run is recorded and every app
 * shows the last one at scrape time, and the CLI prints its JSON summary and exits non-zero on failure.
 * (janitor.e2e-spec.ts: every boundary, batches, locks.)
 */
describe('janitor: reuse detection, the run record and its metrics, the CLI (standalone, PostgreSQL + Redis)', () => {
  let suite: RunningApp;
  let janitor: JanitorService;
  let nonce: string | undefined;

  beforeAll(async () => {
    suite = await startStandalone('janitorruns', {
      ACCESS_TOKEN_TTL_SECONDS: String(ACCESS_TOKEN_TTL),
      REFRESH_TOKEN_TTL_SECONDS: String(REFRESH_TOKEN_TTL),
      DEVICE_SESSION_TTL_SECONDS: '86400',
      CLOCK_SKEW_SECONDS: String(SKEW),
    });
    await suite.createClient(DEVICE_CLIENT);
    janitor = suite.get(JanitorService);
  });
  afterAll(async () => suite?.close());

  const sql = <T = Record<string, unknown>>(text: string, params: unknown[] = []): Promise<T[]> => suite.env.db.query<T>(text, params);
  const later = (seconds: number): Date => new Date(suite.clock.nowMs() + seconds * 1000);

  /** A refresh request with a proof by `key` (one retry on use_dpop_nonce). */
  async function redeem(refreshToken: string, key: ClientKeyPair): Promise<FormResponse> {
    const url = `${suite.issuer}/token`;
    for (let attempt = 0; ; attempt++) {
      nonce ??= await asNonce(suite.issuer);
      const res = await postForm(url, { grant_type: 'refresh_token', refresh_token: refreshToken, client_id: DEVICE_CLIENT.client_id }, { dpop: await createDpopProof(key, { htm: 'POST', htu: url, nonce }) });
      nonce = res.headers.get('dpop-nonce') ?? nonce;
      if (res.body.error === 'use_dpop_nonce' && attempt === 0) continue;
      return res;
    }
  }

  async function metrics(): Promise<string> {
    const res = await fetch(`${suite.issuer}/metrics`);
    expect(res.status).toBe(200);
    return res.text();
  }
  const gauge = (text: string, name: string): number | undefined => {
    const m = new RegExp(`^${name.replace(/[{}"=]/g, '\\$&')} (\\S+)$`, 'm').exec(text);
    return m ? Number(m[1]) : undefined;
  };

  it('before any run: the last success is 0 (the alert fires until the first run) and no run is reported', async () => {
    const text = await metrics();
    expect(gauge(text, 'fpa_janitor_last_success_timestamp_seconds')).toBe(0);
    expect(text).not.toMatch(/^fpa_janitor_last_run_timestamp_seconds\{/m);
    expect(text).not.toMatch(/^fpa_janitor_rows_deleted\{/m);
  });

  it('a rotated refresh token whose family is still live survives a run and is still detected as reused; once the family is dead, it goes', async () => {
    const device = await FirstPartyClient.create({ issuer: suite.issuer, clientId: DEVICE_CLIENT.client_id });
    await device.register();
    const rt0 = (await device.requestToken()).refresh_token!;
    await device.refresh();
    const rt2 = (await device.refresh()).refresh_token!;
    const family = async (): Promise<string[]> =>
      (await sql<{ status: string }>('SELECT status FROM refresh_tokens WHERE auth_session = $1 ORDER BY created_at, id', [device.authSession])).map((r) => r.status);
    expect((await family()).sort()).toEqual(['active', 'rotated', 'rotated']);

    // Every access token of the family long expired, the family itself redeemable for a while yet.
    const run = await janitor.run({ asOf: later(REFRESH_TOKEN_TTL - 600) });
    expect(run.outcome).toBe('success');
    expect(run.deleted.refresh_tokens).toBe(0);
    expect(await family()).toHaveLength(3);

    // rt0 presented again: reuse — refused, and the whole family revoked with it.
    const reuse = await redeem(rt0, device.dpopKey);
    expect({ status: reuse.status, error: reuse.body.error }).toEqual({ status: 400, error: 'invalid_grant' });
    expect(await family()).toEqual(['revoked', 'revoked', 'revoked']);
    expect((await redeem(rt2, device.dpopKey)).body.error).toBe('invalid_grant');

    // Past the family's absolute expiry and its last access token (+ skew): nothing left to detect or revoke.
    expect((await janitor.run({ asOf: later(REFRESH_TOKEN_TTL + ACCESS_TOKEN_TTL + SKEW + 60) })).deleted.refresh_tokens).toBe(3);
    expect(await family()).toEqual([]);
    // The device session (alive for a day) is untouched.
    expect(await sql('SELECT 1 FROM device_sessions WHERE auth_session = $1', [device.authSession])).toHaveLength(1);
  });

  it('each run is recorded, and /metrics shows the last one: success time, rows deleted per table, outcome, duration', async () => {
    await sql(`INSERT INTO token_revocations (jti, expires_at, reason) VALUES ('metrics-1', $1, 'test'), ('metrics-2', $1, 'test')`, [later(-3600)]);
    const run = await janitor.run();
    expect(run).toMatchObject({ outcome: 'success', deleted: expect.objectContaining({ token_revocations: 2 }) });
    const [row] = await sql<{ outcome: string; deleted: Record<string, number>; batches: number; finished_at: Date }>('SELECT outcome, deleted, batches, finished_at FROM janitor_runs WHERE id = $1', [run.runId]);
    expect(row).toMatchObject({ outcome: 'success', deleted: run.deleted, batches: run.batches });
    expect(new Date(row.finished_at).getTime()).toBe(run.finishedAt.getTime());

    await new Promise((r) => setTimeout(r, 1100)); // past the metrics' one-second sharing of a read
    const text = await metrics();
    expect(gauge(text, 'fpa_janitor_last_success_timestamp_seconds')).toBeCloseTo(run.finishedAt.getTime() / 1000, 3);
    expect(gauge(text, 'fpa_janitor_last_run_timestamp_seconds{outcome="success"}')).toBeCloseTo(run.finishedAt.getTime() / 1000, 3);
    expect(text).not.toMatch(/^fpa_janitor_last_run_timestamp_seconds\{outcome="failure"\}/m);
    expect(gauge(text, 'fpa_janitor_rows_deleted{table="token_revocations"}')).toBe(2);
    expect(gauge(text, 'fpa_janitor_rows_deleted{table="device_sessions"}')).toBe(0);
    expect(gauge(text, 'fpa_janitor_last_run_duration_seconds')).toBeCloseTo(run.durationMs / 1000, 3);
  });

  it('a failed run is recorded as failed: the last success stays where it was, the last run says failure', async () => {
    const before = gauge(await metrics(), 'fpa_janitor_last_success_timestamp_seconds')!;
    await sql('ALTER TABLE auth_attempts RENAME TO auth_attempts_away');
    let run;
    try {
      run = await janitor.run();
    } finally {
      await sql('ALTER TABLE auth_attempts_away RENAME TO auth_attempts');
    }
    expect(run.outcome).toBe('failure');
    expect(run.error).toMatch(/auth_attempts/);
    const [row] = await sql<{ outcome: string; error: string }>('SELECT outcome, error FROM janitor_runs WHERE id = $1', [run.runId]);
    expect(row).toEqual({ outcome: 'failure', error: run.error });

    await new Promise((r) => setTimeout(r, 1100));
    const text = await metrics();
    expect(gauge(text, 'fpa_janitor_last_success_timestamp_seconds')).toBe(before);
    expect(gauge(text, 'fpa_janitor_last_run_timestamp_seconds{outcome="failure"}')).toBeCloseTo(run.finishedAt.getTime() / 1000, 3);
    expect(text).not.toMatch(/^fpa_janitor_last_run_timestamp_seconds\{outcome="success"\}/m);
  });

  describe('the CLI: `janitor` prints one JSON summary and exits 0; 1 on failure; never a secret', () => {
    const env = (): Record<string, string> => suite.env.env;
    const summaryOf = (output: string): Record<string, unknown> => {
      const line = output.split('\n').find((l) => l.startsWith('{"outcome"'));
      if (!line) throw new Error(`no JSON summary in:\n${output}`);
      return JSON.parse(line) as Record<string, unknown>;
    };

    it('success: exit 0, rows deleted per table, batches, duration', async () => {
      await sql(`INSERT INTO token_revocations (jti, expires_at, reason) VALUES ('cli-1', $1, 'test')`, [new Date(Date.now() - 3600_000)]);
      const { code, output } = await runCli(['janitor', '--batch-size=1', '--pause-ms=1'], env(), { timeoutMs: 30_000 });
      expect(code).toBe(0);
      const s = summaryOf(output);
      expect(s).toMatchObject({ outcome: 'success', run_id: expect.any(String), batch_size: 1, duration_ms: expect.any(Number), sessions_skipped: 0 });
      expect(s.deleted).toMatchObject({ token_revocations: 1, device_sessions: 0, refresh_tokens: 0 });
      expect(Object.keys(s.deleted as object).sort()).toEqual(
        ['audit_events', 'auth_attempts', 'authorization_codes', 'device_sessions', 'janitor_runs', 'pop_keys', 'refresh_tokens', 'token_revocations', 'user_authentications'],
      );
      expect(s.batches).toBeGreaterThan(1);
      expect(await sql('SELECT outcome FROM janitor_runs WHERE id = $1', [s.run_id])).toEqual([{ outcome: 'success' }]);
    });

    it('a failing run: exit 1 with the failure in the JSON', async () => {
      await sql('ALTER TABLE auth_attempts RENAME TO auth_attempts_away');
      let result;
      try {
        result = await runCli(['janitor'], env(), { timeoutMs: 30_000 });
      } finally {
        await sql('ALTER TABLE auth_attempts_away RENAME TO auth_attempts');
      }
      expect(result.code).toBe(1);
      expect(summaryOf(result.output)).toMatchObject({ outcome: 'failure', error: expect.stringMatching(/auth_attempts/) });
    });

    it('PostgreSQL unreachable: exit 1, a JSON failure, and the password in DATABASE_URL never printed', async () => {
      const { code, output } = await runCli(['janitor'], { ...env(), DATABASE_URL: 'postgres://fpa:hunter2-secret@127.0.0.1:1/fpa' }, { timeoutMs: 30_000 });
      expect(code).toBe(1);
      expect(summaryOf(output)).toMatchObject({ outcome: 'failure', error: expect.any(String) });
      expect(output).not.toContain('hunter2-secret');
    });

    it('a bad option: usage, exit 2, nothing run', async () => {
      const runs = (await sql<{ n: string }>('SELECT count(*) AS n FROM janitor_runs'))[0].n;
      const { code } = await runCli(['janitor', '--batch-size=lots'], env(), { timeoutMs: 30_000 });
      expect(code).toBe(2);
      expect((await sql<{ n: string }>('SELECT count(*) AS n FROM janitor_runs'))[0].n).toBe(runs);
    });
  });
});
