import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { randomToken, sha256B64u, type ClientKeyPair } from '@fpa/crypto';
import { applyMutations, bodyPlan, encodeBody, extraHeaders, mutations, pct, type BodyPlan, type Mutation, type Pairs } from './encoding';
import { APP, RS_ID, WEB, type Fixtures } from './fixtures';
import { buildJwt, jwtPlan, type JwtPlan } from './jwt';
import type { FuzzRequest } from './transport';
import { hostileHeaderValue, hostileString } from './values';

/**
 * Every endpoint of the standalone app as a fast-check target: a plan (pure data, so fast-check
 * can shrink it) and how to turn it into a request from a valid skeleton — a registration, each
 * grant, introspection, revocation, the challenge endpoint's three ways in, the sample API, the
 * GET documents — so most hostile inputs get past the first check and reach the one they aim at.
 */

export const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const ASSERTION_CLAIMS = ['iss', 'sub', 'aud', 'exp', 'iat', 'nbf', 'jti', 'device_auth_session', 'client_id'];
const PROOF_CLAIMS = ['jti', 'htm', 'htu', 'iat', 'nonce', 'ath'];
const ACCESS_CLAIMS = ['iss', 'sub', 'aud', 'exp', 'iat', 'jti', 'client_id', 'auth_session', 'scope', 'cnf'];

/**
 * What a request attacks. One dimension at a time (the rest stays valid) lets most inputs get past
 * the first check to the one they aim at; `chaos` keeps every generated attack at once.
 */
export const FOCUSES = ['mutations', 'jwt', 'proof', 'body', 'headers', 'none', 'chaos'] as const;
export type Focus = (typeof FOCUSES)[number];

export interface Plan {
  readonly target: string;
  readonly focus: Focus;
  readonly variant: number;
  readonly mutations: Mutation[];
  readonly body: BodyPlan;
  readonly headers: [string, string][];
  /** The client assertion, access token or forged token the target uses. */
  readonly jwt: JwtPlan;
  /** The DPoP proof; `undefined`: no proof header. */
  readonly proof: JwtPlan | undefined;
  readonly pick: number;
  readonly hostile: string;
}

interface Target {
  readonly name: string;
  readonly weight: number;
  readonly names: readonly string[];
  readonly json?: boolean;
  build(p: Plan, fx: Fixtures): Promise<FuzzRequest>;
}

const now = (): number => Math.floor(Date.now() / 1000);

async function proofFor(fx: Fixtures, plan: JwtPlan | undefined, key: ClientKeyPair, htm: string, path: string, accessToken?: string): Promise<[string, string][]> {
  if (!plan) return [];
  const claims: Record<string, unknown> = { jti: randomUUID(), htm, htu: `${fx.issuer}${path}`, iat: now(), nonce: await fx.nonce() };
  if (accessToken) claims.ath = sha256B64u(accessToken);
  const proof = buildJwt(plan, { header: { typ: 'dpop+jwt', alg: 'ES256', jwk: key.publicJwk }, claims, key, other: fx.otherKey, publicPem: fx.dpopKey.publicPem, privateJwk: fx.dpopKey.privateJwk });
  return [['DPoP', proof]];
}

function assertion(fx: Fixtures, plan: JwtPlan): string {
  const claims = { iss: APP.client_id, sub: APP.client_id, aud: fx.issuer, iat: now(), exp: now() + 60, jti: randomUUID(), device_auth_session: fx.device.authSession };
  return buildJwt(plan, { header: { alg: 'ES256', typ: 'client-authentication+jwt' }, claims, key: fx.deviceKey.pair, other: fx.otherKey, publicPem: fx.deviceKey.publicPem, privateJwk: fx.deviceKey.privateJwk });
}

/** An at+jwt as an attacker would forge it (signed with a key that is not the AS's), or the real one. */
function accessToken(fx: Fixtures, p: Plan): string {
  if (p.pick % 3 === 0) return fx.accessToken;
  const claims = { iss: fx.issuer, sub: APP.client_id, aud: 'https://api.example.com', client_id: APP.client_id, iat: now(), exp: now() + 300, jti: randomUUID(), auth_session: fx.device.authSession, scope: 'api.read', cnf: { jkt: fx.dpopKey.pair.jkt } };
  return buildJwt(p.jwt, { header: { alg: 'ES256', typ: 'at+jwt', kid: 'k' }, claims, key: fx.deviceKey.pair, other: fx.otherKey, publicPem: fx.deviceKey.publicPem, privateJwk: fx.deviceKey.privateJwk });
}

