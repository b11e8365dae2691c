import type { AppConfig } from '@fpa/config';
import { encryptSecret, generateSigningKey, importPrivateJwk, randomToken, signJwt } from '@fpa/crypto';
import type { ExternalAuthentication, Turn } from '@fpa/interaction';
import { FixedClock, OAuthError } from '@fpa/oauth-core';
import { MetricsRegistry, type AuditService } from '@fpa/platform';
import { DownstreamRefusal, type DownstreamClient, type DownstreamTokens } from '../downstream/downstream-client';
import { unavailable, type DownstreamMetadataCache } from '../downstream/downstream-metadata.service';
import { DownstreamRegistry, parseDownstreams } from '../downstream/downstream-registry';
import { FederationMetrics } from '../federation.metrics';
import type { IdentityLinks } from '../identity/identity-linker.service';
import { FederationCompleter, type CompletionContext } from './federation-completer.service';
import { sealContext, type FederationState } from './federation-state';
import { FederationStarter } from './federation-starter.service';

const ISSUER = 'https://as2.example';
const KEK = new Uint8Array(32).fill(7);
const SESSION = 'session-1';
const port = <T>(fake: unknown): T => fake as T;

/**
 * The completion of a federation (FED-12) with fakes for the downstream client, the metadata, the
 * links and the clock: a code is claimed before it is redeemed, every failure before redemption puts
 * the federation back as it was (resumable), a redemption ends it, and the verifier unsealed is the one
 * the start sealed.
 */
