import { MDL_NAMESPACE, TestWallet, testTransactionData, WalletError, type WalletMisbehaviour } from '@fpa/verifier/testing';
import { MiniVerifier, type MiniRequestConfig } from './wallet-test-verifier';

// Issue 11 §5: the test wallet against a stand-in verifier (node:http + jose, presentations checked with
// verifySdJwtPresentation / verifyMdocPresentation). Each misbehaviour switch must change what the verifier sees.

const PID_QUERY = {
  credentials: [{ id: 'pid', format: 'dc+sd-jwt', meta: { vct_values: ['urn:eudi:pid:1'] }, claims: [{ path: ['given_name'] }, { path: ['family_name'] }] }],
};
const MDL_QUERY = {
  credentials: [
    {
      id: 'mdl',
      format: 'mso_mdoc',
      meta: { doctype_value: 'org.iso.18013.5.1.mDL' },
      claims: [{ path: [MDL_NAMESPACE, 'family_name'] }, { path: [MDL_NAMESPACE, 'age_over_18'] }],
    },
  ],
};
const PAYMENT = testTransactionData({ instructed_amount: { currency: 'EUR', amount: '42.00' }, creditor_name: 'Merchant' }, ['pid']);
const ORIGIN = 'https://app.example';

let wallet: TestWallet;
let verifier: MiniVerifier;

beforeAll(async () => {
  wallet = await TestWallet.withTestCredentials();
  verifier = await MiniVerifier.start({ sdJwtRoots: [wallet.sdJwtIssuer.pki.root], mdocRoots: [wallet.mdocIssuer.iacaRoot] });
});
afterAll(async () => verifier.stop());

async function follow(config: MiniRequestConfig, misbehave?: WalletMisbehaviour) {
  const { link, request } = await verifier.createRequest(config);
  const answer = await wallet.followLink(link, { misbehave });
  return { answer, request, outcome: verifier.outcomes.at(-1) };
}