function formRequest(family: string, path: string, skeleton: Pairs, p: Plan, headers: [string, string][]): FuzzRequest {
  const { pairs, json } = applyMutations(skeleton, p.mutations);
  const encoded = encodeBody(p.body, pairs, json);
  return { family, method: 'POST', path, headers: [...encoded.headers, ...headers, ...p.headers], body: encoded.body };
}

function registrationKey(fx: Fixtures, p: Plan): string {
  const key = fx.registrable[p.pick % fx.registrable.length];
  switch (p.variant % 6) {
    case 0:
      return fx.deviceKey.publicPem;
    case 1:
      return JSON.stringify(fx.deviceKey.privateJwk);
    case 2:
      return JSON.stringify({ ...key.publicJwk, x: p.hostile });
    default:
      return JSON.stringify(key.publicJwk);
  }
}

function clientAuth(fx: Fixtures, p: Plan): { pairs: Pairs; headers: [string, string][] } {
  const basic = (id: string, secret: string): [string, string] => ['Authorization', `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`];
  switch (p.variant % 6) {
    case 0:
      return { pairs: [], headers: [basic(RS_ID, fx.rsSecret)] };
    case 1:
      return { pairs: [], headers: [basic(p.hostile, fx.rsSecret)] };
    case 2:
      return { pairs: [], headers: [basic(encodeURIComponent(RS_ID), p.hostile)] };
    case 3:
      return { pairs: [['client_id', RS_ID], ['client_secret', fx.rsSecret]], headers: [] };
    case 4:
      return { pairs: [['client_assertion_type', ASSERTION_TYPE], ['client_assertion', assertion(fx, p.jwt)]], headers: [] };
    default:
      return { pairs: [['client_id', APP.client_id]], headers: [] };
  }
}

/** What /introspect and /revoke are asked about; only the victim's tokens may be revoked. */
function managedToken(fx: Fixtures, p: Plan, revoking: boolean): string {
  return [revoking ? fx.victim.accessToken : fx.accessToken, fx.victim.refreshToken, accessToken(fx, p), p.hostile][p.pick % 4];
}

const GET_PATHS = ['/', '/jwks', '/.well-known/oauth-authorization-server', '/.well-known/openid-configuration', '/openapi.json', '/docs', '/health/live', '/health/ready', '/token', '/register', '/authorize-challenge', '/api/me', '/nope', '/federation/jwks', '/federation/callback', '/.well-known/openid-federation'];
const METHODS = ['GET', 'GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD', 'TRACE', 'CONNECT', 'G\u0000T', 'get', 'X'.repeat(300)];

