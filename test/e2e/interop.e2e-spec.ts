import * as oauth from 'oauth4webapi';
import * as oidc from 'openid-client';
import type { Page } from 'playwright-core';
import { startApp, type RunningApp } from '@fpa/testing/app';
import { launchBrowser, startAppServer, type TestBrowser } from '../support/browser';
import { startSmtpSink, type SmtpSink } from '../support/smtp';

/**
 * Issue 9: the suite as independent OAuth client libraries see it — oauth4webapi (panva) and
 * openid-client v6 driving discovery, the browser authorization endpoint (a headless Chromium
 * completes the login), the code exchange with PKCE and DPoP, refresh, introspection and
 * revocation. Nothing here uses the suite's own client code.
 */
describe('interop: oauth4webapi and openid-client against the suite', () => {
  let suite: RunningApp;
  let smtp: SmtpSink;
  let browser: TestBrowser;
  let appServer: Awaited<ReturnType<typeof startAppServer>>;
  let redirectUri: string;
  let rsSecret: string;

  const SPA = { client_id: 'interop-spa', type: 'public', first_party: true, auth_methods: ['none'], grant_types: ['authorization_code', 'refresh_token'], scopes: ['openid', 'profile'], dpop_bound_access_tokens: true };
  const RS = 'interop-rs';

  beforeAll(async () => {
    smtp = await startSmtpSink();
    appServer = await startAppServer();
    redirectUri = `${appServer.origin}/cb`;
    suite = await startApp({ label: 'interop', issuerHost: 'localhost', overrides: { SMTP_URL: smtp.url, CHALLENGE_RESEND_SECONDS: '0', CHALLENGE_RATE_LIMIT_DESTINATION: '1000' } });
    await suite.createClient({ ...SPA, redirect_uris: [redirectUri] });
    rsSecret = (await suite.createClient({ client_id: RS, type: 'confidential', auth_methods: ['client_secret_basic'], permissions: ['introspect', 'revoke'] })).secret!;
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await suite?.close();
    await smtp?.close();
    await appServer?.close();
  });

  /** The user's part: the login page, an e-mail code, back at the app's redirect URI. */
  async function signIn(page: Page, url: string, email: string): Promise<URL> {
    await browser.context.clearCookies();
    await page.goto(url);
    await page.getByLabel('Email address').fill(email);
    await page.getByRole('button', { name: 'Email me a code' }).click();
    await page.getByLabel('Code').fill(await smtp.code(email));
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.waitForURL((u) => u.origin === appServer.origin);
    return new URL(page.url());
  }

  describe('oauth4webapi', () => {
    const insecure = { [oauth.allowInsecureRequests]: true };
    let as: oauth.AuthorizationServer;

    beforeAll(async () => {
      as = await oauth.processDiscoveryResponse(new URL(suite.issuer), await oauth.discoveryRequest(new URL(suite.issuer), { ...insecure, algorithm: 'oauth2' }));
    });

    it('META-1: discovery — the issuer matches, and the browser endpoint and PKCE S256 are advertised', () => {
      expect(as.issuer).toBe(suite.issuer);
      expect(as.authorization_endpoint).toBe(`${suite.issuer}/authorize`);
      expect(as.code_challenge_methods_supported).toEqual(['S256']);
      expect(as.authorization_response_iss_parameter_supported).toBe(true);
      expect(as.dpop_signing_alg_values_supported).toContain('ES256');
    });

    it('public client: authorization code + PKCE + DPoP through the browser, iss checked (RFC 9207), refresh, introspection and revocation', async () => {
      const client: oauth.Client = { client_id: SPA.client_id };
      const dpop = oauth.DPoP(client, await oauth.generateKeyPair('ES256'));
      const verifier = oauth.generateRandomCodeVerifier();
      const state = oauth.generateRandomState();
      const url = new URL(as.authorization_endpoint!);
      url.search = new URLSearchParams({ client_id: client.client_id, redirect_uri: redirectUri, response_type: 'code', scope: 'profile', state, code_challenge: await oauth.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' }).toString();

      const back = await signIn(browser.page, url.href, 'o4w.user@example.com');
      const params = oauth.validateAuthResponse(as, client, back, state);
      const grant = async () => oauth.authorizationCodeGrantRequest(as, client, oauth.None(), params, redirectUri, verifier, { DPoP: dpop, ...insecure });
      let res = await grant();
      // RFC 9449 §8: the first proof carries no nonce; the library retries with the one the AS sent.
      if (!res.ok) {
        await oauth.processAuthorizationCodeResponse(as, client, res).catch((e: unknown) => {
          if (!oauth.isDPoPNonceError(e)) throw e;
        });
        res = await grant();
      }
      const tokens = await oauth.processAuthorizationCodeResponse(as, client, res);
      expect(tokens.token_type).toBe('dpop');
      expect(tokens.refresh_token).toEqual(expect.any(String));

      const refresh = async () => oauth.refreshTokenGrantRequest(as, client, oauth.None(), tokens.refresh_token!, { DPoP: dpop, ...insecure });
      const refreshed = await oauth.processRefreshTokenResponse(as, client, await refresh()).catch(async (e: unknown) => {
        if (!oauth.isDPoPNonceError(e)) throw e;
        return oauth.processRefreshTokenResponse(as, client, await refresh());
      });
      expect(refreshed.access_token).not.toBe(tokens.access_token);

      const rs: oauth.Client = { client_id: RS };
      const introspected = await oauth.processIntrospectionResponse(as, rs, await oauth.introspectionRequest(as, rs, oauth.ClientSecretBasic(rsSecret), refreshed.access_token, insecure));
      expect(introspected).toMatchObject({ active: true, client_id: SPA.client_id, token_type: 'DPoP' });
      await oauth.processRevocationResponse(await oauth.revocationRequest(as, rs, oauth.ClientSecretBasic(rsSecret), refreshed.access_token, insecure));
      const after = await oauth.processIntrospectionResponse(as, rs, await oauth.introspectionRequest(as, rs, oauth.ClientSecretBasic(rsSecret), refreshed.access_token, insecure));
      expect(after.active).toBe(false);
    });

    it('an authorization response from another issuer is refused by the client (RFC 9207 mix-up defence works with our iss)', () => {
      const forged = new URL(`${redirectUri}?code=x&state=s&iss=${encodeURIComponent('https://evil.example')}`);
      expect(() => oauth.validateAuthResponse(as, { client_id: SPA.client_id }, forged, 's')).toThrow();
    });
  });

  describe('openid-client v6', () => {
    it('discovery (RFC 8414), the authorization URL, the browser login and the code grant with DPoP; refresh; revocation', async () => {
      const config = await oidc.discovery(new URL(suite.issuer), SPA.client_id, undefined, oidc.None(), { execute: [oidc.allowInsecureRequests], algorithm: 'oauth2' });
      expect(config.serverMetadata().issuer).toBe(suite.issuer);
      const dpop = oidc.getDPoPHandle(config, await oidc.randomDPoPKeyPair('ES256'));
      const verifier = oidc.randomPKCECodeVerifier();
      const state = oidc.randomState();
      const url = oidc.buildAuthorizationUrl(config, { redirect_uri: redirectUri, scope: 'profile', state, code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' });

      const back = await signIn(browser.page, url.href, 'oidc.user@example.com');
      const tokens = await oidc.authorizationCodeGrant(config, back, { pkceCodeVerifier: verifier, expectedState: state }, undefined, { DPoP: dpop });
      expect(tokens.token_type).toBe('dpop');
      const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!, undefined, { DPoP: dpop });
      expect(refreshed.access_token).toEqual(expect.any(String));
      await oidc.tokenRevocation(config, refreshed.refresh_token!);
      await expect(oidc.refreshTokenGrant(config, refreshed.refresh_token!, undefined, { DPoP: dpop })).rejects.toMatchObject({ error: 'invalid_grant' });
    });
  });
});
