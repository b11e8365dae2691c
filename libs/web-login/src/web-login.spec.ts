import { CLIENT_METADATA_DEFAULTS, type Client } from '@fpa/clients';
import { loadConfig } from '@fpa/config';
import { BrowserBinding } from './browser-binding.service';
import { errorPage, renderBrowser, type PageContext } from './html/pages';
import { redirectWith } from './redirect';
import { readQuery } from './web-login.controller';

const client = (overrides: Partial<Client> = {}): Client => ({
  id: 'web',
  name: 'Web <b>"App"</b>',
  type: 'confidential',
  firstParty: true,
  grantTypes: ['authorization_code'],
  authMethods: ['client_secret_basic'],
  secretHash: null,
  scopes: ['openid'],
  resources: [],
  permissions: [],
  dpopBoundAccessTokens: false,
  enabled: true,
  challengePolicy: null,
  ...CLIENT_METADATA_DEFAULTS,
  assertionAudience: null,
  ...overrides,
});

const ctx = (overrides: Partial<PageContext> = {}): PageContext => ({
  client: client(),
  interactionId: 'i-1',
  csrf: 'csrf-1',
  loginHint: undefined,
  parametersOf: (m) => (m.endsWith('_otp') || m === 'totp' ? ['code'] : []),
  enrolActionOf: (m) => ({ passkey: 'register', totp: 'enroll' })[m],
  identifying: ['email_otp', 'sms_otp'],
  describeType: () => undefined,
  redirectWith: (p) => redirectWith('https://app.example.com/cb?x=1', p),
  ...overrides,
});

const html = (a: ReturnType<typeof renderBrowser>): string => (a.kind === 'page' ? a.html : '');

describe('browser pages (issue 9 item 4)', () => {
  it('every value from outside is escaped: client name, logo, destination, login hint, authorization details', () => {
    const page = html(
      renderBrowser(
        { kind: 'need_more', authSession: 's', status: 'code_sent', challenge: { challenge_type: 'email_otp', destination: '<img src=x onerror=alert(1)>' }, methods: ['email_otp'] },
        ctx({ client: client({ logoUri: 'https://x.example/"><script>' }), loginHint: '"><script>alert(1)</script>@x' }),
      ),
    );
    expect(page).not.toMatch(/<script>|<img src=x|<b>/);
    expect(page).toContain('Web &lt;b&gt;&quot;App&quot;&lt;/b&gt;');
    const consent = html(
      renderBrowser({ kind: 'consent_required', authSession: 's', scopes: ['<x>'], authorizationDetails: [{ type: 'account_information', actions: ['</dl><script>'] }] }, ctx({ describeType: () => 'Read <accounts>' })),
    );
    expect(consent).not.toMatch(/<script>|<x>|<accounts>/);
    expect(consent).toContain('Read &lt;accounts&gt;');
  });

  it('federation outcomes (the native endpoint’s) render a page to cancel, never a 500 or a redirect', () => {
    for (const outcome of [
      { kind: 'insufficient_information' as const, authSession: 's', userPrompt: { inputs: { email: { title: 'E-mail' } } } },
      { kind: 'federate' as const, authSession: 's', federationUri: 'https://as2.example/ac', federationBody: 'client_id=a&request_uri=u', responseUri: 'https://as1.example/federation/callback' },
    ]) {
      const answer = renderBrowser(outcome, ctx());
      expect(answer).toMatchObject({ kind: 'page', status: 200 });
      expect(html(answer)).not.toContain('request_uri=u');
    }
  });

  it('OTP pages are plain forms (no script needed), each carrying the interaction and its CSRF token', () => {
    const page = html(renderBrowser({ kind: 'need_more', authSession: 's', status: 'code_sent', challenge: { challenge_type: 'email_otp', destination: 'a*@x' }, methods: ['email_otp', 'sms_otp'] }, ctx()));
    expect(page).not.toContain('<script');
    const forms = page.match(/<form [^>]*>[\s\S]*?<\/form>/g) ?? [];
    expect(forms.length).toBeGreaterThanOrEqual(3);
    for (const f of forms) {
      expect(f).toContain('action="/authorize/login"');
      expect(f).toContain('name="csrf" value="csrf-1"');
      expect(f).toContain('name="interaction" value="i-1"');
    }
    // Every input has a label (accessible markup).
    for (const [, id] of page.matchAll(/<input id="([^"]+)"/g)) expect(page).toContain(`<label for="${id}">`);
  });

  it('a passkey page loads the scripts and embeds its options as inert JSON', () => {
    const page = html(
      renderBrowser(
        { kind: 'need_more', authSession: 's', status: 'assertion_required', challenge: { challenge_type: 'passkey', public_key_credential_request_options: { challenge: '</script><script>x' } }, methods: ['passkey'] },
        ctx(),
      ),
    );
    expect(page).toContain('<script src="/authorize/assets/webauthn.js" defer></script>');
    expect(page).toContain('\\u003c/script>');
    expect(page).not.toContain('</script><script>x');
  });

  it('adding a credential is offered once a factor identified the user; before that, identification first', () => {
    const identified = html(renderBrowser({ kind: 'need_more', authSession: 's', status: 'additional_method_required', challenge: {}, methods: ['passkey'] }, ctx()));
    expect(identified).toContain('name="action" value="register"');
    const anonymous = html(renderBrowser({ kind: 'need_more', authSession: 's', status: 'method_required', challenge: {}, methods: ['passkey'] }, ctx()));
    expect(anonymous).not.toContain('name="action" value="register"');
    expect(anonymous).toContain('No passkey yet?');
    expect(anonymous).toContain('value="email_otp"');
  });

  it('a code is a redirect to the registered URI, its own query kept (RFC 6749 §3.1.2)', () => {
    expect(renderBrowser({ kind: 'code', authSession: 's', authorizationCode: 'c1' }, ctx())).toEqual({ kind: 'redirect', location: 'https://app.example.com/cb?x=1&code=c1' });
  });

  it('error pages name no internals', () => {
    expect(errorPage(400, 'Bad <thing>')).toMatchObject({ kind: 'page', status: 400 });
    expect(html(errorPage(400, 'Bad <thing>'))).toContain('Bad &lt;thing&gt;');
  });
});

