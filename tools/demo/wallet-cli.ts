import { join } from 'node:path';
import { TestWallet, WalletError, type WalletMisbehaviour } from '@fpa/verifier/testing';
import { loadOrCreateDemoIssuer } from './wallet-demo-issuer';
import { terminalQr } from './wallet-qr';

/**
 * `npm run demo:wallet -- [openid4vp://…]`: a terminal wallet for the credential-login and payment demo (issue 11 §5).
 * Takes the link the suite returned as `credentials_request` (argument, or the first line on stdin), fetches the
 * signed request object, shows what is asked (claims, transaction data), presents a demo SD-JWT VC and prints the
 * response endpoint's answer. It plays a third-party wallet (TestWallet: jose, dcql, @sd-jwt) — nothing of the suite.
 *   --dir <path>          demo wallet directory (default <DATA_DIR or .data>/demo-wallet). Without --dir the demo issuer's
 *                         root PEM goes to <DATA_DIR or .data>/trust-anchors/, which the embedded default reads (no flag);
 *                         with --dir it goes to <dir>/trust-anchors: start the suite with DIGITAL_CREDENTIALS_TRUST_ANCHORS=<that>
 *   --init                only create the demo issuer and print where its root certificate is
 *   --qr                  also print the link as a terminal QR code (what a phone would scan)
 *   --misbehave <switch>  send a broken answer (wrong_nonce, wrong_aud, stale_iat, …) to watch the suite refuse it
 * The credential carries `sub` (the default policy's user claim), `email`, `given_name`, `family_name`, `birthdate`;
 * DEMO_WALLET_SUB / DEMO_WALLET_EMAIL change the first two.
 */
const MISBEHAVIOURS: readonly WalletMisbehaviour[] = [
  'wrong_nonce',
  'wrong_aud',
  'stale_iat',
  'future_iat',
  'no_key_binding',
  'tampered_disclosure',
  'wrong_sd_hash',
  'missing_transaction_data_hashes',
  'wrong_transaction_data_hashes',
  'encrypt_for_other_key',
  'post_error',
  'skip_wallet_nonce',
];

function option(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function readLink(): Promise<string | undefined> {
  const positional = process.argv.slice(2).find((a, i, all) => a.startsWith('openid4vp:') && !['--dir', '--misbehave'].includes(all[i - 1]));
  if (positional) return positional;
  if (process.stdin.isTTY) return undefined;
  let text = '';
  for await (const chunk of process.stdin) text += String(chunk);
  return text.split(/\r?\n/).find((line) => line.trim().startsWith('openid4vp:'))?.trim();
}

function decodeTransactionData(entries: readonly string[] | undefined): unknown[] {
  return (entries ?? []).map((e) => JSON.parse(Buffer.from(e, 'base64url').toString('utf8')) as unknown);
}

async function main(): Promise<number> {
  const dataDir = process.env.DATA_DIR ?? '.data';
  const dirOption = option('--dir');
  const demo = await loadOrCreateDemoIssuer(dirOption ?? join(dataDir, 'demo-wallet'), dirOption ? {} : { trustAnchorsDir: join(dataDir, 'trust-anchors') });
  if (demo.created || process.argv.includes('--init')) {
    console.log(`Demo credential issuer ${demo.issuer.pki.issuer}; its root certificate is in ${demo.trustAnchorsDir}`);
    console.log(
      dirOption
        ? `Start the suite with DIGITAL_CREDENTIALS_TRUST_ANCHORS=${demo.trustAnchorsDir} to trust it.`
        : `The embedded default on DATA_DIR=${dataDir} trusts it as it is (elsewhere: DIGITAL_CREDENTIALS_TRUST_ANCHORS=${demo.trustAnchorsDir}).`,
    );
    if (process.argv.includes('--init')) return 0;
  }
  const misbehave = option('--misbehave') as WalletMisbehaviour | undefined;
  if (misbehave !== undefined && !MISBEHAVIOURS.includes(misbehave)) {
    console.error(`--misbehave is one of: ${MISBEHAVIOURS.join(', ')}`);
    return 2;
  }
  const link = await readLink();
  if (!link) {
    console.error('usage: wallet-cli [--dir <path>] [--qr] [--misbehave <switch>] <openid4vp://…>   (or the link on stdin)');
    return 2;
  }
  if (process.argv.includes('--qr')) console.log(await terminalQr(link));

  const wallet = await TestWallet.create({ sdJwtIssuer: demo.issuer });
  const claims = {
    sub: process.env.DEMO_WALLET_SUB ?? 'demo-holder-0001',
    email: process.env.DEMO_WALLET_EMAIL ?? 'erika.mustermann@example.com',
    given_name: 'Erika',
    family_name: 'Mustermann',
    birthdate: '1964-08-12',
  };
  await wallet.addSdJwt(await demo.issuer.issue({ holderJwk: wallet.sdJwtHolder.publicJwk, claims }));

  console.log(`Wallet: following ${link}`);
  const answer = await wallet.followLink(link, { misbehave });
  const request = answer.request;
  console.log(`  verifier      ${request.client_id} (request object verified: x5c leaf, SAN, wallet_nonce, exp)`);
  console.log(`  response mode ${request.response_mode} → ${request.response_uri}`);
  const payments = decodeTransactionData(request.transaction_data);
  if (payments.length > 0) console.log(`  approving     ${JSON.stringify(payments, null, 2).replace(/\n/g, '\n                ')}`);
  for (const [id, presentations] of Object.entries(answer.vpToken ?? {})) {
    console.log(`  presented     ${id}: ${presentations.length} presentation(s), disclosing ${disclosedNames(presentations[0]).join(', ') || '(nothing)'}`);
  }
  if (misbehave) console.log(`  misbehaving   ${misbehave}`);
  console.log(`Verifier answered ${answer.status}: ${JSON.stringify(answer.body)}`);
  return answer.status === 200 ? 0 : 1;
}

/** Names of the claims disclosed in an SD-JWT presentation (for the printout; values stay on the wire). */
function disclosedNames(presentation: string | undefined): string[] {
  if (!presentation?.includes('~')) return presentation ? ['(mdoc elements)'] : [];
  return presentation
    .split('~')
    .slice(1, -1)
    .map((d) => (JSON.parse(Buffer.from(d, 'base64url').toString('utf8')) as unknown[])[1])
    .filter((n): n is string => typeof n === 'string');
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    if (e instanceof WalletError) console.error(`Wallet refused: ${e.message}`);
    else if (e instanceof TypeError && e.cause instanceof Error) console.error(`Wallet could not reach the verifier: ${e.cause.message}`);
    else console.error(e);
    process.exit(1);
  },
);
