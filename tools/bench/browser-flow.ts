import http, { type IncomingHttpHeaders } from 'node:http';
import { randomToken, s256CodeChallenge } from '@fpa/crypto';
import { keepAliveAgent, runClosedLoop, stepRequest, unexpected, type ClosedLoopResult, type RoundTiming, type StepStats } from './closed-loop';
import type { CodeSink } from './smtp-sink';

/**
 * The browser login round trip (issue 9), closed loop, as a browser without JavaScript would do it:
 * [push the request at `POST /par` of the token process →] `GET /authorize` on the challenge
 * process (the login page, its hidden `interaction` and `csrf` inputs and the login cookie) →
 * `POST /authorize/login` with the email (the code page; the code arrives at the SMTP sink) → the
 * code (`303` to the redirect URI with `code`, `state`, `iss`) → `POST /token`
 * grant_type=authorization_code on the token process. node:http with a keep-alive agent, like
 * the challenge driver (test/support/form-browser.ts is the same client on fetch).
 */

export const AUTHORIZE_PATH = '/authorize';
export const LOGIN_PATH = '/authorize/login';
const FORM = 'application/x-www-form-urlencoded';
/** The login cookie's name when the issuer is plain http (loopback); `__Host-fpa_login` behind https. */
export const LOGIN_COOKIE = 'fpa_login';

export const BROWSER_STEPS = ['authorize', 'email', 'code', 'token'] as const;
export const PAR_BROWSER_STEPS = ['par', ...BROWSER_STEPS] as const;
export type BrowserStep = (typeof PAR_BROWSER_STEPS)[number];

/** The client's side of one round: PKCE, state, and a new address (so every login creates a user). */
export interface BrowserRound {
  readonly verifier: string;
  readonly codeChallenge: string;
  readonly state: string;
  readonly email: string;
}

/** A public client (no secret, no DPoP) with one registered redirect URI. */
export interface BrowserClient {
  readonly clientId: string;
  readonly redirectUri: string;
  readonly scope: string;
}

export function prepareBrowserRounds(count: number, emailTag: string): BrowserRound[] {
  return Array.from({ length: count }, (_, i) => {
    const verifier = randomToken(32);
    return { verifier, codeChallenge: s256CodeChallenge(verifier), state: randomToken(12), email: `b${i}.${emailTag}@bench.example.com` };
  });
}

/** RFC 6749 §4.1.1 with PKCE S256 (RFC 7636): the query of `GET /authorize`, or the body of a push. */
export function authorizationRequest(client: BrowserClient, round: BrowserRound): Record<string, string> {
  return {
    client_id: client.clientId,
    response_type: 'code',
    redirect_uri: client.redirectUri,
    scope: client.scope,
    state: round.state,
    code_challenge: round.codeChallenge,
    code_challenge_method: 'S256',
  };
}

export const authorizePath = (params: Readonly<Record<string, string>>): string => `${AUTHORIZE_PATH}?${new URLSearchParams(params).toString()}`;

/** `name=value` of the login cookie from a Set-Cookie header, as the next request's Cookie header. */
export function loginCookie(setCookie: string | readonly string[] | undefined, name = LOGIN_COOKIE): string | undefined {
  const all = setCookie === undefined ? [] : typeof setCookie === 'string' ? [setCookie] : setCookie;
  for (const c of all) {
    const pair = c.split(';')[0].trim();
    if (pair.startsWith(`${name}=`) && pair.length > name.length + 1) return pair;
  }
  return undefined;
}

/** The hidden inputs every login form carries. */
export interface LoginForm {
  readonly interaction: string;
  readonly csrf: string;
}

const hidden = (html: string, name: string): string | undefined => new RegExp(`<input type="hidden" name="${name}" value="([^"]+)"`).exec(html)?.[1];

export function readLoginForm(html: string): LoginForm | undefined {
  const interaction = hidden(html, 'interaction');
  const csrf = hidden(html, 'csrf');
  return interaction && csrf ? { interaction, csrf } : undefined;
}

