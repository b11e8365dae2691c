import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as oauth from 'oauth4webapi';
import * as oidc from 'openid-client';
import type { Page } from 'playwright-core';
import { EXAMPLE_DETAIL_TYPES } from '@fpa/authz-request';
import { decodeJwtUnverified } from '@fpa/crypto';
import { startApp, type RunningApp } from '@fpa/testing/app';
import { launchBrowser, startAppServer, type TestBrowser } from '../support/browser';
import { startSmtpSink, type SmtpSink } from '../support/smtp';

/**
 * Issue 9: the suite as independent OAuth client libraries see it — oauth4webapi (panva) and
 * openid-client v6 driving discovery, the browser authorization endpoint (a headless Chromium
 * completes the login), the code exchange with PKCE and DPoP, refresh, introspection and
 * revocation; and a confidential client authenticating with private_key_jwt (its own key set)
 * through PAR + PKCE + RAR + DPoP, client credentials, introspection and revocation. Nothing here
 * uses the suite's own client code.
 */
describe('interop: oauth4webapi and openid-client against the suite', () => {
  let suite: RunningApp;
  let smtp: SmtpSink;
  let browser: TestBrowser;
  let appServer: Awaited<ReturnType<typeof startAppServer>>;
  let redirectUri: string;
  let rsSecret: string;
  let typesDir: string;
  /** The confidential client's signing key (its public half registered inline as `jwks`). */
  let clientKey: Awaited<ReturnType<typeof oauth.generateKeyPair>>;

  const SPA = { client_id: 'interop-spa', type: 'public', first_party: true, auth_methods: ['none'], grant_types: ['authorization_code', 'refresh_token'], scopes: ['openid', 'profile'], dpop_bound_access_tokens: true };
  const RS = 'interop-rs';
  const KID = 'interop-key-1';
  const WEB = 'interop-web';
  const PAYMENT = { type: 'payment_initiation', instructedAmount: { currency: 'EUR', amount: '42.00' }, creditorName: 'Interop Shop', creditorAccount: { iban: 'DE02100100109307118603' } };

  beforeAll(async () => {
    smtp = await startSmtpSink();
    appServer = await startAppServer();
    redirectUri = `${appServer.origin}/cb`;
    typesDir = await mkdtemp(join(tmpdir(), 'fpa-rar-'));
    await writeFile(join(typesDir, 'types.json'), JSON.stringify(EXAMPLE_DETAIL_TYPES));
    suite = await startApp({
      label: 'interop',
      issuerHost: 'localhost',
      overrides: { SMTP_URL: smtp.url, CHALLENGE_RESEND_SECONDS: '0', CHALLENGE_RATE_LIMIT_DESTINATION: '1000', AUTHORIZATION_DETAILS_FILE: join(typesDir, 'types.json') },
    });
    await suite.createClient({ ...SPA, redirect_uris: [redirectUri] });
    clientKey = await oauth.generateKeyPair('ES256', { extractable: true });
    const jwk = { ...(await crypto.subtle.exportKey('jwk', clientKey.publicKey)), kid: KID, alg: 'ES256', use: 'sig' };
    delete (jwk as { key_ops?: unknown }).key_ops;
    delete (jwk as { ext?: unknown }).ext;
    await suite.createClient({
      client_id: WEB,
      type: 'confidential',
      first_party: true,
      auth_methods: ['private_key_jwt'],
      jwks: { keys: [jwk] },
      grant_types: ['authorization_code', 'client_credentials', 'refresh_token'],
      scopes: ['profile', 'api.read'],
      redirect_uris: [redirectUri],
      authorization_details_types: ['payment_initiation'],
      permissions: ['introspect', 'revoke'],
      dpop_bound_access_tokens: true,
    });
    rsSecret = (await suite.createClient({ client_id: RS, type: 'confidential', auth_methods: ['client_secret_basic'], permissions: ['introspect', 'revoke'] })).secret!;
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await suite?.close();
    await smtp?.close();
    await appServer?.close();
    if (typesDir) await rm(typesDir, { recursive: true, force: true });
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

    it('JWTCA / PAR / RAR / DPoP: a confidential client with private_key_jwt pushes PKCE + authorization_details with a DPoP proof, the browser completes the login, the code exchange, client credentials, introspection and revocation all authenticate with its key', async () => {
      const client: oauth.Client = { client_id: WEB };
      const auth = oauth.PrivateKeyJwt({ key: clientKey.privateKey, kid: KID });
      const dpop = oauth.DPoP(client, await oauth.generateKeyPair('ES256'));
      /** Sends, and once more after a use_dpop_nonce answer (RFC 9449 §8): the handle keeps the nonce. */
      const withNonce = async <T>(send: () => Promise<Response>, process: (r: Response) => Promise<T>): Promise<T> => {
        try {
          return await process(await send());
        } catch (e) {
          if (!oauth.isDPoPNonceError(e)) throw e;
          return process(await send());
        }
      };
      const verifier = oauth.generateRandomCodeVerifier();
      const state = oauth.generateRandomState();
      const params = { redirect_uri: redirectUri, response_type: 'code', scope: 'profile', state, code_challenge: await oauth.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', authorization_details: JSON.stringify([PAYMENT]) };
      const pushed = await withNonce(
        () => oauth.pushedAuthorizationRequest(as, client, auth, params, { DPoP: dpop, ...insecure }),
        (r) => oauth.processPushedAuthorizationResponse(as, client, r),
      );
      expect(pushed.request_uri).toMatch(/^urn:ietf:params:oauth:request_uri:/);
      const url = new URL(as.authorization_endpoint!);
      url.search = new URLSearchParams({ client_id: WEB, request_uri: pushed.request_uri }).toString();

      const back = await signIn(browser.page, url.href, 'o4w.confidential@example.com');
      const callback = oauth.validateAuthResponse(as, client, back, state);
      const tokens = await withNonce(
        () => oauth.authorizationCodeGrantRequest(as, client, auth, callback, redirectUri, verifier, { DPoP: dpop, ...insecure }),
        (r) => oauth.processAuthorizationCodeResponse(as, client, r),
      );
      expect(tokens.token_type).toBe('dpop');
      expect(tokens.authorization_details).toEqual([expect.objectContaining(PAYMENT)]);
      expect(decodeJwtUnverified(tokens.access_token).payload).toMatchObject({ client_id: WEB, cnf: { jkt: expect.any(String) }, authorization_details: [expect.objectContaining({ type: 'payment_initiation' })] });

      // The client on its own behalf: client credentials with private_key_jwt and DPoP.
      const own = await withNonce(
        () => oauth.clientCredentialsGrantRequest(as, client, auth, { scope: 'api.read' }, { DPoP: dpop, ...insecure }),
        (r) => oauth.processClientCredentialsResponse(as, client, r),
      );
      expect(own.token_type).toBe('dpop');
      expect(decodeJwtUnverified(own.access_token).payload).toMatchObject({ sub: WEB, client_id: WEB });

      const introspect = async (token: string) => oauth.processIntrospectionResponse(as, client, await oauth.introspectionRequest(as, client, auth, token, insecure));
      expect(await introspect(tokens.access_token)).toMatchObject({ active: true, client_id: WEB, authorization_details: [expect.objectContaining({ type: 'payment_initiation' })] });
      await oauth.processRevocationResponse(await oauth.revocationRequest(as, client, auth, tokens.access_token, insecure));
      expect((await introspect(tokens.access_token)).active).toBe(false);
      expect((await introspect(own.access_token)).active).toBe(true);
    });

    it('an authorization response from another issuer is refused by the client (RFC 9207 mix-up defence works with our iss)', () => {
      const forged = new URL(`${redirectUri}?code=x&state=s&iss=${encodeURIComponent('https://evil.example')}`);
      expect(() => oauth.validateAuthResponse(as, { client_id: SPA.client_id }, forged, 's')).toThrow();
    });
  });

  describe('openid-client v6', () => {
    it('private_key_jwt + PAR (buildAuthorizationUrlWithPAR) + RAR + DPoP through the browser; client credentials; introspection and revocation', async () => {
      const config = await oidc.discovery(new URL(suite.issuer), WEB, {}, oidc.PrivateKeyJwt({ key: clientKey.privateKey, kid: KID }), { execute: [oidc.allowInsecureRequests], algorithm: 'oauth2' });
      const dpop = oidc.getDPoPHandle(config, await oidc.randomDPoPKeyPair('ES256'));
      const verifier = oidc.randomPKCECodeVerifier();
      const state = oidc.randomState();
      const url = await oidc.buildAuthorizationUrlWithPAR(
        config,
        { redirect_uri: redirectUri, scope: 'profile', state, code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', authorization_details: JSON.stringify([PAYMENT]) },
        { DPoP: dpop },
      );
      expect(url.searchParams.get('request_uri')).toMatch(/^urn:ietf:params:oauth:request_uri:/);
      const back = await signIn(browser.page, url.href, 'oidc.confidential@example.com');
      const tokens = await oidc.authorizationCodeGrant(config, back, { pkceCodeVerifier: verifier, expectedState: state }, undefined, { DPoP: dpop });
      expect(tokens.token_type).toBe('dpop');
      expect(tokens.authorization_details).toEqual([expect.objectContaining({ type: 'payment_initiation' })]);
      const own = await oidc.clientCredentialsGrant(config, { scope: 'api.read' }, { DPoP: dpop });
      expect(own.token_type).toBe('dpop');
      expect(await oidc.tokenIntrospection(config, own.access_token)).toMatchObject({ active: true, client_id: WEB });
      await oidc.tokenRevocation(config, own.access_token);
      expect((await oidc.tokenIntrospection(config, own.access_token)).active).toBe(false);
    });

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
