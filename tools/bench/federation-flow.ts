import { createDpopProof, generateClientKeyPair, randomToken, s256CodeChallenge, type ClientKeyPair } from '@fpa/crypto';
import { walkNativeAuthorization, type AuthorizationChallenge, type EndpointResponse, type WalkPort } from '@fpa/client-sdk';
import { keepAlivePoster, type FormResponse, type NonceSlot } from '@fpa/testing';
import { keepAliveAgent, runClosedLoop, StepFailure, stepRequest, unexpected, type ClosedLoopResult, type RoundTiming } from './closed-loop';
import { mapConcurrent } from './device-flow';
import type { CodeSink } from './smtp-sink';

/**
 * Issue 10: the federated login (draft-zehavi-oauth-native-clients-federation) as a native app makes
 * it, closed loop, through the SDK's own walk (`walkNativeAuthorization`, what `FirstPartyClient.authorize`
 * runs): AS1's first request → 400 insufficient_information → the routing answer → 400 federate (AS1
 * pushed the request to AS2) → AS2's native endpoint with client_id + request_uri → 403 method_required
 * → the e-mail → 403 code_sent → the code from the SMTP sink → 200 AS2's code → AS1's
 * /federation/callback (AS1 redeems it at AS2) → 200 AS1's code → AS1's /token. The local login is the
 * same walk with the routing answered `local`: AS1's e-mail OTP instead of AS2's.
 */

export const FEDERATED_STEPS = ['information', 'federate', 'downstream_begin', 'downstream_email', 'downstream_code', 'callback', 'token'] as const;
export const LOCAL_STEPS = ['information', 'route_local', 'email', 'code', 'token'] as const;
export type FederatedStep = (typeof FEDERATED_STEPS)[number];
export type LocalStep = (typeof LOCAL_STEPS)[number];
export type Variant = 'federated' | 'local';

/** The form parameter of the routing round (the select list `bank`) and what each variant answers. */
export const ROUTE_PARAM = 'bank';
export const ROUTE_ANSWER: Readonly<Record<Variant, string>> = { federated: 'bank-b', local: 'here' };

/**
 * Which step of a login a request is, from where it goes and what it carries (pure). A routing
 * answer is `federate` or `route_local` by variant; e-mail and code are the downstream's when the
 * request goes to another origin than AS1's.
 */
export function classifyStep(url: string, params: Readonly<Record<string, unknown>>, homeOrigin: string, variant: Variant): FederatedStep | LocalStep {
  const u = new URL(url);
  const downstream = u.origin !== homeOrigin;
  if (u.pathname.endsWith('/federation/callback')) return 'callback';
  if (u.pathname.endsWith('/token')) return 'token';
  if (params.code !== undefined) return downstream ? 'downstream_code' : 'code';
  if (params.email !== undefined) return downstream ? 'downstream_email' : 'email';
  if (params.request_uri !== undefined) return 'downstream_begin';
  if (params[ROUTE_PARAM] !== undefined) return variant === 'federated' ? 'federate' : 'route_local';
  return 'information';
}

/** A request as it left: its step and when (performance.now()). */
export interface StepMark<S extends string> {
  readonly step: S;
  readonly at: number;
}

/**
 * Each step's time (pure): from its first request to the next step's first request (so a step that
 * waits for an e-mail lasts until the code is in hand), the last one until `end`. A step seen twice
 * (a second code attempt) adds up; a step never seen, or one not listed, is an error.
 */
export function stepDurations<S extends string>(marks: readonly StepMark<string>[], end: number, steps: readonly S[]): Record<S, number> {
  const out = Object.fromEntries(steps.map((s) => [s, 0])) as Record<S, number>;
  const seen = new Set<string>();
  marks.forEach((m, i) => {
    if (!(steps as readonly string[]).includes(m.step)) throw new Error(`unexpected step ${m.step}`);
    seen.add(m.step);
    out[m.step as S] += (i + 1 < marks.length ? marks[i + 1].at : end) - m.at;
  });
  const missing = steps.filter((s) => !seen.has(s));
  if (missing.length > 0) throw new Error(`steps never taken: ${missing.join(', ')}`);
  return out;
}

/** What one login needs that does not depend on the servers: a fresh DPoP key (a new app), PKCE, a unique address. */
export interface LoginMaterial {
  readonly key: ClientKeyPair;
  readonly verifier: string;
  readonly email: string;
}

export async function prepareLogins(count: number, tag: string): Promise<LoginMaterial[]> {
  return mapConcurrent(count, 64, async (i) => ({ key: await generateClientKeyPair('ES256'), verifier: randomToken(32), email: `f${i}.${tag}@bench.example.com` }));
}

export interface FederationRunSpec {
  readonly title: string;
  readonly variant: Variant;
  /** AS1: ISSUER = where requests go. */
  readonly home: string;
  readonly clientId: string;
  readonly logins: readonly LoginMaterial[];
  readonly concurrency: number;
  /** No login starts after this (epoch ms); logins in flight finish. */
  readonly stopAt: number;
  readonly sink: CodeSink;
  readonly requestTimeoutMs?: number;
}

