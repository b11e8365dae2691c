import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { FirstPartyClient, type AuthorizationChallenge, type AuthorizeResult } from '@fpa/client-sdk';
import { decodeJwtUnverified } from '@fpa/crypto';
import { TestWallet, type WalletAnswer } from '@fpa/verifier/testing';
import { indent } from './outbox';
import { loadOrCreateDemoIssuer } from './wallet-demo-issuer';
import { terminalQr } from './wallet-qr';

/**
 * `npm run demo -- --wallet` (issue 11 §5): a credential login and a payment approval through the native endpoint,
 * cross device (OpenID4VP 1.0 via `challenge_type=digital_credential`, WALLET-1…3). The app prints the
 * `credentials_request` link and its QR code and polls with `auth_session` (`status: "pending"`); with no phone at
 * hand the demo wallet (the same TestWallet as `npm run demo:wallet`: jose, dcql, @sd-jwt — nothing of the suite)
 * follows the link in this process, shows what is asked and presents an SD-JWT VC of the demo issuer.
 * The embedded default trusts that issuer without a flag: its anchors are `<DATA_DIR>/trust-anchors/`, read again
 * when they change, and the demo writes the issuer's root there (docs/digital-credentials.md, "The demo").
 */
export interface WalletDemoOptions {
  readonly issuer: string;
  readonly clientId: string;
  /** The embedded default's DATA_DIR: the demo issuer lives in <dataDir>/demo-wallet, its root in <dataDir>/trust-anchors. */
  readonly dataDir: string;
  /** DIGITAL_CREDENTIALS_TRUST_ANCHORS of the suite when it is not the embedded default's directory. */
  readonly trustAnchorsDir?: string;
  readonly log?: (line: string) => void;
}

/** RFC 9396 §3 example shape; the embedded default's payment_initiation schema (AUTHORIZATION_DETAILS_FILE unset). */
export const WALLET_PAYMENT = {
  type: 'payment_initiation',
  actions: ['initiate'],
  locations: ['https://bank.example.com/payments'],
  instructedAmount: { currency: 'EUR', amount: '42.00' },
  creditorName: 'Bäckerei Lindner',
  creditorAccount: { iban: 'DE02120300000000202051' },
};

export async function walletDemo(o: WalletDemoOptions): Promise<void> {
  const log = o.log ?? ((line: string) => console.log(line));
  let n = 0;
  const step = (title: string, detail?: unknown): void => {
    log(`\n${++n}. ${title}`);
    if (detail !== undefined) log(indent(typeof detail === 'string' ? detail : JSON.stringify(detail, null, 2)));
  };

  const trustAnchorsDir = o.trustAnchorsDir ?? join(o.dataDir, 'trust-anchors');
  const demo = await loadOrCreateDemoIssuer(join(o.dataDir, 'demo-wallet'), { trustAnchorsDir });
  step(`Demo credential issuer ${demo.issuer.pki.issuer}${demo.created ? ' (created now)' : ''}`, `its root certificate is in ${trustAnchorsDir}/ — the embedded default's trust anchors`);

  // The holder: one wallet, one credential (VP-7: the suite names the user by issuer + `sub`).
  const wallet = await TestWallet.create({ sdJwtIssuer: demo.issuer });
  const claims = { sub: process.env.DEMO_WALLET_SUB ?? 'demo-holder-0001', email: process.env.DEMO_WALLET_EMAIL ?? 'erika.mustermann@example.com', given_name: 'Erika', family_name: 'Mustermann' };
  await wallet.addSdJwt(await demo.issuer.issue({ holderJwk: wallet.sdJwtHolder.publicJwk, claims }));
  step('The wallet holds an SD-JWT VC (dc+sd-jwt, urn:eudi:pid:1) bound to its holder key', claims);

  const app = await FirstPartyClient.create({ issuer: o.issuer, clientId: o.clientId });

  step(`Log in with the credential, cross device: POST ${o.issuer}/authorize-challenge challenge_type=digital_credential, openid4vp_flow_type=cross_device, acr_values=urn:first-party-auth:acr:vc`);
  const login = await crossDevice(app, wallet, {}, step, log);
  const at = decodeJwtUnverified(login.tokens.access_token).payload;
  step('Redeemed the code at /token: the user came from the credential', { token_type: login.tokens.token_type, access_token: { sub: at.sub, acr: at.acr, amr: at.amr, auth_time: at.auth_time } });

  step(`Approve a payment with the credential: the same request with authorization_details (RFC 9396) → OpenID4VP transaction_data`, { authorization_details: [WALLET_PAYMENT] });
  const payment = await crossDevice(app, wallet, { authorization_details: JSON.stringify([WALLET_PAYMENT]) }, step, log);
  const payAt = decodeJwtUnverified(payment.tokens.access_token).payload;
  const approved = (payment.tokens as unknown as { authorization_details?: unknown }).authorization_details;
  step('Redeemed the code: the token response carries the approved authorization_details', { authorization_details: approved, access_token: { sub: payAt.sub, amr: payAt.amr, authorization_details: payAt.authorization_details } });
  if (!isDeepStrictEqual(approved, [WALLET_PAYMENT])) throw new Error('the token response does not carry the approved payment');
  if (payAt.sub !== at.sub) throw new Error('the payment was approved by another user than the one who logged in');
  log('\nDone: credential login (cross device, QR code, polling) → token with the credential’s user and amr → payment approved in the wallet → token with authorization_details.');
}

