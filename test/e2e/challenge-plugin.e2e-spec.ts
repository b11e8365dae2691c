import { type DynamicModule, Inject, Injectable, Module } from '@nestjs/common';
import { ChallengeModule, ChallengeOpenApiModule, challengeMetadata } from '@fpa/interaction';
import {
  type AuthSessionView,
  type ChallengeMethod,
  type ChallengeParams,
  type ChallengePlugin,
  type ChallengeStep,
} from '@fpa/challenge-kit';
import { BUILTIN_CHALLENGES } from '@fpa/challenges/builtin';
import { FirstPartyClient, type AuthorizationChallenge } from '@fpa/client-sdk';
import type { AppConfig } from '@fpa/config';
import { decodeJwtUnverified } from '@fpa/crypto';
import { AuthorizationCodeGrant, ClientCredentialsGrant, FpRegisterGrant, RefreshTokenGrant, TokenModule } from '@fpa/grants';
import { describeChallengeMethodContract } from '@fpa/challenge-kit/testing';
import { CLOCK, FixedClock, type Clock } from '@fpa/oauth-core';
import { PlatformModule } from '@fpa/platform';
import { RegistrationModule, registrationMetadata } from '@fpa/registration';
import { startApp, type RunningApp } from '@fpa/testing/app';

// --- a challenge module that exists only in this file ----------------------------------------------

const MAGIC_WORD = 'xyzzy';
type MagicWordState = { readonly email: string; readonly expiresAt: number };

/** `magic_word`: begin asks for the word; the right word verifies the email address it was asked for. */
@Injectable()
class MagicWordChallenge implements ChallengeMethod<MagicWordState> {
  readonly id = 'magic_word';
  /** RFC 8176 `kba`: knowledge-based authentication. */
  readonly amr = ['kba'] as const;
  /** A success verifies the address it was asked for (so it can serve the …:email acr too). */
  readonly assurance = { verifies: 'email' } as const;
  readonly parameters = ['email', 'word'] as const;
  readonly statuses = ['word_required'] as const;

  constructor(@Inject(CLOCK) private readonly clock: Clock) {}

  async appliesTo(): Promise<boolean> {
    return true;
  }

  async begin(session: AuthSessionView, params: ChallengeParams): Promise<ChallengeStep<MagicWordState>> {
    const email = (typeof params.email === 'string' ? params.email : session.loginHint)?.trim().toLowerCase();
    if (!email?.includes('@')) return { kind: 'rejected', reason: 'invalid_input', description: 'magic_word needs an email (or login_hint)' };
    return { kind: 'prompt', state: { email, expiresAt: this.clock.nowMs() + 120_000 }, reply: { status: 'word_required' }, expiresInSeconds: 120 };
  }

  async answer(_session: AuthSessionView, state: MagicWordState, params: ChallengeParams): Promise<ChallengeStep<MagicWordState>> {
    if (typeof params.word !== 'string') return { kind: 'rejected', reason: 'invalid_input', description: 'word is required' };
    if (this.clock.nowMs() >= state.expiresAt) return { kind: 'rejected', reason: 'expired' };
    if (params.word !== MAGIC_WORD) return { kind: 'rejected', reason: 'invalid_code' };
    return { kind: 'verified', subject: { type: 'email', value: state.email }, amr: this.amr, verifiedValue: state.email };
  }
}

@Module({ providers: [MagicWordChallenge], exports: [MagicWordChallenge] })
class MagicWordModule {
  static readonly plugin: ChallengePlugin = { id: 'magic_word', module: MagicWordModule, method: MagicWordChallenge };
}

// The shared contract every module passes (what a module's own *.spec.ts runs).
describeChallengeMethodContract('magic_word', () => {
  const clock = new FixedClock(1_800_000_000_000);
  return {
    method: new MagicWordChallenge(clock),
    session: () => ({ authSession: 's', clientId: 'c', mode: 'public', user: undefined, verifiedMethods: [], loginHint: 'mo@example.com' }),
    beginParams: () => ({}),
    correctAnswer: async () => ({ word: MAGIC_WORD }),
    wrongAnswer: async () => ({ word: 'plugh' }),
    secrets: async () => [MAGIC_WORD],
    advanceClock: (seconds) => clock.advance(seconds),
  };
});

// --- an app composed from the platform and the libraries, with the module plugged in ------------

@Module({})
class PluginAppModule {
  static forRoot(config: AppConfig, methods: readonly ChallengePlugin[]): DynamicModule {
    return {
      module: PluginAppModule,
      imports: [
        PlatformModule.forRoot(config),
        RegistrationModule.forRoot({ withEndpoint: true }),
        TokenModule.forRoot({
          grants: [FpRegisterGrant.plugin, ClientCredentialsGrant.plugin, RefreshTokenGrant.plugin, AuthorizationCodeGrant.plugin],
          metadata: [(c) => registrationMetadata(c.http.issuer), challengeMetadata],
        }),
        ChallengeModule.forRoot({ methods }),
        ChallengeOpenApiModule,
      ],
    };
  }
}