describe('BrowserBinding', () => {
  const config = (issuer: string) => loadConfig('standalone', { ISSUER: issuer, KEY_ENCRYPTION_KEY: Buffer.alloc(32, 7).toString('base64url'), DPOP_NONCE_SECRET: Buffer.alloc(32, 9).toString('base64url') });

  it('cookie: HttpOnly, SameSite=Lax; Secure with the __Host- prefix on https, plain on loopback http', () => {
    const https = new BrowserBinding(config('https://as.example.com'));
    expect(https.setCookie('s'.repeat(43))).toBe(`__Host-fpa_login=${'s'.repeat(43)}; Path=/; HttpOnly; SameSite=Lax; Secure`);
    const http = new BrowserBinding(config('http://127.0.0.1:3000'));
    expect(http.setCookie('s'.repeat(43))).toBe(`fpa_login=${'s'.repeat(43)}; Path=/; HttpOnly; SameSite=Lax`);
  });

  it('reads only a well-formed secret from its own cookie', () => {
    const b = new BrowserBinding(config('https://as.example.com'));
    const secret = b.newSecret();
    expect(b.secretOf({ headers: { cookie: `a=1; __Host-fpa_login=${secret}; b=2` } } as never)).toBe(secret);
    expect(b.secretOf({ headers: { cookie: `fpa_login=${secret}` } } as never)).toBeUndefined();
    expect(b.secretOf({ headers: { cookie: '__Host-fpa_login=short' } } as never)).toBeUndefined();
    expect(b.bindingKey(secret)).not.toContain(secret);
  });

  it('a CSRF token is valid only for its interaction and its browser', () => {
    const b = new BrowserBinding(config('https://as.example.com'));
    const [s1, s2] = [b.newSecret(), b.newSecret()];
    const token = b.csrfToken('i-1', s1);
    expect(b.checkCsrf('i-1', s1, token)).toBe(true);
    expect(b.checkCsrf('i-2', s1, token)).toBe(false);
    expect(b.checkCsrf('i-1', s2, token)).toBe(false);
    expect(b.checkCsrf('i-1', s1, undefined)).toBe(false);
    expect(b.checkCsrf('i-1', s1, `${token}x`)).toBe(false);
    // Another deployment's key makes another token.
    const other = new BrowserBinding(loadConfig('standalone', { ISSUER: 'https://as.example.com', KEY_ENCRYPTION_KEY: Buffer.alloc(32, 8).toString('base64url'), DPOP_NONCE_SECRET: Buffer.alloc(32, 9).toString('base64url') }));
    expect(other.checkCsrf('i-1', s1, token)).toBe(false);
  });
});

describe('readQuery (RFC 6749 §3.1)', () => {
  it('omits empty values and keeps a repeated parameter as a list (refused by the service)', () => {
    expect({ ...readQuery('/authorize?client_id=a&state=&scope=x&scope=y') }).toEqual({ client_id: 'a', scope: ['x', 'y'] });
    expect({ ...readQuery('/authorize') }).toEqual({});
    expect({ ...readQuery('/authorize?a=%E0%A4%A') }).toEqual({ a: '\uFFFD%A' });
  });
});