/** The message of the page's error region, when it is shown (it is always there, `hidden` when empty). */
export function pageError(html: string): string | undefined {
  const m = /<div id="error"[^>]*>([^<]*)<\/div>/.exec(html);
  if (!m || / hidden[ >]/.test(m[0])) return undefined;
  return m[1] || '(an empty error)';
}

/** Does the page ask for this input (`<input … name="email" …>`)? */
export const asksFor = (html: string, name: string): boolean => new RegExp(`<input [^>]*name="${name}"`).test(html);

/** A login form post: the page's hidden inputs, then the answer's fields. */
export const loginBody = (form: LoginForm, fields: Readonly<Record<string, string>>): string => new URLSearchParams({ ...form, ...fields }).toString();

/**
 * RFC 6749 §4.1.2 with RFC 9207: the redirect back must go to the registered URI and carry the
 * code, the request's state and the issuer. Returns the code, or what is wrong.
 */
export function readRedirect(location: string | undefined, expected: { redirectUri: string; state: string; issuer: string }): { code: string } | { problem: string } {
  if (!location) return { problem: 'no Location' };
  let url: URL;
  try {
    url = new URL(location);
  } catch {
    return { problem: `not a URL: ${location}` };
  }
  const q = url.searchParams;
  if (`${url.origin}${url.pathname}` !== expected.redirectUri) return { problem: `to ${url.origin}${url.pathname}` };
  if (q.has('error')) return { problem: `error=${q.get('error')}` };
  const code = q.get('code');
  if (!code) return { problem: 'no code' };
  if (q.get('state') !== expected.state) return { problem: 'wrong state' };
  if (q.get('iss') !== expected.issuer) return { problem: `iss=${q.get('iss')}` };
  return { code };
}

/** RFC 6749 §4.1.3 for a public client: client_id, the code, the PKCE verifier and the same redirect_uri. */
export function tokenBody(client: BrowserClient, code: string, round: BrowserRound): string {
  return new URLSearchParams({ grant_type: 'authorization_code', client_id: client.clientId, code, code_verifier: round.verifier, redirect_uri: client.redirectUri }).toString();
}

/** RFC 9126 §2.2: the `request_uri` of a push's 201 answer. */
export function requestUriOf(text: string): string | undefined {
  try {
    const uri = (JSON.parse(text) as { request_uri?: unknown }).request_uri;
    return typeof uri === 'string' && uri.startsWith('urn:ietf:params:oauth:request_uri:') ? uri : undefined;
  } catch {
    return undefined;
  }
}

interface Answer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly text: string;
}