const MAGIC_ACR = 'urn:example:acr:magic';
const APP = {
  client_id: 'plugin-app',
  name: 'Plug-in test app',
  type: 'public',
  first_party: true,
  grant_types: ['fp_register', 'client_credentials', 'refresh_token', 'authorization_code'],
  auth_methods: ['private_key_jwt', 'none'],
  scopes: ['openid', 'api.read'],
  dpop_bound_access_tokens: true,
  // Per-client policy: the new method is offered, and the new acr is satisfied by it alone.
  challenge_policy: { methods: ['magic_word', 'email_otp'], acr: { [MAGIC_ACR]: [['magic_word']] } },
};

/**
 * A challenge module defined only in a test plugs in without editing the core: one more entry in
 * `ChallengeModule.forRoot({ methods })`, CHALLENGE_METHODS naming it, and a client policy that maps
 * an acr to it (docs/challenge-modules.md).
 */
describe('a challenge module plugged in from outside the core (magic_word)', () => {
  let suite: RunningApp;
  let issuer: string;
  let config: AppConfig;

  beforeAll(async () => {
    suite = await startApp({
      label: 'challengeplugin',
      module: (c) => PluginAppModule.forRoot(c, [...BUILTIN_CHALLENGES, MagicWordModule.plugin]),
      overrides: { CHALLENGE_METHODS: 'email_otp,magic_word' },
    });
    ({ issuer, config } = suite);
    await suite.createClient(APP);
  });
  afterAll(async () => suite?.close());

  it('runs the flow to an authorization code and user-bound tokens through the new method', async () => {
    const client = await FirstPartyClient.create({ issuer, clientId: APP.client_id });
    const seen: AuthorizationChallenge[] = [];
    const result = await client.authorize({
      scope: 'openid api.read',
      acrValues: MAGIC_ACR,
      loginHint: 'Mo@Example.com',
      onChallenge: async (challenge) => {
        seen.push(challenge);
        if (challenge.status === 'method_required') return { challenge_type: 'magic_word' };
        // A wrong word first: the core counts it like any other method's wrong answer.
        return { word: challenge.status === 'word_required' ? 'plugh' : MAGIC_WORD };
      },
    });
    expect(seen.map((c) => [c.status, c.challenge_type])).toEqual([
      ['method_required', undefined],
      ['word_required', 'magic_word'],
      ['invalid_code', 'magic_word'],
    ]);
    expect(seen[0].methods).toEqual(['magic_word']);
    expect(seen[2].attempts_remaining).toBe(config.challenge.maxAttempts - 1);

    const at = decodeJwtUnverified(result.tokens.access_token).payload;
    expect(at).toMatchObject({ auth_session: result.authSession, acr: MAGIC_ACR, amr: ['kba'], email_verified: true, cnf: { jkt: client.dpopKey.jkt } });
    const rows = await suite.env.db.query<{ method: string; verified_value: string }>('SELECT method, verified_value FROM user_authentications WHERE auth_session = $1', [result.authSession]);
    expect(rows).toEqual([{ method: 'magic_word', verified_value: 'mo@example.com' }]);
  });

  it('the OpenAPI document picks up the new method and its parameter', async () => {
    const doc = (await (await fetch(`${issuer}/openapi.json`)).json()) as { components: { schemas: Record<string, { properties: Record<string, { enum?: string[] }> }> } };
    const initial = doc.components.schemas.AuthorizeChallengeInitialRequestDto.properties;
    expect(initial.challenge_type.enum).toEqual(expect.arrayContaining(['email_otp', 'magic_word']));
    expect(initial).toHaveProperty('word');
    // Its own prompt status is enumerated next to the documented ones.
    expect(doc.components.schemas.InsufficientAuthorizationDto.properties.status.enum).toEqual(expect.arrayContaining(['code_sent', 'word_required']));
  });

  it('a duplicate method id stops start-up', () => {
    expect(() => PluginAppModule.forRoot(config, [...BUILTIN_CHALLENGES, MagicWordModule.plugin, MagicWordModule.plugin])).toThrow('challenge method magic_word is registered twice');
    // Claiming a built-in's id is the same mistake.
    expect(() => PluginAppModule.forRoot(config, [...BUILTIN_CHALLENGES, { ...MagicWordModule.plugin, id: 'email_otp' }])).toThrow('challenge method email_otp is registered twice');
  });
});
