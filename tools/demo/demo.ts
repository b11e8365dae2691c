import { join } from 'node:path';
import { ChallengeAbandonedError, FirstPartyClient, OAuthClientError, RedirectToWebError, type AuthorizeResult, type SdkEvent } from '@fpa/client-sdk';
import { decodeJwtUnverified } from '@fpa/crypto';
import { browserDemo } from './browser-demo';
import { codeFromOutbox, fileSize, indent, watchOutbox } from './outbox';
import { walletDemo } from './wallet-demo';

/**
 * `npm run demo`: the whole device flow against a running suite, one printed step at a time, then a
 * step-up: the device's user proves an email address at the authorization challenge endpoint.
 *   ISSUER       the suite (default http://localhost:3000)
 *   CLIENT_ID    a first-party client allowed fp_register, client_credentials and authorization_code (default demo-app)
 *   API_URL      a protected API (default <ISSUER>/api/me, the standalone app's sample API)
 *   PROFILE_URL  an API that needs a verified email (default <ISSUER>/api/profile)
 *   DEMO_EMAIL   the address that receives the code (default demo@example.com)
 *   OUTBOX_PATH  where the embedded default writes codes (default <DATA_DIR or .data>/outbox.jsonl)
 * `npm run demo -- --browser` runs the browser path instead (tools/demo/browser-demo.ts; CLIENT_ID default demo-web).
 * `npm run demo -- --wallet` runs the credential login and payment approval instead (tools/demo/wallet-demo.ts, issue 11 §5:
 * cross device, the QR code in the terminal, the demo wallet in process; its issuer's root goes to <DATA_DIR>/trust-anchors,
 * the embedded default's anchors — elsewhere set DEMO_TRUST_ANCHORS to the suite's DIGITAL_CREDENTIALS_TRUST_ANCHORS directory).
 */
