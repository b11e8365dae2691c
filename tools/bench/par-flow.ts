import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EXAMPLE_DETAIL_TYPES } from '@fpa/authz-request';
import { randomToken, s256CodeChallenge } from '@fpa/crypto';
import type { AppProcess } from '@fpa/testing';
import { emptyGroup, finish, type BenchContext, type GroupResult } from './context';
import type { PreparedRequest } from './device-flow';
import { runMaxThroughput } from './load';
import type { BenchOptions } from './options';
import { fmt, MAX_FAILURE_RATIO, measured } from './phases';
import { failureRatio, type PhaseReport } from './report';

/**
 * The PAR phase (issue 9): `POST /par` from a confidential client with client_secret_basic, each
 * request a complete authorization request of its own — PKCE S256 challenge, state, scope,
 * redirect URI and one `payment_initiation` authorization details object — so the server does the
 * whole job every time: Basic credentials, client lookup, secret hash, parameter and JSON Schema
 * validation, one Redis write of the pushed request.
 */

export const PAR_CLIENT_ID = 'bench-par-web';
export const PAR_CLIENT = {
  client_id: PAR_CLIENT_ID,
  name: 'Benchmark web app (PAR)',
  type: 'confidential',
  grant_types: ['authorization_code'],
  auth_methods: ['client_secret_basic'],
  scopes: ['openid', 'payments'],
  redirect_uris: ['https://bench.example.com/cb'],
  authorization_details_types: ['payment_initiation'],
};

/** AUTHORIZATION_DETAILS_FILE for the token process: the embedded default's example types. */
export function writeDetailsFile(): string {
  const file = join(mkdtempSync(join(tmpdir(), 'fpa-bench-rar-')), 'authorization-details.json');
  writeFileSync(file, JSON.stringify(EXAMPLE_DETAIL_TYPES));
  return file;
}

/** The client secret from the CLI's `client create` output ("client_secret (shown once, …): <secret>"). */
export function secretFrom(cliOutput: string): string {
  const m = /client_secret[^:]*:\s*(\S+)/.exec(cliOutput);
  if (!m) throw new Error(`no client_secret in the CLI output:\n${cliOutput}`);
  return m[1];
}

/** `count` distinct pushes, authenticated with client_secret_basic. */
export function parRequests(clientId: string, secret: string, count: number): PreparedRequest[] {
  const headers = {
    'content-type': 'application/x-www-form-urlencoded',
    authorization: `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64')}`,
  };
  return Array.from({ length: count }, (_, i) => ({
    headers,
    body: new URLSearchParams({
      client_id: clientId,
      response_type: 'code',
      redirect_uri: PAR_CLIENT.redirect_uris[0],
      code_challenge: s256CodeChallenge(randomToken(32)),
      code_challenge_method: 'S256',
      scope: 'openid payments',
      state: randomToken(16),
      authorization_details: JSON.stringify([
        { type: 'payment_initiation', actions: ['initiate'], instructedAmount: { currency: 'EUR', amount: `${1 + (i % 999)}.00` }, creditorName: 'Merchant A', creditorAccount: { iban: 'DE02120300000000202051' } },
      ]),
    }).toString(),
  }));
}

export const isParResponse = (b: Record<string, unknown>): boolean => typeof b.request_uri === 'string' && b.request_uri.startsWith('urn:ietf:params:oauth:request_uri:') && typeof b.expires_in === 'number';

/** Unreported pushes before the measured phase (JIT, pool connections, the client cache). */
export const parWarmupCount = (options: BenchOptions): number => Math.min(2_000, Math.max(options.connections * 4, Math.ceil(options.parRequests / 10)));

/** Warm-up, then the measured closed-loop phase against the token process. */
export async function runParPhase(issuer: string, token: AppProcess, options: BenchOptions, secret: string, warmup: number, log: (msg: string) => void): Promise<PhaseReport> {
  const stopAt = (): number => Date.now() + options.maxPhaseSeconds * 1000;
  const w = await runMaxThroughput('PAR warm-up', issuer, '/par', parRequests(PAR_CLIENT_ID, secret, warmup + options.connections), options.connections, warmup, stopAt());
  log(`PAR warm-up: ${fmt(w.completed)} pushes, ${fmt(w.rps)} req/s, non-2xx ${w.non2xx}`);
  if (failureRatio(w) > MAX_FAILURE_RATIO) {
    const sample = ([...w.samples].find(([status]) => status >= 300)?.[1][0] ?? '').slice(0, 500);
    throw new Error(`the warm-up pushes fail (non-2xx ${w.non2xx}, errors ${w.errors}): ${sample}\n${token.output().slice(-4000)}`);
  }
  const requests = parRequests(PAR_CLIENT_ID, secret, options.parRequests + options.connections);
  return measured(token, () => runMaxThroughput('PAR, client_secret_basic (max throughput)', issuer, '/par', requests, options.connections, options.parRequests, stopAt()));
}

/** The settings line of the report. */
export function parSettings(options: BenchOptions, warmup: number): string {
  return `PAR phase (issue 9): ${fmt(options.parRequests)} pushes (\`BENCH_PAR_REQUESTS\`) to \`POST /par\` of the token process over ${options.connections} connections (closed loop), bounded by ${options.maxPhaseSeconds} s, after ${fmt(warmup)} unreported warm-up pushes. Every push authenticates with client_secret_basic and is a complete authorization request of its own: \`client_id\`, \`response_type=code\`, the registered \`redirect_uri\`, a fresh S256 \`code_challenge\` and \`state\`, \`scope=openid payments\` and one \`payment_initiation\` \`authorization_details\` object (validated against its JSON Schema; \`AUTHORIZATION_DETAILS_FILE\` = the embedded default's example types, set for the token process in this run only when the PAR phase runs); each stores one pushed request in Redis (60 s TTL). No DPoP proof. Client: \`${JSON.stringify(PAR_CLIENT)}\` (created with the CLI).`;
}

/** The PAR group: its client (the secret is kept, never logged), warm-up and the measured phase. */
export async function runParPhases(ctx: BenchContext): Promise<GroupResult> {
  const out = emptyGroup();
  if (!ctx.options.phases.has('par')) return out;
  const warmup = parWarmupCount(ctx.options);
  // The CLI prints the secret once.
  const secret = secretFrom(await ctx.createClient(PAR_CLIENT));
  ctx.log(`created client ${PAR_CLIENT_ID} (confidential, client_secret_basic)`);
  finish(out, ctx.log, await runParPhase(ctx.issuer, ctx.token, ctx.options, secret, warmup, ctx.log), isParResponse);
  out.settings.push(parSettings(ctx.options, warmup));
  return out;
}
