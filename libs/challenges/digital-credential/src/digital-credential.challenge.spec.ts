import type { AppConfig } from '@fpa/config';
import type { AuthSessionView, InteractionStep, JsonObject } from '@fpa/challenge-kit';
import { describeChallengeMethodContract } from '@fpa/challenge-kit/testing';
import type { Client, ClientRegistry } from '@fpa/clients';
import { encryptEcdhEsJwe, verifyJwsWithX5c, type JWK } from '@fpa/crypto';
import { FixedClock } from '@fpa/oauth-core';
import { BuiltinPresentationVerifier, generateVerifierIdentity, hashResponseCode, Openid4vpService, parseCredentialPolicy, type VerifierIdentity } from '@fpa/openid4vp';
import { MemoryStore } from '@fpa/store';
import { TestHolder, TestSdJwtIssuer } from '@fpa/verifier/testing';
import type { CredentialIdentities } from './credential-identities';
import { DigitalCredentialChallenge, type DigitalCredentialState } from './digital-credential.challenge';

const ORIGIN = 'https://app.example';
const RETURN = 'https://app.example/back';
const ISSUER = 'https://as.example';

/** Links in memory, recording what was kept (data minimisation). */
class FakeIdentities implements CredentialIdentities {
  readonly links = new Map<string, { userId: string; claims: Readonly<Record<string, unknown>> }>();
  async link(issuer: string, subject: string, claims: Readonly<Record<string, unknown>>): Promise<{ userId: string; created: boolean }> {
    const key = `${issuer}|${subject}`;
    const found = this.links.get(key);
    this.links.set(key, { userId: found?.userId ?? `user-${this.links.size + 1}`, claims });
    return { userId: this.links.get(key)!.userId, created: !found };
  }
}

interface World {
  method: DigitalCredentialChallenge;
  clock: FixedClock;
  identities: FakeIdentities;
  holder: TestHolder;
  issuer: TestSdJwtIssuer;
  identity: VerifierIdentity;
}

let shared: { issuer: TestSdJwtIssuer; identity: VerifierIdentity } | undefined;

async function world(): Promise<World> {
  shared ??= { issuer: await TestSdJwtIssuer.create(), identity: await generateVerifierIdentity(ISSUER) };
  const clock = new FixedClock(Date.now());
  const config = { http: { issuer: ISSUER }, digitalCredentials: { requestTtlSeconds: 300 }, keys: { encryptionKey: new Uint8Array(32).fill(7) } } as unknown as AppConfig;
  const policy = parseCredentialPolicy({ keep_claims: [['email']], clients: { plain: { response_mode: 'direct_post' } } });
  const vp = new Openid4vpService(config, new MemoryStore(() => clock.nowMs(), { genesis: true }), clock, shared.identity, new BuiltinPresentationVerifier([shared.issuer.pki.root]), policy);
  const client = { id: 'app', origins: [ORIGIN], openid4vpRedirectUris: [RETURN] } as unknown as Client;
  const clients = { find: async (id: string) => (id === 'app' || id === 'plain' ? { ...client, id } : undefined) } as unknown as ClientRegistry;
  const identities = new FakeIdentities();
  return { method: new DigitalCredentialChallenge(clock, vp, clients, identities), clock, identities, holder: TestHolder.create(), issuer: shared.issuer, identity: shared.identity };
}

const session = (over: Partial<AuthSessionView> = {}): AuthSessionView => ({ authSession: 's-1', clientId: 'app', mode: 'public', user: undefined, verifiedMethods: [], loginHint: undefined, ...over });
type Prompt = Extract<InteractionStep, { kind: 'prompt' }>;
type Pending = Extract<InteractionStep<DigitalCredentialState>, { kind: 'pending' }>;

/** What a wallet answering the DC API's signed request hands the app: the JWE of `{vp_token}` to the request's key. */
async function dcApiAnswer(w: World, prompt: Prompt, claims: Record<string, unknown>, aud = `origin:${ORIGIN}`): Promise<string> {
  const signed = ((prompt.reply.credentials_request as JsonObject).requests as JsonObject[])[0].data as JsonObject;
  const { payload } = await verifyJwsWithX5c(signed.request as string);
  const vc = await w.issuer.issue({ claims, holderJwk: w.holder.publicJwk });
  const presentation = await w.holder.present(vc, { nonce: payload.nonce as string, aud });
  const key = ((payload.client_metadata as JsonObject).jwks as { keys: JWK[] }).keys[0];
  return encryptEcdhEsJwe(new TextEncoder().encode(JSON.stringify({ vp_token: { credential: [presentation] } })), key, 'A256GCM', key.kid);
}

/** A wallet's redirect-flow response payload, as the response endpoint passes it to resume. */
async function walletPayload(w: World, step: Pending, claims: Record<string, unknown>, extra: JsonObject = {}): Promise<JsonObject> {
  const vp = (w.method as unknown as { vp: Openid4vpService }).vp;
  const request = (await vp.find(step.state.requestId))!;
  const vc = await w.issuer.issue({ claims, holderJwk: w.holder.publicJwk });
  return { request_id: request.id, encrypted: false, vp_token: { credential: [await w.holder.present(vc, { nonce: request.nonce, aud: w.identity.clientId })] }, ...extra };
}