/** Malformed HTTP/1.1 for the parser (issue 8 item 4): every answer must still be the JSON error shape. */
function malformedHttp(p: Plan, host: string): { raw: string; answerExpected?: boolean } {
  // Connection: close, so the server ends the exchange once it answered.
  const h = `Host: ${host}\r\nConnection: close\r\n`;
  const shapes: (() => { raw: string; answerExpected?: boolean })[] = [
    () => ({ raw: `GET /${'a'.repeat(16_400 + (p.pick % 5000))} HTTP/1.1\r\n${h}\r\n` }),
    () => ({ raw: `GET /jwks HTTP/1.1\r\n${h}${Array.from({ length: 200 + (p.pick % 300) }, (_, i) => `X-F${i}: ${'v'.repeat(90)}\r\n`).join('')}\r\n` }),
    () => ({ raw: `GET /jwks HTTP/1.1\n${h.replace(/\r\n/g, '\n')}\n` }),
    () => ({ raw: 'GET /\r\n\r\n' }),
    () => ({ raw: `GET /jwks HTTP/1.1\r\n${h}X-Folded: a\r\n b\r\n\r\n` }),
    () => ({ raw: `POST /token HTTP/1.1\r\n${h}Transfer-Encoding: chunked\r\n\r\nffffffffffffffffffff\r\nx\r\n0\r\n\r\n` }),
    () => ({ raw: `POST /token HTTP/1.1\r\n${h}Transfer-Encoding: chunked\r\n\r\n1;${'e'.repeat(20_000)}\r\nx\r\n0\r\n\r\n` }),
    () => ({ raw: `POST /token HTTP/1.1\r\n${h}Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n` }),
    () => ({ raw: `POST /token HTTP/1.1\r\n${h}Content-Length: ${['-1', '1e3', ' 4', '4, 5', '0x10', '99999999999999999999'][p.pick % 6]}\r\n\r\nabcd` }),
    () => ({ raw: `GET /jwks HTTP/1.1\r\n${h}${['Bad Name', 'X\u0000Y', 'X:Y', '', 'X\tY'][p.pick % 5]}: v\r\n\r\n` }),
    () => ({ raw: `POST /token HTTP/1.1\r\n${h}Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 3\r\n\r\na=bGET /jwks HTTP/1.1\r\n${h}X: ${p.hostile}\r\n\r\n` }),
    () => ({ raw: `${p.hostile.replace(/\s/g, '') || 'X'} /jwks HTTP/1.1\r\n${h}\r\n` }),
    () => ({ raw: `GET http://evil.example/jwks HTTP/1.1\r\n${h}\r\n` }),
    () => ({ raw: `POST /token HTTP/1.1\r\n${h}Expect: 100-continue\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 3\r\n\r\na=b` }),
    () => ({ raw: `POST /token HTTP/1.1\r\n${h}Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n` }),
    () => ({ raw: `${p.hostile}\r\n\r\n`, answerExpected: false }),
  ];
  return shapes[p.variant % shapes.length]();
}

