import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createTransport } from 'nodemailer';
import { CLIENT_METADATA_DEFAULTS, type Client } from '@fpa/clients';
import type { EndpointOutcome } from '@fpa/interaction';
import { renderBrowser, type PageContext } from '@fpa/web-login';
import {
  asksFor,
  authorizationRequest,
  authorizePath,
  loginBody,
  loginCookie,
  pageError,
  prepareBrowserRounds,
  readLoginForm,
  readRedirect,
  requestUriOf,
  runBrowserRoundTrips,
  tokenBody,
  type BrowserClient,
} from './browser-flow';
import { startCodeSink, type CodeSink } from './smtp-sink';

const ISSUER = 'https://issuer.example';
const CLIENT: BrowserClient = { clientId: 'web', redirectUri: 'https://app.example.com/cb', scope: 'api' };

/** The real renderer of libs/web-login, so the driver reads the markup the server sends. */
function page(outcome: EndpointOutcome, interactionId: string, csrf: string, error?: string): string {
  const client = { id: 'web', name: 'Web', type: 'public', firstParty: true, grantTypes: ['authorization_code'], authMethods: ['none'], secretHash: null, scopes: ['api'], resources: [], permissions: [], dpopBoundAccessTokens: false, enabled: true, challengePolicy: null, ...CLIENT_METADATA_DEFAULTS, assertionAudience: null } as Client;
  const ctx: PageContext = {
    client,
    interactionId,
    csrf,
    loginHint: undefined,
    parametersOf: () => ['code'],
    enrolActionOf: () => undefined,
    identifying: ['email_otp'],
    describeType: () => undefined,
    redirectWith: (p) => `${CLIENT.redirectUri}?${new URLSearchParams(p).toString()}`,
    ...(error ? { error } : {}),
  };
  const a = renderBrowser(outcome, ctx);
  return a.kind === 'page' ? a.html : '';
}
const FIRST: EndpointOutcome = { kind: 'need_more', authSession: 's', status: 'method_required', challenge: {}, methods: ['email_otp'] };
const CODE: EndpointOutcome = { kind: 'need_more', authSession: 's', status: 'code_sent', challenge: { challenge_type: 'email_otp', destination: 'u***@bench.example.com' }, methods: ['email_otp'] };

describe('browser login round-trip driver: its pure parts', () => {
  it('reads the hidden interaction and CSRF inputs, what the page asks for, and its error region', () => {
    const first = page(FIRST, 'Int_erac-tion12345678A', 'csrf-token_1');
    expect(readLoginForm(first)).toEqual({ interaction: 'Int_erac-tion12345678A', csrf: 'csrf-token_1' });
    expect([asksFor(first, 'email'), asksFor(first, 'code')]).toEqual([true, false]);
    expect(pageError(first)).toBeUndefined();
    const code = page(CODE, 'i2', 'c2');
    expect([asksFor(code, 'email'), asksFor(code, 'code')]).toEqual([false, true]);
    expect(pageError(page(CODE, 'i2', 'c2', 'That code is not right & expired'))).toBe('That code is not right &amp; expired');
    expect(readLoginForm('<p>Sign-in error</p>')).toBeUndefined();
  });

  it('keeps the login cookie as name=value and ignores others', () => {
    expect(loginCookie('fpa_login=abc_DEF-1; Path=/; HttpOnly; SameSite=Lax')).toBe('fpa_login=abc_DEF-1');
    expect(loginCookie(['other=1; Path=/', 'fpa_login=xyz; Path=/'])).toBe('fpa_login=xyz');
    expect(loginCookie(['__Host-fpa_login=s; Path=/; Secure'], '__Host-fpa_login')).toBe('__Host-fpa_login=s');
    expect(loginCookie('fpa_login=; Path=/')).toBeUndefined();
    expect(loginCookie(undefined)).toBeUndefined();
  });

  it('builds the authorization request (PKCE S256), the form posts and the code exchange', () => {
    const [r, s] = prepareBrowserRounds(2, 'tag');
    expect(r.email).toBe('b0.tag@bench.example.com');
    expect(s.email).toBe('b1.tag@bench.example.com');
    expect(r.codeChallenge).toBe(createHash('sha256').update(r.verifier).digest('base64url'));
    expect(r.state).not.toBe(s.state);
    const q = new URLSearchParams(authorizePath(authorizationRequest(CLIENT, r)).replace('/authorize?', ''));
    expect(Object.fromEntries(q)).toEqual({ client_id: 'web', response_type: 'code', redirect_uri: CLIENT.redirectUri, scope: 'api', state: r.state, code_challenge: r.codeChallenge, code_challenge_method: 'S256' });
    expect(loginBody({ interaction: 'i', csrf: 'c' }, { challenge_type: 'email_otp', email: 'a+b@x.example' })).toBe('interaction=i&csrf=c&challenge_type=email_otp&email=a%2Bb%40x.example');
    expect(Object.fromEntries(new URLSearchParams(tokenBody(CLIENT, 'the-code', r)))).toEqual({ grant_type: 'authorization_code', client_id: 'web', code: 'the-code', code_verifier: r.verifier, redirect_uri: CLIENT.redirectUri });
    expect(requestUriOf('{"request_uri":"urn:ietf:params:oauth:request_uri:abc","expires_in":60}')).toBe('urn:ietf:params:oauth:request_uri:abc');
    expect(requestUriOf('{"error":"invalid_request"}')).toBeUndefined();
    expect(requestUriOf('<html>')).toBeUndefined();
  });

  it('accepts only the redirect back to the registered URI with the code, the same state and iss', () => {
    const expected = { redirectUri: CLIENT.redirectUri, state: 'st', issuer: ISSUER };
    const at = (q: Record<string, string>, base = CLIENT.redirectUri): string => `${base}?${new URLSearchParams(q).toString()}`;
    expect(readRedirect(at({ code: 'c1', state: 'st', iss: ISSUER }), expected)).toEqual({ code: 'c1' });
    expect(readRedirect(at({ error: 'access_denied', state: 'st', iss: ISSUER }), expected)).toEqual({ problem: 'error=access_denied' });
    expect(readRedirect(at({ code: 'c1', state: 'other', iss: ISSUER }), expected)).toEqual({ problem: 'wrong state' });
    expect(readRedirect(at({ code: 'c1', state: 'st' }), expected)).toEqual({ problem: 'iss=null' });
    expect(readRedirect(at({ code: 'c1', state: 'st', iss: ISSUER }, 'https://evil.example/cb'), expected)).toEqual({ problem: 'to https://evil.example/cb' });
    expect(readRedirect(undefined, expected)).toEqual({ problem: 'no Location' });
  });
});