describe('FederationCompleter (FED-12)', () => {
  const clock = new FixedClock(1_800_000_000_000);
  let redeemed: { code: string; verifier: string }[];
  let redeem: () => Promise<DownstreamTokens>;
  let saved: (FederationState | undefined)[];
  let recorded: ExternalAuthentication[];
  let completer: FederationCompleter;
  let federation: FederationState;

  beforeEach(async () => {
    redeemed = [];
    saved = [];
    recorded = [];
    const registry = new DownstreamRegistry(parseDownstreams([{ issuer: ISSUER, client_id: 'suite', trust: { amr: ['otp'] } }], false));
    const key = await generateSigningKey('ES256');
    const privateKey = await importPrivateJwk(key.privateJwk, 'ES256');
    const now = Math.floor(clock.nowMs() / 1000);
    const accessToken = await signJwt({ iss: ISSUER, sub: 'downstream-sub', iat: now, exp: now + 300, amr: ['otp', 'pwd'] }, { alg: 'ES256', kid: key.kid, typ: 'at+jwt' }, privateKey);
    redeem = async () => ({ accessToken, idToken: undefined, scope: 'openid' });
    const metadata = port<DownstreamMetadataCache>({ metadataOf: async () => ({ issuer: ISSUER, tokenEndpoint: `${ISSUER}/token` }), jwksOf: async () => ({ keys: [key.publicJwk] }) });
    const client = port<DownstreamClient>({ redeem: async (_d: unknown, _m: unknown, code: string, verifier: string) => (redeemed.push({ code, verifier }), redeem()) });
    const links: IdentityLinks = { link: async () => ({ userId: 'user-1', created: false }) };
    const audit = port<AuditService>({ record: () => undefined });
    const config = port<AppConfig>({ http: { issuer: 'https://as1.example' }, keys: { encryptionKey: KEK } });
    const metrics = new FederationMetrics(new MetricsRegistry());
    const starter = new FederationStarter(config, clock, registry, metadata, client, metrics, audit);
    completer = new FederationCompleter(clock, links, registry, metadata, client, starter, metrics, audit);
    const id = randomToken(8);
    federation = { id, issuer: ISSUER, federationUri: `${ISSUER}/ac`, federationBody: 'client_id=suite&request_uri=u', sealedVerifier: await encryptSecret('the-verifier', sealContext(SESSION, id), KEK), expiresAt: clock.nowMs() + 60_000, openid: false };
  });

  const turn = port<Turn>({ caller: { session: { authSession: SESSION }, client: { id: 'app' } }, request: { ip: '127.0.0.1', requestId: 'r' } });
  const ctx: () => CompletionContext = () => ({
    saveFederation: async (s) => void saved.push(s),
    record: async (a) => void recorded.push(a),
  });

  it('claims the code, redeems it with the sealed verifier, ends the federation, records the linked user with fed + trusted amr', async () => {
    await completer.complete(turn, federation, { authorization_code: 'code-1' }, ctx());
    expect(redeemed).toEqual([{ code: 'code-1', verifier: 'the-verifier' }]);
    expect(saved[0]).toMatchObject({ id: federation.id, redeeming: expect.any(String), redeemingSince: clock.nowMs() });
    expect(saved.at(-1)).toBeUndefined();
    expect(recorded).toEqual([{ userId: 'user-1', method: 'federation', amr: ['fed', 'otp'], factors: 1, phishingResistant: false, verifiedValue: `${ISSUER}#downstream-sub`, audit: { downstream: ISSUER } }]);
  });

  it('a token that does not verify, once redeemed, still ends the federation and records nothing', async () => {
    redeem = async () => ({ accessToken: 'not.a.jwt', idToken: undefined, scope: undefined });
    await expect(completer.complete(turn, federation, { authorization_code: 'code-1' }, ctx())).rejects.toMatchObject({ code: 'access_denied' });
    expect(saved.at(-1)).toBeUndefined();
    expect(recorded).toEqual([]);
  });

  it('a downstream that is unreachable: 503, and the federation is put back as it was (resumable)', async () => {
    redeem = async () => {
      throw unavailable('down');
    };
    await expect(completer.complete(turn, federation, { authorization_code: 'code-1' }, ctx())).rejects.toMatchObject({ code: 'temporarily_unavailable' });
    expect(saved).toEqual([expect.objectContaining({ redeeming: expect.any(String) }), federation]);
  });

  it('a code the downstream refuses: invalid_grant, the federation put back', async () => {
    redeem = async () => {
      throw new DownstreamRefusal('invalid_grant', 400);
    };
    await expect(completer.complete(turn, federation, { authorization_code: 'other' }, ctx())).rejects.toMatchObject({ code: 'invalid_grant' });
    expect(saved.at(-1)).toEqual(federation);
  });

  it('one redemption at a time: a recent claim refuses a second code; a stale one (a process that died) does not', async () => {
    const claimed = { ...federation, redeeming: 'h', redeemingSince: clock.nowMs() - 1000 };
    await expect(completer.complete(turn, claimed, { authorization_code: 'c' }, ctx())).rejects.toMatchObject({ code: 'invalid_request' });
    expect(redeemed).toEqual([]);
    redeem = async () => {
      throw unavailable('down');
    };
    await expect(completer.complete(turn, { ...claimed, redeemingSince: clock.nowMs() - 200_000 }, { authorization_code: 'c' }, ctx())).rejects.toMatchObject({ code: 'temporarily_unavailable' });
    expect(redeemed).toHaveLength(1);
  });

  it('a forwarded downstream error ends the federation (access_denied with downstream_error); an expired federation too', async () => {
    await expect(completer.complete(turn, federation, { error: 'access_denied' }, ctx())).rejects.toMatchObject({ code: 'access_denied', extra: { downstream_error: 'access_denied' } });
    expect(saved).toEqual([undefined]);
    await expect(completer.complete(turn, { ...federation, expiresAt: clock.nowMs() - 1 }, { authorization_code: 'c' }, ctx())).rejects.toBeInstanceOf(OAuthError);
    expect(redeemed).toEqual([]);
  });

  it('the sealed verifier opens only for its own session and federation', async () => {
    const moved = { ...federation, id: 'another-federation' };
    await expect(completer.complete(turn, moved, { authorization_code: 'c' }, ctx())).rejects.toBeDefined();
    expect(redeemed).toEqual([]);
    expect(saved.at(-1)).toEqual(moved);
  });
});