export const TARGETS: readonly Target[] = [
  {
    name: 'register',
    weight: 2,
    names: ['client_id', 'public_key', 'alg', 'state', 'nonce'],
    build: async (p, fx) => {
      const viaToken = p.variant % 2 === 1;
      const skeleton: Pairs = [...(viaToken ? [['grant_type', 'fp_register'] as [string, string]] : []), ['client_id', APP.client_id], ['public_key', registrationKey(fx, p)], ['alg', 'ES256'], ['state', 'st'], ['nonce', 'n']];
      return formRequest(viaToken ? 'token:fp_register' : 'register', viaToken ? '/token' : '/register', skeleton, p, []);
    },
  },
  {
    name: 'client_credentials',
    weight: 3,
    names: ['grant_type', 'client_assertion_type', 'client_assertion', 'scope', 'resource', 'client_id'],
    build: async (p, fx) => {
      const skeleton: Pairs = [['grant_type', 'client_credentials'], ['client_assertion_type', ASSERTION_TYPE], ['client_assertion', assertion(fx, p.jwt)], ['scope', 'api.read']];
      return formRequest('token:client_credentials', '/token', skeleton, p, await proofFor(fx, p.proof, fx.dpopKey.pair, 'POST', '/token'));
    },
  },
  {
    name: 'refresh_token',
    weight: 1,
    names: ['grant_type', 'refresh_token', 'client_id', 'scope'],
    build: async (p, fx) => {
      const skeleton: Pairs = [['grant_type', 'refresh_token'], ['refresh_token', fx.victim.refreshToken], ['client_id', APP.client_id]];
      return formRequest('token:refresh_token', '/token', skeleton, p, await proofFor(fx, p.proof, fx.victim.dpopKey, 'POST', '/token'));
    },
  },
  {
    name: 'authorization_code',
    weight: 1,
    names: ['grant_type', 'code', 'code_verifier', 'client_id', 'redirect_uri'],
    build: async (p, fx) => {
      const skeleton: Pairs = [['grant_type', 'authorization_code'], ['code', fx.usedCode], ['code_verifier', randomToken(32)], ['client_id', APP.client_id]];
      return formRequest('token:authorization_code', '/token', skeleton, p, await proofFor(fx, p.proof, fx.flow.key, 'POST', '/token'));
    },
  },
  {
    name: 'introspect_revoke',
    weight: 2,
    names: ['token', 'token_type_hint', 'client_id', 'client_secret', 'client_assertion', 'client_assertion_type'],
    build: async (p, fx) => {
      const path = p.pick % 2 === 0 ? '/introspect' : '/revoke';
      const auth = clientAuth(fx, p);
      const skeleton: Pairs = [['token', managedToken(fx, p, path === '/revoke')], ['token_type_hint', ['access_token', 'refresh_token', p.hostile][p.variant % 3]], ...auth.pairs];
      return formRequest(path.slice(1), path, skeleton, p, auth.headers);
    },
  },
  {
    name: 'challenge',
    weight: 4,
    json: true,
    names: ['client_id', 'response_type', 'code_challenge', 'code_challenge_method', 'login_hint', 'acr_values', 'scope', 'auth_session', 'code', 'challenge_type', 'action', 'credential', 'max_age', 'native_callback_uri', 'request_uri', 'bank', 'email'],
    build: async (p, fx) => {
      const way = p.variant % 3;
      if (way === 0) {
        // (a) a public client starts a flow with a fresh DPoP key.
        const skeleton: Pairs = [['client_id', APP.client_id], ['response_type', 'code'], ['code_challenge', fx.flow.codeChallenge], ['code_challenge_method', 'S256'], ['login_hint', `fuzz${p.pick}@example.com`]];
        return formRequest('challenge:public', '/authorize-challenge', skeleton, p, await proofFor(fx, p.proof, fx.otherKey, 'POST', '/authorize-challenge'));
      }
      if (way === 1) {
        // A follow-up of the flow waiting for its code, with its key.
        const skeleton: Pairs = [['auth_session', fx.flow.authSession ?? ''], ['code', String(100000 + (p.pick % 900000))]];
        return formRequest('challenge:follow-up', '/authorize-challenge', skeleton, p, await proofFor(fx, p.proof, fx.flow.key, 'POST', '/authorize-challenge'));
      }
      // (b) a registered device with its access token (or a forged one).
      const token = accessToken(fx, p);
      const skeleton: Pairs = [['login_hint', `device${p.pick}@example.com`]];
      const headers: [string, string][] = [['Authorization', `DPoP ${token}`], ...(await proofFor(fx, p.proof, fx.dpopKey.pair, 'POST', '/authorize-challenge', token))];
      return formRequest('challenge:device', '/authorize-challenge', skeleton, p, headers);
    },
  },
  {
    name: 'browser',
    weight: 2,
    names: ['client_id', 'response_type', 'redirect_uri', 'code_challenge', 'code_challenge_method', 'state', 'scope', 'request_uri', 'authorization_details', 'prompt', 'login_hint', 'acr_values', 'interaction', 'csrf', 'challenge_type', 'email', 'code', 'consent', 'cancel'],
    build: async (p, fx) => {
      if (p.variant % 2 === 0) {
        // GET /authorize: the query of a valid request, mutated (its errors are pages or redirects, never JSON).
        const skeleton: Pairs = [['client_id', WEB.client_id], ['response_type', 'code'], ['redirect_uri', WEB.redirect_uris[0]], ['code_challenge', fx.browser.codeChallenge], ['code_challenge_method', 'S256'], ['state', `s${p.pick}`], ['scope', 'openid']];
        const { pairs } = applyMutations(skeleton, p.mutations);
        const query = pairs.map(([k, v]) => `${pct(k)}=${pct(v)}`).join('&');
        return { family: 'browser:authorize', method: 'GET', path: `/authorize?${query}`, headers: p.headers };
      }
      // POST /authorize/login: the live login form, mutated, with its cookie (or a hostile one).
      const skeleton: Pairs = [['interaction', fx.browser.interaction], ['csrf', fx.browser.csrf], ['challenge_type', 'email_otp'], ['email', `browser${p.pick}@example.com`]];
      const cookie = [fx.browser.cookie, fx.browser.cookie, `fpa_login=${p.hostile}`, p.hostile][p.pick % 4];
      return formRequest('browser:login', '/authorize/login', skeleton, p, [['Cookie', cookie]]);
    },
  },
  {
    // Issue 10: the federating server's response_uri (FED-12), with the live flow's session and key or others.
    name: 'federation_callback',
    weight: 1,
    names: ['auth_session', 'authorization_code', 'error', 'error_description', 'state'],
    build: async (p, fx) => {
      const skeleton: Pairs = p.variant % 3 === 2 ? [['auth_session', fx.flow.authSession ?? ''], ['error', 'access_denied']] : [['auth_session', fx.flow.authSession ?? ''], ['authorization_code', randomToken(32)]];
      const key = p.variant % 2 === 0 ? fx.flow.key : fx.otherKey;
      return formRequest('federation:callback', '/federation/callback', skeleton, p, await proofFor(fx, p.proof, key, 'POST', '/federation/callback'));
    },
  },
  {
    name: 'resource',
    weight: 2,
    names: [],
    build: async (p, fx) => {
      const path = ['/api/me', '/api/profile', '/api/payments'][p.pick % 3];
      const token = accessToken(fx, p);
      const scheme = ['DPoP', 'DPoP', 'Bearer', 'dpop', p.hostile][p.variant % 5];
      const headers: [string, string][] = [['Authorization', `${scheme} ${token}`], ...(await proofFor(fx, p.proof, fx.dpopKey.pair, 'GET', path, token))];
      return { family: 'resource', method: 'GET', path, headers: [...headers, ...p.headers] };
    },
  },
  {
    name: 'http',
    weight: 1,
    names: [],
    build: async (p, fx) => {
      const { raw, answerExpected } = malformedHttp(p, new URL(fx.issuer).host);
      return { family: 'http', method: 'RAW', path: '', headers: [], raw: Buffer.from(raw, 'utf8'), answerExpected };
    },
  },
  {
    name: 'documents',
    weight: 1,
    names: [],
    build: async (p) => {
      const method = METHODS[p.variant % METHODS.length];
      const base = GET_PATHS[p.pick % GET_PATHS.length];
      const suffix = ['', `?${p.hostile}`, `/${pct(p.hostile).slice(0, 9000)}`, p.hostile.slice(0, 9000), '/..%2f..%2fetc%2fpasswd', '%00', '?a=1&a=2'][p.variant % 7];
      return { family: 'documents', method, path: `${base}${suffix}`, headers: p.headers, body: method === 'POST' ? Buffer.from(p.hostile) : undefined };
    },
  },
];

