import { FirstPartyClient, OAuthClientError, type SdkEvent } from '@fpa/client-sdk';
import { decodeJwtUnverified } from '@fpa/crypto';

/**
 * `npm run demo`: the whole device flow against a running suite, one printed step at a time.
 *   ISSUER     the suite (default http://localhost:3000)
 *   CLIENT_ID  a first-party client allowed fp_register and client_credentials (default demo-app)
 *   API_URL    a protected API (default <ISSUER>/api/me, the standalone app's sample API)
 */
async function main(): Promise<void> {
  const issuer = (process.env.ISSUER ?? 'http://localhost:3000').replace(/\/+$/, '');
  const clientId = process.env.CLIENT_ID ?? 'demo-app';
  const apiUrl = process.env.API_URL ?? `${issuer}/api/me`;
  let n = 0;
  const step = (title: string, detail?: unknown): void => {
    console.log(`\n${++n}. ${title}`);
    if (detail !== undefined) console.log(indent(typeof detail === 'string' ? detail : JSON.stringify(detail, null, 2)));
  };
  const onEvent = (e: SdkEvent): void => {
    if (e.step === 'nonce') console.log(indent(`↺ ${e.server}${e.endpoint} asked for a DPoP nonce (use_dpop_nonce); retrying with it`));
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
  console.log('\nDone: registration → DPoP-bound token → protected API → refresh.');
}

function indent(s: string): string {
  return s
    .split('\n')
    .map((l) => `   ${l}`)
    .join('\n');
}

main().catch((e: unknown) => {
  if (e instanceof OAuthClientError) console.error(`\nThe server refused: ${e.message}`);
  else if (e instanceof TypeError && String((e as { cause?: unknown }).cause).includes('ECONNREFUSED')) {
    console.error(`\nNo suite at ${process.env.ISSUER ?? 'http://localhost:3000'} — start one with \`npm start\` first.`);
  } else console.error(e);
  process.exit(1);
});