function send(agent: http.Agent, url: string, method: 'GET' | 'POST', headers: Record<string, string>, body: string | undefined, timeoutMs: number): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const h = body === undefined ? headers : { ...headers, 'content-type': FORM, 'content-length': String(Buffer.byteLength(body)) };
    const req = http.request(url, { method, agent, headers: h }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`timeout after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

export interface BrowserRunSpec {
  readonly title: string;
  /** The challenge process, which serves the browser login. */
  readonly challengeUrl: string;
  /** The token process (`/par`, `/token`); its URL is the issuer. */
  readonly tokenUrl: string;
  readonly issuer: string;
  readonly client: BrowserClient;
  /** Push each request at `/par` first and open `/authorize` with its `request_uri` only. */
  readonly pushed: boolean;
  readonly rounds: readonly BrowserRound[];
  readonly concurrency: number;
  /** No round starts after this (epoch ms); rounds in flight finish. */
  readonly stopAt: number;
  readonly sink: CodeSink;
  readonly requestTimeoutMs?: number;
}

/** The steps of a round trip; `par` only when the requests were pushed. */
export type BrowserRunResult = ClosedLoopResult<Exclude<BrowserStep, 'par'>> & { readonly steps: { readonly par?: StepStats } };

export async function runBrowserRoundTrips(spec: BrowserRunSpec): Promise<BrowserRunResult> {
  const timeoutMs = spec.requestTimeoutMs ?? 10_000;
  const agent = keepAliveAgent(spec.concurrency);
  const get = (url: string, headers: Record<string, string> = {}): Promise<Answer> => send(agent, url, 'GET', headers, undefined, timeoutMs);
  const post = (url: string, body: string, headers: Record<string, string> = {}): Promise<Answer> => send(agent, url, 'POST', headers, body, timeoutMs);
  const { client } = spec;

  /** A page of the login with its form; anything else ends the round. */
  const page = (step: BrowserStep, a: Answer, wants: string): LoginForm => {
    const error = a.status === 200 ? pageError(a.text) : undefined;
    if (a.status !== 200) unexpected(`${step} ${a.status}`, a.headers.location ?? a.text);
    if (error !== undefined) unexpected(`${step} error on the page`, error);
    const form = readLoginForm(a.text);
    if (!form || !asksFor(a.text, wants)) unexpected(`${step} no ${wants} form`, a.text);
    return form!;
  };

  const runRound = async (round: BrowserRound): Promise<RoundTiming<BrowserStep>> => {
    const steps: Partial<Record<BrowserStep, number>> = {};
    const t0 = performance.now();
    let mark = t0;
    const done = (step: BrowserStep): void => {
      const now = performance.now();
      steps[step] = now - mark;
      mark = now;
    };
    let query = authorizationRequest(client, round);
    if (spec.pushed) {
      const pushed = await stepRequest('par', post(`${spec.tokenUrl}/par`, new URLSearchParams(query).toString()));
      const requestUri = pushed.status === 201 ? requestUriOf(pushed.text) : undefined;
      if (typeof requestUri !== 'string') unexpected(`par ${pushed.status}`, pushed.text);
      query = { client_id: client.clientId, request_uri: requestUri as string };
      done('par');
    }
    const first = await stepRequest('authorize', get(`${spec.challengeUrl}${authorizePath(query)}`));
    const cookie = loginCookie(first.headers['set-cookie']);
    const form = page('authorize', first, 'email');
    if (!cookie) unexpected('authorize no cookie', JSON.stringify(first.headers['set-cookie'] ?? null));
    done('authorize');
    const headers = { cookie: cookie! };
    const codePage = await stepRequest('email', post(`${spec.challengeUrl}${LOGIN_PATH}`, loginBody(form, { challenge_type: 'email_otp', email: round.email }), headers));
    const codeForm = page('email', codePage, 'code');
    let code: string;
    try {
      code = await spec.sink.code(round.email, timeoutMs);
    } catch (e) {
      return unexpected('email no email', (e as Error).message);
    }
    done('email');
    const back = await stepRequest('code', post(`${spec.challengeUrl}${LOGIN_PATH}`, loginBody(codeForm, { code }), headers));
    if (back.status !== 303) unexpected(`code ${back.status}`, pageError(back.text) ?? back.text);
    const redirect = readRedirect(back.headers.location, { redirectUri: client.redirectUri, state: round.state, issuer: spec.issuer });
    if ('problem' in redirect) return unexpected(`code redirect ${redirect.problem}`, back.headers.location ?? '');
    done('code');
    const token = await stepRequest('token', post(`${spec.tokenUrl}/token`, tokenBody(client, redirect.code, round)));
    if (token.status !== 200 || !/"access_token":"[^"]+"/.test(token.text) || !token.text.includes('"token_type":"Bearer"')) unexpected(`token ${token.status}`, token.text);
    done('token');
    return { steps: steps as Record<BrowserStep, number>, total: mark - t0, lastBody: token.text };
  };

  try {
    const steps = spec.pushed ? PAR_BROWSER_STEPS : BROWSER_STEPS;
    return (await runClosedLoop<BrowserRound, BrowserStep>({ title: spec.title, steps, rounds: spec.rounds, concurrency: spec.concurrency, stopAt: spec.stopAt, sink: spec.sink, emailOf: (r) => r.email, runRound })) as BrowserRunResult;
  } finally {
    agent.destroy();
  }
}
