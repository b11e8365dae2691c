import { join } from 'node:path';
import { FirstPartyClient, OAuthClientError, type AuthorizationChallenge, type SdkEvent } from '@fpa/client-sdk';
import { decodeJwtUnverified } from '@fpa/crypto';
import { DEMO_AS2_APP, DEMO_CALLBACK } from './federation-setup';
import { codeFromOutbox, fileSize, indent } from './outbox';

/**
 * `npm run demo:federation`: the seed 003 flow against the pair `npm run start:federation-demo`
 * starts — AS1 asks which bank (`insufficient_information`), federates to AS2 (`federate`, after an
 * authenticated PAR there), the app signs in at AS2's native endpoint with an e-mail code, carries
 * AS2's code to AS1's `response_uri`, and redeems AS1's own code: a token for the linked user, `amr`
 * with `fed`. `-- --app`: the app sends a `native_callback_uri`, AS2 answers `redirect_to_app`, and
 * AS2's own app (its registered device) completes the request and calls the app back.
 *   AS1_ISSUER / AS2_ISSUER   default http://localhost:3000 / http://localhost:3100
 *   DEMO_EMAIL                default demo@bank-b.example
 *   DATA_DIR                  the pair's data (default .data/federation; AS2's outbox is as2/outbox.jsonl)
 */
async function main(): Promise<void> {
  const as1 = process.env.AS1_ISSUER ?? 'http://localhost:3000';
  const as2 = process.env.AS2_ISSUER ?? 'http://localhost:3100';
  const email = process.env.DEMO_EMAIL ?? 'demo@bank-b.example';
  const outbox = join(process.env.DATA_DIR ?? join('.data', 'federation'), 'as2', 'outbox.jsonl');
  const viaApp = process.argv.includes('--app');
  let n = 0;
  const step = (title: string, detail?: unknown): void => {
    console.log(`\n${++n}. ${title}`);
    if (detail !== undefined) console.log(indent(typeof detail === 'string' ? detail : JSON.stringify(detail, null, 2)));
  };
  const onEvent = (e: SdkEvent): void => {
    if (e.step === 'federate') step(`${e.from} answered 400 federate (it pushed the request to ${e.to}'s PAR endpoint as its client): the app posts federation_body to ${e.to}`);
    if (e.step === 'federation_response') step(`The downstream's answer (${e.carried}) → POST ${e.server}/federation/callback with AS1's auth_session (FED-12): AS1 redeems the code at AS2's token endpoint and links the user`);
    if (e.step === 'redirect_to_app') step(`${e.server} answered 400 redirect_to_app: the app opens the deep link (FED-8)`);
  };
  /** Answers the e-mail challenge at AS2 (the codes are read from AS2's embedded outbox). */
  const emailChallenge = async (challenge: AuthorizationChallenge, start: number): Promise<Record<string, string> | undefined> => {
    step(`403 insufficient_authorization (status ${challenge.status}, methods ${JSON.stringify(challenge.methods)})`);
    if (challenge.status === 'code_sent') return { code: await codeFromOutbox(outbox, start, email) };
    if (challenge.methods.includes('email_otp')) return { challenge_type: 'email_otp', email };
    return undefined;
  };

  const client = await FirstPartyClient.create({ issuer: as1, clientId: 'fed-app', onEvent });
  step(`The app (fed-app) starts a native authorization request at ${as1}/authorize-challenge${viaApp ? ` with native_callback_uri=${DEMO_CALLBACK}` : ''}`);
  const start = await fileSize(outbox);
  const result = await client.authorize({
    mode: 'public',
    scope: 'openid',
    ...(viaApp ? { nativeCallbackUri: DEMO_CALLBACK } : {}),
    onInformation: (request) => {
      step(`${request.server} answered 400 insufficient_information (FED-6): the app shows the prompt`, request.userPrompt);
      const answer = request.userPrompt.options?.bank ? { bank: 'bank-b' } : { email };
      console.log(indent(`the user answers ${JSON.stringify(answer)}`));
      return Promise.resolve(answer);
    },
    onChallenge: (challenge) => emailChallenge(challenge, start),
    onRedirectToApp: async ({ deepLink }) => {
      console.log(indent(deepLink));
      const as2App = await FirstPartyClient.create({ issuer: as2, clientId: DEMO_AS2_APP });
      await as2App.register();
      await as2App.requestToken();
      step(`AS2's app (${DEMO_AS2_APP}, a registered device of AS2) completes the handed-over request with its device token`);
      const handed = await as2App.completeAppHandoff(deepLink, { onChallenge: (challenge) => emailChallenge(challenge, start) });
      step('AS2 issued the code to AS1 (FED-15); AS2\'s app opens the native_callback_uri', handed.callbackUrl);
      return Object.fromEntries(new URL(handed.callbackUrl).searchParams);
    },
  });
  const claims = decodeJwtUnverified(result.tokens.access_token).payload;
  step(`AS1 answered 200 {authorization_code}; the app redeemed it at ${as1}/token (PKCE + DPoP)`, {
    token_type: result.tokens.token_type,
    sub: claims.sub,
    amr: claims.amr,
    acr: claims.acr,
    auth_time: claims.auth_time,
  });
  console.log(`\nDone: ${as1} federated the login to ${as2}; the token is AS1's, for the user AS1 linked to AS2's subject, with amr "fed".`);
}

main().catch((e: unknown) => {
  console.error(`\nfederation demo failed: ${e instanceof Error ? e.message : String(e)}`);
  if (e instanceof OAuthClientError && e.error === 'slow_down') console.error(`AS2 sends one code per address per interval: run it again in ${e.headers.get('retry-after') ?? 'a few'} seconds, or with DEMO_EMAIL=another@bank-b.example`);
  else if (!(e instanceof OAuthClientError)) console.error('Is the pair running?  npm run start:federation-demo');
  process.exitCode = 1;
});