/**
 * The closed loop against a stand-in server that renders the real pages: it checks the cookie,
 * the hidden inputs and PKCE, sends the code by real SMTP to the sink, and refuses one email.
 */
describe('browser login round-trip driver against a stand-in server', () => {
  let sink: CodeSink;
  let server: http.Server;
  let url: string;
  const logins = new Map<string, { email?: string; code?: string; query: Record<string, string> }>();
  const codes = new Map<string, string>();
  const pushed = new Map<string, Record<string, string>>();

  beforeAll(async () => {
    sink = await startCodeSink();
    const mail = createTransport(sink.url);
    server = http.createServer((req, res) => {
      let raw = '';
      req.on('data', (c: Buffer) => (raw += c.toString()));
      req.on('end', () => {
        void (async () => {
          const html = (status: number, body: string, headers: Record<string, string> = {}): void => {
            res.writeHead(status, { 'content-type': 'text/html', ...headers });
            res.end(body);
          };
          const json = (status: number, body: unknown): void => {
            res.writeHead(status, { 'content-type': 'application/json' });
            res.end(JSON.stringify(body));
          };
          const u = new URL(req.url!, 'http://x');
          const form = Object.fromEntries(new URLSearchParams(raw));
          if (u.pathname === '/par') {
            const uri = `urn:ietf:params:oauth:request_uri:${pushed.size}`;
            pushed.set(uri, form);
            return json(201, { request_uri: uri, expires_in: 60 });
          }
          if (u.pathname === '/authorize') {
            let query = Object.fromEntries(u.searchParams);
            if (query.request_uri) query = pushed.get(query.request_uri)!;
            const id = `i${logins.size}`;
            logins.set(id, { query });
            return html(200, page(FIRST, id, `csrf-${id}`), { 'set-cookie': `fpa_login=secret-${id}; Path=/; HttpOnly; SameSite=Lax` });
          }
          const login = logins.get(form.interaction);
          if (u.pathname === '/authorize/login') {
            if (!login || req.headers.cookie !== `fpa_login=secret-${form.interaction}` || form.csrf !== `csrf-${form.interaction}`) return html(403, '<p>This sign-in was started in another browser.</p>');
            if (form.email) {
              if (form.email.startsWith('b3.')) return html(200, page(FIRST, form.interaction, form.csrf, 'Enter a valid email address.'));
              login.email = form.email;
              login.code = String(200000 + logins.size);
              await mail.sendMail({ from: 'as@example.com', to: form.email, subject: 'code', text: `Your sign-in code is ${login.code}. It expires.` });
              return html(200, page(CODE, form.interaction, form.csrf));
            }
            if (form.code !== login.code) return html(200, page(CODE, form.interaction, form.csrf, 'That code is not right.'));
            const code = `code-${form.interaction}`;
            codes.set(code, form.interaction);
            res.writeHead(303, { location: `${login.query.redirect_uri}?${new URLSearchParams({ code, state: login.query.state, iss: ISSUER }).toString()}` });
            return res.end();
          }
          const q = logins.get(codes.get(form.code) ?? '')?.query;
          const ok = q && form.client_id === 'web' && form.redirect_uri === q.redirect_uri && createHash('sha256').update(form.code_verifier).digest('base64url') === q.code_challenge;
          return ok ? json(200, { access_token: 'at', token_type: 'Bearer', expires_in: 60 }) : json(400, { error: 'invalid_grant' });
        })();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    await sink.close();
  });

  it.each([false, true])('runs round trips, timing each step, and counts a refused email (pushed: %s)', async (pushedFirst) => {
    // Upper case in the addresses: the sink matches recipients case-insensitively.
    const rounds = prepareBrowserRounds(8, `P${String(pushedFirst)}`);
    const r = await runBrowserRoundTrips({ title: 't', challengeUrl: url, tokenUrl: url, issuer: ISSUER, client: CLIENT, pushed: pushedFirst, rounds, concurrency: 3, stopAt: Date.now() + 20_000, sink });
    expect(r.roundsStarted).toBe(8);
    expect(r.completed).toBe(7);
    expect([...r.unexpected]).toEqual([['email error on the page', 1]]);
    expect(r.unexpectedSamples.get('email error on the page')).toEqual(['Enter a valid email address.']);
    expect([r.non2xx, r.errors]).toEqual([1, 0]);
    expect(Object.keys(r.steps)).toEqual(pushedFirst ? ['par', 'authorize', 'email', 'code', 'token'] : ['authorize', 'email', 'code', 'token']);
    for (const s of Object.values(r.steps)) expect([s.completed, s.latency.p50 > 0]).toEqual([7, true]);
    expect(r.latency.p50).toBeGreaterThan(0);
    expect(r.emailsReceived).toBe(7);
    expect(JSON.parse(r.samples.get(200)![0])).toMatchObject({ token_type: 'Bearer' });
  });
});