describe('TestWallet over direct_post (same/cross-device link)', () => {
  it('fetches the request object with a wallet_nonce, answers the DCQL query with only the asked claims, and gets the redirect_uri', async () => {
    const { answer, request, outcome } = await follow({ responseMode: 'direct_post', dcqlQuery: PID_QUERY });
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ redirect_uri: expect.stringMatching(/^https:\/\/app\.example\/cb#response_code=[\w-]{20,}$/) });
    expect(request.walletNonceSeen).toMatch(/^[\w-]{22}$/);
    expect(answer.request.wallet_nonce).toBe(request.walletNonceSeen);
    expect(Object.keys(answer.posted.form).sort()).toEqual(['state', 'vp_token']);
    expect(answer.posted.form.state).toBe(request.state);
    expect(Object.keys(JSON.parse(answer.posted.form.vp_token))).toEqual(['pid']);
    expect(outcome?.accepted).toBe(true);
    const claims = outcome?.claims?.[0] as Record<string, unknown>;
    expect(claims).toMatchObject({ given_name: 'Erika', family_name: 'Mustermann' });
    expect(claims.birthdate).toBeUndefined();
    expect(claims.address).toBeUndefined();
  });

  it('presents an mdoc with the OpenID4VP handover (client_id, nonce, response_uri)', async () => {
    const { answer, outcome } = await follow({ responseMode: 'direct_post', dcqlQuery: MDL_QUERY });
    expect(answer.status).toBe(200);
    expect(outcome).toEqual({ accepted: true, claims: [{ [MDL_NAMESPACE]: { family_name: 'Mustermann', age_over_18: true } }] });
  });

  it('signs transaction_data_hashes into the KB-JWT for transaction data naming the credential (VP-4)', async () => {
    const { answer, outcome } = await follow({ responseMode: 'direct_post', dcqlQuery: PID_QUERY, transactionData: [PAYMENT] });
    expect(answer.status).toBe(200);
    expect(outcome?.accepted).toBe(true);
    const kb = JSON.parse(answer.posted.form.vp_token).pid[0].split('~').at(-1) as string;
    const payload = JSON.parse(Buffer.from(kb.split('.')[1], 'base64url').toString('utf8'));
    expect(payload).toMatchObject({ aud: verifier.clientId, nonce: answer.request.nonce, transaction_data_hashes: [expect.any(String)] });
  });

  it('replays the last post byte for byte; the verifier accepts the response once', async () => {
    await follow({ responseMode: 'direct_post', dcqlQuery: PID_QUERY });
    const again = await wallet.replayLastPost();
    expect(again.status).toBe(400);
    expect(again.headers.get('cache-control')).toBe('no-store');
    expect(verifier.outcomes.at(-1)).toEqual({ accepted: false, reason: 'replay' });
  });

  it('posts error=access_denied with the state when told to', async () => {
    const { answer, outcome } = await follow({ responseMode: 'direct_post', dcqlQuery: PID_QUERY }, 'post_error');
    expect(answer.posted.form).toEqual({ error: 'access_denied', error_description: 'the user declined', state: answer.request.state });
    expect(outcome).toEqual({ accepted: false, reason: 'error:access_denied' });
  });

  it('skip_wallet_nonce fetches the request object without wallet_nonce', async () => {
    const { answer, request } = await follow({ responseMode: 'direct_post', dcqlQuery: PID_QUERY }, 'skip_wallet_nonce');
    expect(request.walletNonceSeen).toBeNull();
    expect(answer.request.wallet_nonce).toBeUndefined();
  });

  it('disclose_all discloses every claim of the credential, not only the asked ones', async () => {
    const { answer, outcome } = await follow({ responseMode: 'direct_post', dcqlQuery: PID_QUERY }, 'disclose_all');
    expect(answer.status).toBe(200);
    expect(outcome?.claims?.[0]).toMatchObject({ given_name: 'Erika', family_name: 'Mustermann', birthdate: '1964-08-12', address: { country: 'DE', locality: 'Berlin' } });
  });

  it('ignore_dcql answers a query the wallet cannot satisfy with a held credential of that format', async () => {
    const query = { credentials: [{ id: 'pid', format: 'dc+sd-jwt', meta: { vct_values: ['urn:eudi:pid:1'] }, claims: [{ path: ['nationality'] }] }] };
    const { link } = await verifier.createRequest({ responseMode: 'direct_post', dcqlQuery: query });
    await expect(wallet.followLink(link)).rejects.toThrow(/satisfies/);
    const { answer, outcome } = await follow({ responseMode: 'direct_post', dcqlQuery: query }, 'ignore_dcql');
    expect(answer.status).toBe(200);
    expect(Object.keys(answer.vpToken ?? {})).toEqual(['pid']);
    // The stand-in verifier does not check DCQL: the presentation verifies but lacks what the query asks for.
    expect(outcome?.claims?.[0]).toMatchObject({ given_name: 'Erika' });
    expect(outcome?.claims?.[0]).not.toHaveProperty('nationality');
  });

  const sdJwtRefusals: [WalletMisbehaviour, string][] = [
    ['wrong_nonce', 'nonce'],
    ['wrong_aud', 'audience'],
    ['stale_iat', 'iat'],
    ['future_iat', 'iat'],
    ['no_key_binding', 'key_binding_missing'],
    ['tampered_disclosure', 'disclosure_tampered'],
    ['wrong_sd_hash', 'sd_hash'],
    ['missing_transaction_data_hashes', 'transaction_data_hashes'],
    ['wrong_transaction_data_hashes', 'transaction_data_hashes'],
  ];
  it.each(sdJwtRefusals)('SD-JWT %s is refused by the verifier (%s)', async (misbehave, reason) => {
    const { answer, outcome } = await follow({ responseMode: 'direct_post', dcqlQuery: PID_QUERY, transactionData: [PAYMENT] }, misbehave);
    expect(answer.status).toBe(400);
    expect(outcome).toEqual({ accepted: false, reason });
  });

  it.each<WalletMisbehaviour>(['wrong_nonce', 'wrong_aud', 'no_key_binding'])('mdoc %s breaks the device signature', async (misbehave) => {
    const { answer, outcome } = await follow({ responseMode: 'direct_post', dcqlQuery: MDL_QUERY }, misbehave);
    expect(answer.status).toBe(400);
    expect(outcome).toEqual({ accepted: false, reason: 'device_signature' });
  });

  it('refuses a switch that has no mdoc form instead of sending a valid presentation', async () => {
    const { link } = await verifier.createRequest({ responseMode: 'direct_post', dcqlQuery: MDL_QUERY });
    await expect(wallet.followLink(link, { misbehave: 'stale_iat' })).rejects.toThrow(WalletError);
  });
});

describe('TestWallet over direct_post.jwt', () => {
  it('posts only `response`, a JWE (ECDH-ES, kid of the request key) carrying vp_token and state; mdoc transcript binds the key thumbprint', async () => {
    const query = { credentials: [...PID_QUERY.credentials, ...MDL_QUERY.credentials] };
    const { answer, outcome } = await follow({ responseMode: 'direct_post.jwt', dcqlQuery: query });
    expect(answer.status).toBe(200);
    expect(Object.keys(answer.posted.form)).toEqual(['response']);
    const header = JSON.parse(Buffer.from(answer.posted.form.response.split('.')[0], 'base64url').toString('utf8'));
    expect(header).toMatchObject({ alg: 'ECDH-ES', enc: 'A128GCM', kid: answer.request.client_metadata?.jwks?.keys[0].kid });
    expect(answer.posted.form.response.split('.')).toHaveLength(5);
    expect(outcome?.accepted).toBe(true);
    expect(outcome?.claims).toHaveLength(2);
  });

  it('encrypt_for_other_key makes the JWE undecryptable for the verifier', async () => {
    const { answer, outcome } = await follow({ responseMode: 'direct_post.jwt', dcqlQuery: PID_QUERY }, 'encrypt_for_other_key');
    expect(answer.status).toBe(400);
    expect(outcome).toEqual({ accepted: false, reason: 'decrypt' });
  });
});

describe('TestWallet refuses a request object a real wallet would refuse', () => {
  it.each<[NonNullable<MiniRequestConfig['serve']>, RegExp]>([
    ['wrong_content_type', /Content-Type/],
    ['other_client_id', /client_id/],
    ['no_wallet_nonce_echo', /wallet_nonce/],
    ['expired', /does not verify/],
    ['bad_signature', /does not verify/],
    ['wrong_typ', /typ/],
  ])('%s', async (serve, message) => {
    const { link } = await verifier.createRequest({ responseMode: 'direct_post', dcqlQuery: PID_QUERY, serve });
    const before = verifier.outcomes.length;
    await expect(wallet.followLink(link)).rejects.toThrow(message);
    expect(verifier.outcomes.length).toBe(before);
  });

  it('a signer certificate without the client_id host as SAN dNSName', async () => {
    const other = await MiniVerifier.start({ sdJwtRoots: [], mdocRoots: [] }, 'elsewhere.localhost');
    try {
      const { link } = await other.createRequest({ responseMode: 'direct_post', dcqlQuery: PID_QUERY });
      // `other` signs with a certificate for elsewhere.localhost but names verifier.localhost as client_id.
      await expect(wallet.followLink(link)).rejects.toThrow(/SAN dNSName verifier\.localhost/);
    } finally {
      await other.stop();
    }
  });

  it('a query the wallet cannot satisfy', async () => {
    const { link } = await verifier.createRequest({ responseMode: 'direct_post', dcqlQuery: { credentials: [{ id: 'x', format: 'dc+sd-jwt', meta: { vct_values: ['urn:other'] } }] } });
    await expect(wallet.followLink(link)).rejects.toThrow(/satisfies/);
  });

  it('the injected chain trust decides', async () => {
    const picky = await TestWallet.create({ trustRequestSigner: () => Promise.reject(new WalletError('untrusted verifier')) });
    const { link } = await verifier.createRequest({ responseMode: 'direct_post', dcqlQuery: PID_QUERY });
    await expect(picky.followLink(link)).rejects.toThrow('untrusted verifier');
  });
});

describe('TestWallet over the DC API', () => {
  async function dcApi(config: MiniRequestConfig) {
    const { request } = await verifier.createRequest(config);
    const credentialsRequest = {
      requests: [
        { protocol: 'openid4vp-v1-signed', data: { request: await verifier.requestObject(request) } },
        { protocol: 'openid4vp-v1-unsigned', data: verifier.unsignedDcApiData(request) },
      ],
    };
    return { request, credentialsRequest };
  }

  it('answers the signed request with dc_api.jwt: data.response is the JWE the app posts as vp_token, aud origin:<origin>', async () => {
    const { request, credentialsRequest } = await dcApi({ responseMode: 'dc_api.jwt', dcqlQuery: PID_QUERY, expectedOrigins: [ORIGIN] });
    const answer = await wallet.answerDcApi(credentialsRequest, ORIGIN);
    expect(answer.protocol).toBe('openid4vp-v1-signed');
    expect(answer.data).toEqual({ response: answer.vpToken });
    expect(typeof answer.vpToken).toBe('string');
    expect(await verifier.verifyVpToken(request, answer.vpToken, ORIGIN)).toMatchObject({ accepted: true });
    expect(await verifier.verifyVpToken(request, answer.vpToken)).toEqual({ accepted: false, reason: 'audience' });
  });

  it('answers the unsigned request with dc_api: vp_token is an object; mdoc uses the DC API handover', async () => {
    const { request, credentialsRequest } = await dcApi({ responseMode: 'dc_api', dcqlQuery: MDL_QUERY, expectedOrigins: [ORIGIN] });
    const answer = await wallet.answerDcApi(credentialsRequest, ORIGIN, { prefer: 'unsigned' });
    expect(answer.protocol).toBe('openid4vp-v1-unsigned');
    expect(answer.data).toEqual({ vp_token: answer.vpToken });
    expect(Object.keys(answer.vpToken as object)).toEqual(['mdl']);
    expect(await verifier.verifyVpToken(request, answer.vpToken, ORIGIN)).toMatchObject({ accepted: true });
    expect(await verifier.verifyVpToken(request, answer.vpToken, 'https://evil.example')).toEqual({ accepted: false, reason: 'device_signature' });
  });

  it('dc_api.jwt mdoc binds the encryption key thumbprint into the DC API handover', async () => {
    const { request, credentialsRequest } = await dcApi({ responseMode: 'dc_api.jwt', dcqlQuery: MDL_QUERY, expectedOrigins: [ORIGIN] });
    const answer = await wallet.answerDcApi(credentialsRequest, ORIGIN);
    expect(await verifier.verifyVpToken(request, answer.vpToken, ORIGIN)).toMatchObject({ accepted: true });
  });

  it('misbehaviours reach the DC API answer too (wrong_nonce, encrypt_for_other_key)', async () => {
    const { request, credentialsRequest } = await dcApi({ responseMode: 'dc_api.jwt', dcqlQuery: PID_QUERY, expectedOrigins: [ORIGIN] });
    const wrongNonce = await wallet.answerDcApi(credentialsRequest, ORIGIN, { misbehave: 'wrong_nonce' });
    expect(await verifier.verifyVpToken(request, wrongNonce.vpToken, ORIGIN)).toEqual({ accepted: false, reason: 'nonce' });
    const otherKey = await wallet.answerDcApi(credentialsRequest, ORIGIN, { misbehave: 'encrypt_for_other_key' });
    expect(await verifier.verifyVpToken(request, otherKey.vpToken, ORIGIN)).toEqual({ accepted: false, reason: 'decrypt' });
  });

  it('refuses a signed request whose expected_origins do not contain the origin', async () => {
    const { credentialsRequest } = await dcApi({ responseMode: 'dc_api', dcqlQuery: PID_QUERY, expectedOrigins: ['https://other.example'] });
    await expect(wallet.answerDcApi(credentialsRequest, ORIGIN)).rejects.toThrow(/expected_origins/);
  });

  it('refuses an unsigned request that carries a client_id (VP-3)', async () => {
    const { request } = await dcApi({ responseMode: 'dc_api', dcqlQuery: PID_QUERY });
    const data = { ...verifier.unsignedDcApiData(request), client_id: verifier.clientId };
    await expect(wallet.answerDcApi({ requests: [{ protocol: 'openid4vp-v1-unsigned', data }] }, ORIGIN)).rejects.toThrow(/client_id/);
  });
});