async function main(): Promise<void> {
  const issuer = (process.env.ISSUER ?? 'http://localhost:3000').replace(/\/+$/, '');
  if (process.argv.includes('--browser')) {
    const outbox = process.env.OUTBOX_PATH ?? join(process.env.DATA_DIR ?? '.data', 'outbox.jsonl');
    const start = await fileSize(outbox);
    await browserDemo({ issuer, clientId: process.env.CLIENT_ID ?? 'demo-web', watchOutbox: (onCode) => watchOutbox(outbox, start, onCode) });
    return;
  }
  if (process.argv.includes('--wallet')) {
    await walletDemo({ issuer, clientId: process.env.CLIENT_ID ?? 'demo-app', dataDir: process.env.DATA_DIR ?? '.data', trustAnchorsDir: process.env.DEMO_TRUST_ANCHORS });
    return;
  }
  const clientId = process.env.CLIENT_ID ?? 'demo-app';
  const apiUrl = process.env.API_URL ?? `${issuer}/api/me`;
  const profileUrl = process.env.PROFILE_URL ?? `${issuer}/api/profile`;
  const email = process.env.DEMO_EMAIL ?? 'demo@example.com';
  const outboxPath = process.env.OUTBOX_PATH ?? join(process.env.DATA_DIR ?? '.data', 'outbox.jsonl');
  let n = 0;
  const step = (title: string, detail?: unknown): void => {
    console.log(`\n${++n}. ${title}`);
    if (detail !== undefined) console.log(indent(typeof detail === 'string' ? detail : JSON.stringify(detail, null, 2)));
  };
  const onEvent = (e: SdkEvent): void => {
    if (e.step === 'nonce') console.log(indent(`↺ ${e.server}${e.endpoint} asked for a DPoP nonce (use_dpop_nonce); retrying with it`));
    if (e.step === 'authorization_code') step('(H) The challenge endpoint answered 200 {authorization_code, auth_session}: the acr is satisfied', { auth_session: e.authSession });
  };

  const client = await FirstPartyClient.create({ issuer, clientId, onEvent });
  const md = await client.discover();
  step(`Discovered ${issuer}`, { token_endpoint: md.token_endpoint, device_registration_endpoint: md.device_registration_endpoint, dpop_signing_alg_values_supported: md.dpop_signing_alg_values_supported });
  step('Generated two P-256 key pairs on the "device"', { device_key_jkt: client.deviceKey.jkt, dpop_key_jkt: client.dpopKey.jkt });

  const reg = await client.register({ state: 'demo-state', nonce: 'demo-nonce' });
  step('(A)/(B) Registered the device key → auth_session inside a signed fp+jwt', {
    auth_session: reg.auth_session,
    expires_in: reg.expires_in,
    fp_token: decodeJwtUnverified(reg.fp_token),
  });

  const token = await client.requestToken();
  step('(C)/(D) client_credentials with a device assertion (device_auth_session) and a DPoP proof', {
    token_type: token.token_type,
    expires_in: token.expires_in,
    auth_session: token.auth_session,
    access_token: decodeJwtUnverified(token.access_token),
    refresh_token: token.refresh_token ? `${token.refresh_token.slice(0, 8)}… (rotates on use)` : undefined,
  });

  let res = await client.fetchResource(apiUrl);
  step(`Called ${apiUrl} with Authorization: DPoP and a proof bound to the token (ath)`, { status: res.status, body: await res.json() });

  const refreshed = await client.refresh();
  step('Refreshed: new access token, new refresh token (the old one is now single-use spent)', {
    token_type: refreshed.token_type,
    jti: decodeJwtUnverified(refreshed.access_token).payload.jti,
  });

  res = await client.fetchResource(apiUrl);
  step('Called the API with the refreshed token', { status: res.status });

  res = await client.fetchResource(profileUrl);
  const denied = (await res.json()) as { acr_values?: string };
  step(`Called ${profileUrl}: it needs a verified email, the device token has no user`, {
    status: res.status,
    'www-authenticate': res.headers.get('www-authenticate'),
    body: denied,
  });
  if (res.status !== 403) throw new Error(`expected 403 insufficient_user_authentication from ${profileUrl}`);

  // Step-up (RFC 9470 semantics): the device asks for the acr the API named, with its own token.
  const outboxStart = await fileSize(outboxPath);
  const stepUp = (): Promise<AuthorizeResult> =>
    client.authorize({
      mode: 'device',
      acrValues: denied.acr_values,
      params: { email },
      onChallenge: async (challenge) => {
        step(`(E)/(F) POST ${issuer}/authorize-challenge with Authorization: DPoP <device token>, email=${email} → 403 insufficient_authorization`, challenge);
        if (challenge.status !== 'code_sent') return undefined;
        const code = await codeFromOutbox(outboxPath, outboxStart, email);
        step(`(G) Read the one-time code from the embedded outbox (${outboxPath}) and sent it back with auth_session`, { code });
        return { code };
      },
    });
  let result: AuthorizeResult;
  try {
    result = await stepUp();
  } catch (e) {
    // A second demo run right after the first: one code per address per CHALLENGE_RESEND_SECONDS.
    const wait = e instanceof OAuthClientError && e.error === 'slow_down' ? Number(e.headers.get('retry-after') ?? 'NaN') : NaN;
    if (!(wait > 0 && wait <= 60)) throw e;
    console.log(indent(`↺ a code was just sent to ${email} (slow_down); waiting ${wait} s as Retry-After says`));
    await new Promise((r) => setTimeout(r, wait * 1000));
    result = await stepUp();
  }
  const user = decodeJwtUnverified(result.tokens.access_token).payload;
  step('Redeemed the code at /token: authorization_code + code_verifier (PKCE) + device assertion + DPoP proof', {
    token_type: result.tokens.token_type,
    access_token: { sub: user.sub, auth_session: user.auth_session, acr: user.acr, amr: user.amr, email_verified: user.email_verified, auth_time: user.auth_time },
  });

  const deviceToken = await client.requestToken();
  step('A new device token (client_credentials) now carries the user', { sub: decodeJwtUnverified(deviceToken.access_token).payload.sub, email_verified: decodeJwtUnverified(deviceToken.access_token).payload.email_verified });

  res = await client.fetchResource(profileUrl);
  step(`Called ${profileUrl} again`, { status: res.status, body: await res.json() });
  if (res.status !== 200) throw new Error(`expected 200 from ${profileUrl} after the email challenge`);
  console.log('\nDone: registration → DPoP-bound token → protected API → refresh → step-up with an email code → the API lets the user in.');
}

main().catch((e: unknown) => {
  if (e instanceof RedirectToWebError) console.error(`\nNo native method can complete this; continue in a browser${e.requestUri ? ` with request_uri ${e.requestUri}` : ''}.`);
  else if (e instanceof OAuthClientError) console.error(`\nThe server refused: ${e.message}`);
  else if (e instanceof ChallengeAbandonedError) console.error(`\nStopped: ${e.message}`);
  else if (e instanceof TypeError && String((e as { cause?: unknown }).cause).includes('ECONNREFUSED')) {
    console.error(`\nNo suite at ${process.env.ISSUER ?? 'http://localhost:3000'} — start one with \`npm start\` first.`);
  } else console.error(e);
  process.exit(1);
});