export interface FederationRunResult<S extends string> extends ClosedLoopResult<S> {
  /** Requests repeated after `use_dpop_nonce` (each server has its own nonce; the app keeps the newest of each). */
  readonly nonceRetries: number;
}

/** Step names are FEDERATED_STEPS or LOCAL_STEPS, by variant. */
export async function runFederatedLogins(spec: FederationRunSpec): Promise<FederationRunResult<string>> {
  const timeoutMs = spec.requestTimeoutMs ?? 10_000;
  const steps: readonly string[] = spec.variant === 'federated' ? FEDERATED_STEPS : LOCAL_STEPS;
  const agent = keepAliveAgent(spec.concurrency * 2);
  const post = keepAlivePoster(agent, timeoutMs);
  const homeOrigin = new URL(spec.home).origin;
  // DPOP-27: a nonce per server, the newest kept and shared by every app (as the challenge phase does).
  const nonces = new Map<string, NonceSlot>();
  let nonceRetries = 0;

  /** One DPoP-proved POST (the proof's htu is the URL: each suite's ISSUER is its own URL), one retry on use_dpop_nonce. */
  const send = async (key: ClientKeyPair, url: string, form: Record<string, string>, step: string, accessToken?: string): Promise<FormResponse> => {
    const origin = new URL(url).origin;
    const slot = nonces.get(origin) ?? nonces.set(origin, { value: undefined }).get(origin)!;
    for (let attempt = 0; ; attempt++) {
      const headers: Record<string, string> = { dpop: await createDpopProof(key, { htm: 'POST', htu: url, nonce: slot.value, accessToken }) };
      if (accessToken) headers.authorization = `DPoP ${accessToken}`;
      const res = await stepRequest(step, post(url, form, headers));
      const fresh = res.headers.get('dpop-nonce');
      if (fresh) slot.value = fresh;
      if (res.body.error !== 'use_dpop_nonce' || attempt > 0) return res;
      nonceRetries++;
    }
  };

  const runLogin = async (login: LoginMaterial): Promise<RoundTiming<string>> => {
    const marks: StepMark<string>[] = [];
    let last: { step: string; res: FormResponse } | undefined;
    const port: WalkPort = {
      async request(url, params, accessToken): Promise<EndpointResponse> {
        const step = classifyStep(url, params, homeOrigin, spec.variant);
        marks.push({ step, at: performance.now() });
        const form = Object.fromEntries(Object.entries(params).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]));
        const res = await send(login.key, url, form, step, accessToken);
        last = { step, res };
        return res;
      },
      emit: () => undefined,
    };
    const onChallenge = async (c: AuthorizationChallenge): Promise<Record<string, string> | undefined> => {
      if (c.status === 'code_sent') {
        try {
          return { code: await spec.sink.code(login.email, timeoutMs) };
        } catch (e) {
          return unexpected(`${last?.step ?? '?'} no email`, (e as Error).message);
        }
      }
      if (c.methods.includes('email_otp')) return { challenge_type: 'email_otp', email: login.email };
      return undefined;
    };
    const t0 = performance.now();
    let code: string;
    try {
      const first = { client_id: spec.clientId, response_type: 'code', code_challenge: s256CodeChallenge(login.verifier), code_challenge_method: 'S256', scope: 'openid' };
      ({ authorizationCode: code } = await walkNativeAuthorization(port, { endpoint: `${spec.home}/authorize-challenge`, accessToken: undefined, params: first }, { onChallenge, onInformation: () => Promise.resolve({ [ROUTE_PARAM]: ROUTE_ANSWER[spec.variant] }) }));
    } catch (e) {
      if (e instanceof StepFailure) throw e;
      return unexpected(`${last?.step ?? 'information'} ${last?.res.status ?? 0}`, last?.res.text ?? (e as Error).message);
    }
    marks.push({ step: 'token', at: performance.now() });
    const token = await send(login.key, `${spec.home}/token`, { grant_type: 'authorization_code', code, code_verifier: login.verifier, client_id: spec.clientId }, 'token');
    if (token.status !== 200 || typeof token.body.access_token !== 'string' || token.body.token_type !== 'DPoP') unexpected(`token ${token.status}`, token.text);
    const end = performance.now();
    let durations: Record<string, number>;
    try {
      durations = stepDurations(marks, end, steps);
    } catch (e) {
      return unexpected('steps', (e as Error).message);
    }
    return { steps: durations, total: end - t0, lastBody: token.text };
  };

  try {
    const result = await runClosedLoop({ title: spec.title, steps, rounds: spec.logins, concurrency: spec.concurrency, stopAt: spec.stopAt, sink: spec.sink, emailOf: (l) => l.email, runRound: runLogin });
    return { ...result, nonceRetries };
  } finally {
    agent.destroy();
  }
}