describeChallengeMethodContract('digital_credential (DC API)', async () => {
  const w = await world();
  return {
    method: w.method,
    session: () => session(),
    beginParams: () => ({ dc_api: 'true' }),
    correctAnswer: async (p) => ({ vp_token: await dcApiAnswer(w, p, { sub: 'holder-1' }) }),
    wrongAnswer: async (p) => ({ vp_token: await dcApiAnswer(w, p, { sub: 'holder-1' }, 'origin:https://evil.example') }),
    advanceClock: (s) => w.clock.advance(s),
  };
});

describe('DigitalCredentialChallenge', () => {
  it('begin: WALLET-1 parameter rules', async () => {
    const { method } = await world();
    await expect(method.begin(session(), { dc_api: 'true', openid4vp_flow_type: 'cross_device' })).resolves.toMatchObject({ kind: 'rejected', reason: 'invalid_input' });
    await expect(method.begin(session(), { openid4vp_flow_type: 'sideways' })).resolves.toMatchObject({ kind: 'rejected', reason: 'invalid_input' });
    await expect(method.begin(session(), { openid4vp_flow_type: 'same_device', openid4vp_redirect_uri: 'https://evil.example/back' })).resolves.toMatchObject({ kind: 'rejected', reason: 'invalid_input' });
    await expect(method.begin(session(), { openid4vp_flow_type: 'cross_device', openid4vp_redirect_uri: RETURN })).resolves.toMatchObject({ kind: 'rejected', reason: 'invalid_input' });
    // A RAR type without a transaction-data mapping cannot be approved with a credential.
    await expect(method.begin(session({ authorizationDetails: [{ type: 'account_information' }] }), { openid4vp_flow_type: 'cross_device' })).resolves.toMatchObject({ kind: 'rejected', reason: 'invalid_input', description: expect.stringMatching(/account_information/) });
  });

  it('cross device: pending with the link and a QR code; the wallet’s response verifies on resume and names the linked user, keeping only the policy’s claims', async () => {
    const w = await world();
    const step = (await w.method.begin(session(), { openid4vp_flow_type: 'cross_device' })) as Pending;
    expect(step).toMatchObject({ kind: 'pending', intervalSeconds: 2, reply: { type: 'digital_credentials', credentials_request: expect.stringMatching(/^openid4vp:\/\/\?client_id=x509_san_dns%3Aas\.example&request_uri=https%3A%2F%2Fas\.example%2Fopenid4vp%2Frequests%2F/), qr_code: expect.stringMatching(/^data:image\/svg\+xml;base64,/) } });
    const done = await w.method.resume(session(), step.state, await walletPayload(w, step, { sub: 'holder-9', email: 'h9@example.com', given_name: 'H' }));
    expect(done).toEqual({ kind: 'verified', subject: { type: 'user', id: 'user-1' }, amr: ['pop', 'vc'], verifiedValue: w.issuer.pki.issuer });
    expect([...w.identities.links.values()][0].claims).toEqual({ email: 'h9@example.com' });
  });

  it('resume: a refused presentation, a wallet error or another request ends the challenge (or is not for it)', async () => {
    const w = await world();
    const step = (await w.method.begin(session(), { openid4vp_flow_type: 'cross_device' })) as Pending;
    const wrong = await walletPayload(w, step, { sub: 'x' });
    (wrong.vp_token as { credential: string[] }).credential[0] += 'x';
    await expect(w.method.resume(session(), step.state, wrong)).resolves.toMatchObject({ kind: 'rejected', reason: 'expired', description: expect.stringMatching(/^invalid_presentation: presentation refused/) });
    await expect(w.method.resume(session(), step.state, { request_id: step.state.requestId, error: 'access_denied' })).resolves.toMatchObject({ kind: 'rejected', reason: 'expired', description: expect.stringMatching(/^access_denied: /) });
    await expect(w.method.resume(session(), step.state, { request_id: 'other', vp_token: {} })).resolves.toMatchObject({ kind: 'rejected', reason: 'invalid_input' });
    expect(w.identities.links.size).toBe(0);
  });

  it('same device: resume keeps the proof and the response code’s hash; only that code, compared in constant time, completes', async () => {
    const w = await world();
    const step = (await w.method.begin(session({ clientId: 'plain' }), { openid4vp_flow_type: 'same_device', openid4vp_redirect_uri: RETURN })) as Pending;
    expect(step.reply.qr_code).toBeUndefined();
    const code = 'c'.repeat(43);
    const after = (await w.method.resume(session(), step.state, await walletPayload(w, step, { sub: 'sd-1' }, { response_code_hash: hashResponseCode(code) }))) as Pending;
    expect(after.kind).toBe('pending');
    expect(JSON.stringify(after.state)).not.toContain(code);
    // The app's code before the wallet answered, or another code, is a wrong answer.
    await expect(w.method.answer(session(), step.state, { response_code: code })).resolves.toMatchObject({ kind: 'rejected', reason: 'invalid_code' });
    await expect(w.method.answer(session(), after.state, { response_code: 'd'.repeat(43) })).resolves.toMatchObject({ kind: 'rejected', reason: 'invalid_code' });
    await expect(w.method.answer(session(), after.state, { response_code: code })).resolves.toMatchObject({ kind: 'verified', subject: { type: 'user' } });
  });
});