const VALID_JWT: JwtPlan = { header: 'valid', claim: undefined, signature: 'valid', shape: 'compact', hostile: '' };
const VALID_BODY: BodyPlan = { encoding: 'form', contentType: undefined, contentEncoding: 'none', garbage: '' };

/** The plan with everything but its focus made valid. */
export function focused(p: Plan): Plan {
  if (p.focus === 'chaos') return p;
  return {
    ...p,
    mutations: p.focus === 'mutations' ? p.mutations : [],
    body: p.focus === 'body' ? p.body : p.focus === 'mutations' && p.body.encoding === 'json' ? { ...VALID_BODY, encoding: 'json' } : VALID_BODY,
    headers: p.focus === 'headers' ? p.headers : [],
    jwt: p.focus === 'jwt' ? p.jwt : VALID_JWT,
    proof: p.focus === 'proof' ? p.proof : VALID_JWT,
  };
}

export function planFor(target: Target): fc.Arbitrary<Plan> {
  return fc.record({
    target: fc.constant(target.name),
    focus: fc.oneof(
      { arbitrary: fc.constant<Focus>('mutations'), weight: 4 },
      { arbitrary: fc.constantFrom<Focus>('jwt', 'proof', 'body', 'headers'), weight: 6 },
      { arbitrary: fc.constantFrom<Focus>('none', 'chaos'), weight: 1 },
    ),
    variant: fc.nat(1000),
    mutations: target.names.length > 0 ? mutations(target.names) : fc.constant([]),
    body: bodyPlan(target.json === true),
    headers: extraHeaders,
    jwt: jwtPlan(target.name === 'resource' || target.name === 'challenge' ? ACCESS_CLAIMS : ASSERTION_CLAIMS),
    proof: fc.option(jwtPlan(PROOF_CLAIMS), { nil: undefined, freq: 8 }),
    pick: fc.nat(1_000_000),
    hostile: fc.oneof(hostileString, hostileHeaderValue),
  });
}

export const TARGET_BY_NAME = new Map(TARGETS.map((t) => [t.name, t]));
