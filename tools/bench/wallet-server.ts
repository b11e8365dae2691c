import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateVerifierIdentity } from '@fpa/openid4vp';
import { freePort, PRODUCTION_NODE_ARGS, spawnApp, type AppProcess } from '@fpa/testing';
import { createTestMdocIssuer, TestSdJwtIssuer, type TestMdocIssuer, type WalletPost } from '@fpa/verifier/testing';
import { CHALLENGE_CLIENT, CHALLENGE_ENV } from './challenge-phases';
import type { BenchContext } from './context';

/**
 * The challenge process of the digital-credential phases (issue 11): `CHALLENGE_METHODS=digital_credential`,
 * the test issuers' roots as trust anchors, a verifier key and certificate for ISSUER's host (x509_san_dns),
 * and a policy with an SD-JWT VC query (default) and an mDL query (MDL_ACR). Two clients: one answered with
 * `direct_post.jwt` (the default) and one with `direct_post`.
 */

export const WALLET_CLIENT_ID = 'bench-wallet-app';
export const WALLET_PLAIN_CLIENT_ID = 'bench-wallet-plain';
export const MDL_ACR = 'urn:example:acr:mdl';
export const PID_VCT = 'urn:eudi:pid:1';
export const MDL_DOCTYPE = 'org.iso.18013.5.1.mDL';

export const WALLET_POLICY = {
  dcql: {
    default: { credentials: [{ id: 'credential', format: 'dc+sd-jwt', meta: { vct_values: [PID_VCT] }, claims: [{ id: 'sub', path: ['sub'] }, { id: 'email', path: ['email'] }], claim_sets: [['sub', 'email'], ['sub']] }] },
    acr: { [MDL_ACR]: { credentials: [{ id: 'mdl', format: 'mso_mdoc', meta: { doctype_value: MDL_DOCTYPE }, claims: [{ path: ['org.iso.18013.5.1', 'document_number'] }, { path: ['org.iso.18013.5.1', 'family_name'] }] }] } },
  },
  clients: { [WALLET_PLAIN_CLIENT_ID]: { response_mode: 'direct_post' } },
  subject_claims: { 'dc+sd-jwt': ['sub'], mso_mdoc: ['org.iso.18013.5.1', 'document_number'] },
};

const walletClient = (clientId: string): Record<string, unknown> => ({
  ...CHALLENGE_CLIENT,
  client_id: clientId,
  name: `Benchmark app (digital credentials, ${clientId})`,
  challenge_policy: { acr: { [MDL_ACR]: { amr: ['vc'] } } },
});

export interface WalletServer {
  readonly app: AppProcess;
  readonly sdIssuer: TestSdJwtIssuer;
  readonly mdocIssuer: TestMdocIssuer;
}

const pem = (der: Uint8Array | string): string => {
  const b64 = typeof der === 'string' ? der : Buffer.from(der).toString('base64');
  return `-----BEGIN CERTIFICATE-----\n${b64.replace(/(.{64})/g, '$1\n').replace(/\n$/, '')}\n-----END CERTIFICATE-----\n`;
};

/** Writes the trust anchors, policy and verifier identity, creates the two clients and starts the process. */
export async function startWalletServer(ctx: BenchContext): Promise<WalletServer> {
  const sdIssuer = await TestSdJwtIssuer.create();
  const mdocIssuer = await createTestMdocIssuer();
  const dir = mkdtempSync(join(tmpdir(), 'fpa-bench-dc-'));
  ctx.cleanup.add('remove digital-credential files', async () => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'policy.json'), JSON.stringify(WALLET_POLICY));
  const anchorDir = mkdtempSync(join(dir, 'anchors-'));
  writeFileSync(join(anchorDir, 'sdjwt-root.pem'), sdIssuer.pki.rootPem);
  writeFileSync(join(anchorDir, 'iaca.pem'), pem(mdocIssuer.iacaRoot));
  // Production mode needs a configured verifier key and a certificate naming ISSUER's host (x509_san_dns).
  const verifier = await generateVerifierIdentity(ctx.issuer);
  writeFileSync(join(dir, 'verifier.key'), verifier.signingKey.export({ type: 'pkcs8', format: 'pem' }) as string);
  writeFileSync(join(dir, 'verifier.crt'), pem(verifier.x5c[0]));
  for (const id of [WALLET_CLIENT_ID, WALLET_PLAIN_CLIENT_ID]) ctx.log(await ctx.createClient(walletClient(id)));
  const env = {
    ...ctx.appEnv,
    ...CHALLENGE_ENV,
    CHALLENGE_METHODS: 'digital_credential',
    DIGITAL_CREDENTIALS_FILE: join(dir, 'policy.json'),
    DIGITAL_CREDENTIALS_TRUST_ANCHORS: anchorDir,
    DIGITAL_CREDENTIALS_VERIFIER_KEY_FILE: join(dir, 'verifier.key'),
    DIGITAL_CREDENTIALS_VERIFIER_CERT_FILE: join(dir, 'verifier.crt'),
  };
  const app = await spawnApp('challenge', env, { port: await freePort(), nodeArgs: [...PRODUCTION_NODE_ARGS, ...ctx.options.appNodeArgs], readyTimeoutMs: 45_000, outputLimit: 64 * 1024 });
  ctx.cleanup.add('stop digital-credential challenge process', () => app.stop({ graceMs: 10_000 }));
  ctx.log(`digital-credential challenge process ${app.pid} ready at ${app.url} (issuer ${ctx.issuer})`);
  return { app, sdIssuer, mdocIssuer };
}

/**
 * The wallet's fetch: the links and `response_uri` name ISSUER (the token process in this bench, as behind
 * one ingress); the OpenID4VP paths are served by the challenge process, so they are sent there.
 */
export function routedFetch(issuer: string, challengeUrl: string): typeof fetch {
  return (input, init) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    return fetch(url.startsWith(`${issuer}/`) ? `${challengeUrl}${url.slice(issuer.length)}` : url, init);
  };
}

/**
 * A fetch that lets the wallet fetch its request object but keeps its post to the response endpoint
 * (answering `{}` like the server does for cross device), so the posts can be sent later, measured alone.
 */
export function capturingFetch(issuer: string, challengeUrl: string, captured: WalletPost[]): typeof fetch {
  const routed = routedFetch(issuer, challengeUrl);
  return (input, init) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    if (url === `${issuer}/openid4vp/response` && init?.method === 'POST') {
      captured.push({ url: `${challengeUrl}/openid4vp/response`, form: Object.fromEntries(new URLSearchParams(String(init.body))) });
      return Promise.resolve(new Response('{}', { status: 200, headers: { 'content-type': 'application/json' } }));
    }
    return routed(input, init);
  };
}