/** One cross-device flow: print the link and QR code, poll every `interval` while the wallet answers, redeem the code. */
async function crossDevice(app: FirstPartyClient, wallet: TestWallet, extra: Record<string, string>, step: (title: string, detail?: unknown) => void, log: (line: string) => void): Promise<AuthorizeResult> {
  let shown = false;
  let walletStarted = false;
  let walletAnswer: WalletAnswer | undefined;
  let walletFailure: unknown;
  let polls = 0;
  const result = await app.authorize({
    mode: 'public',
    acrValues: 'urn:first-party-auth:acr:vc',
    challengeType: 'digital_credential',
    params: { openid4vp_flow_type: 'cross_device', ...extra },
    maxSteps: 40,
    onChallenge: async (c: AuthorizationChallenge) => {
      if (c.status !== 'pending' || typeof c.credentials_request !== 'string') {
        throw new Error(`unexpected challenge ${JSON.stringify({ status: c.status, error_description: c.error_description })}`);
      }
      const link = c.credentials_request;
      const interval = typeof c.interval === 'number' && c.interval > 0 ? c.interval : 2;
      if (!shown) {
        shown = true;
        step('403 insufficient_authorization, status "pending": show this to the wallet (link, or the QR code to scan)', { status: c.status, type: c.type, expires_in: c.expires_in, interval, credentials_request: link });
        log(indent(await terminalQr(link)));
        step(`No phone at hand: the app polls with auth_session every ${interval} s; after the first "pending" the demo wallet follows the link in this process`);
      } else {
        log(indent(`poll ${++polls}: 403 {"error": "insufficient_authorization", "status": "pending"}`));
      }
      if (polls === 1 && !walletStarted) {
        walletStarted = true;
        presentFromWallet(wallet, link, log).then(
          (a) => (walletAnswer = a),
          (e: unknown) => (walletFailure = e),
        );
      }
      await new Promise((r) => setTimeout(r, interval * 1000));
      // A wallet that failed or was refused ends the demo with its reason, not with polls until the request expires.
      if (walletFailure !== undefined) throw walletFailure;
      if (walletAnswer && walletAnswer.status !== 200) throw new Error(`the verifier refused the wallet's response: ${JSON.stringify(walletAnswer.body)}`);
      return {};
    },
  });
  step(`The poll after the wallet's post: 200 {authorization_code, auth_session}`, { auth_session: result.authSession });
  return result;
}

async function presentFromWallet(wallet: TestWallet, link: string, log: (line: string) => void): Promise<WalletAnswer> {
  const answer = await wallet.followLink(link);
  const r = answer.request;
  const lines = [`wallet: request object from ${r.client_id} verified (x5c leaf, SAN, wallet_nonce); response_mode ${r.response_mode} → ${r.response_uri}`];
  const txData = (r.transaction_data ?? []).map((e) => JSON.parse(Buffer.from(e, 'base64url').toString('utf8')) as unknown);
  if (txData.length > 0) lines.push(`wallet: the user approves this transaction data (decoded):\n${indent(JSON.stringify(txData, null, 2))}`, 'wallet: the KB-JWT carries its transaction_data_hashes');
  for (const [id, presentations] of Object.entries(answer.vpToken ?? {})) lines.push(`wallet: presented ${id} (${presentations.length} presentation, key binding with nonce and aud)`);
  lines.push(`wallet: POST ${r.response_uri} → ${answer.status} ${JSON.stringify(answer.body)}`);
  log(indent(lines.join('\n')));
  return answer;
}
