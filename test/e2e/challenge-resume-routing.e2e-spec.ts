import { randomUUID } from 'node:crypto';
import { Body, Controller, type DynamicModule, HttpCode, Inject, Injectable, Module, Post, Req } from '@nestjs/common';
import type { Request } from 'express';
import type { AuthSessionView, ChallengeMethod, ChallengeParams, ChallengePlugin, InteractionStep, JsonObject } from '@fpa/challenge-kit';
import { BUILTIN_CHALLENGES } from '@fpa/challenges/builtin';
import type { AppConfig } from '@fpa/config';
import { decodeJwtUnverified } from '@fpa/crypto';
import { AuthorizationCodeGrant, ClientCredentialsGrant, FpRegisterGrant, RefreshTokenGrant, TokenModule } from '@fpa/grants';
import { ChallengeModule, InteractionLoop, WebFallback, challengeMetadata, type ChallengeInput, type EndpointOutcome, type RoutingRule, type Turn } from '@fpa/interaction';
import { CLOCK, requestInfo, type Clock } from '@fpa/oauth-core';
import { PlatformModule } from '@fpa/platform';
import { ChallengeClient, DEVICE_CLIENT, postForm } from '@fpa/testing';
import { startApp, type RunningApp } from '@fpa/testing/app';
import { expectNoStore } from '../support/http';
import { startSmtpSink, type SmtpSink } from '../support/smtp';

// --- a method that waits for something outside the client's requests --------------------------

type PushState = { readonly requestId: string; readonly email: string; readonly expiresAt: number };

/**
 * `push_approval`: the user approves on another device. `begin` answers `pending`; the approval
 * reaches the flow through `InteractionLoop.resume` (here a test endpoint plays the second device,
 * as the federation callback and the wallet's direct_post will); the app polls with auth_session.
 */
@Injectable()
class PushApprovalChallenge implements ChallengeMethod<PushState> {
  readonly id = 'push_approval';
  readonly amr = ['swk'] as const;
  readonly assurance = { factor: 'push_device', verifies: 'email' } as const;
  readonly parameters = ['email'] as const;

  constructor(@Inject(CLOCK) private readonly clock: Clock) {}

  async appliesTo(): Promise<boolean> {
    return true;
  }

  async begin(session: AuthSessionView, params: ChallengeParams): Promise<InteractionStep<PushState>> {
    const email = typeof params.email === 'string' ? params.email.toLowerCase() : session.loginHint;
    if (!email) return { kind: 'rejected', reason: 'invalid_input', description: 'email is required' };
    const state = { requestId: randomUUID(), email, expiresAt: this.clock.nowMs() + 120_000 };
    return { kind: 'pending', state, reply: { request_id: state.requestId }, expiresInSeconds: 120, intervalSeconds: 2 };
  }

  async answer(): Promise<InteractionStep<PushState>> {
    return { kind: 'rejected', reason: 'invalid_input', description: 'approve on the other device' };
  }

  async resume(_session: AuthSessionView, state: PushState, payload: JsonObject): Promise<InteractionStep<PushState>> {
    if (payload.request_id !== state.requestId) return { kind: 'rejected', reason: 'invalid_input', description: 'unknown request' };
    if (payload.decision !== 'approve') return { kind: 'rejected', reason: 'expired', description: 'denied' };
    return { kind: 'verified', subject: { type: 'email', value: state.email }, amr: this.amr, verifiedValue: state.email };
  }
}

@Module({ providers: [PushApprovalChallenge], exports: [PushApprovalChallenge] })
class PushApprovalModule {
  static readonly plugin: ChallengePlugin = { id: 'push_approval', module: PushApprovalModule, method: PushApprovalChallenge };
}

/** Plays the user's other device: posts the decision into the flow (never sees the app's code). */
@Controller()
class ApprovalController {
  constructor(private readonly loop: InteractionLoop) {}

  @Post('test/approve')
  @HttpCode(200)
  async approve(@Req() req: Request, @Body() body: Record<string, string>): Promise<Record<string, unknown>> {
    const outcome = await this.loop.resume(body.auth_session, { request_id: body.request_id, decision: body.decision }, requestInfo(req));
    return { recorded: true, outcome: outcome?.kind ?? null };
  }
}

// --- a routing rule: where, not how ----------------------------------------------------------------

/** Sends one (risky) domain to the browser before any method runs. */
@Injectable()
class RiskyDomainRouting implements RoutingRule {
  readonly name = 'risky_domain';
  constructor(private readonly web: WebFallback) {}

  async route(turn: Turn, input: ChallengeInput): Promise<EndpointOutcome | undefined> {
    const hint = typeof input.email === 'string' ? input.email : turn.flow.request.loginHint;
    return hint?.endsWith('@risky.example') ? this.web.redirect(turn) : undefined;
  }
}

@Module({})
class ResumeAppModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: ResumeAppModule,
      imports: [
        PlatformModule.forRoot(config),
        TokenModule.forRoot({ grants: [FpRegisterGrant.plugin, ClientCredentialsGrant.plugin, RefreshTokenGrant.plugin, AuthorizationCodeGrant.plugin], metadata: [challengeMetadata] }),
        ChallengeModule.forRoot({ methods: [...BUILTIN_CHALLENGES, PushApprovalModule.plugin], routing: [RiskyDomainRouting] }),
      ],
      controllers: [ApprovalController],
    };
  }
}

const APP = { ...DEVICE_CLIENT, client_id: 'resume-app', grant_types: ['fp_register', 'client_credentials', 'refresh_token', 'authorization_code'] };

/**
 * The loop's two extension points the next issues build on (STYLE.md): `resume(authSession,
 * payload)` under the flow's compare-and-set with `pending` polls, and routing rules apart from
 * methods. Both plugged in from this file only.
 */
describe('the interaction loop: resume from outside, pending polls, routing rules', () => {
  let suite: RunningApp;
  let smtp: SmtpSink;

  beforeAll(async () => {
    smtp = await startSmtpSink();
    suite = await startApp({ label: 'challengeresume', module: (c) => ResumeAppModule.forRoot(c), overrides: { CHALLENGE_METHODS: 'email_otp,push_approval', SMTP_URL: smtp.url } });
    await suite.createClient(APP);
  });
  afterAll(async () => {
    await suite?.close();
    await smtp?.close();
  });

  const start = async (extra: Record<string, string>): Promise<{ c: ChallengeClient; res: Awaited<ReturnType<ChallengeClient['send']>> }> => {
    const c = await ChallengeClient.create(suite.issuer);
    const res = await c.send({ client_id: APP.client_id, response_type: 'code', code_challenge: c.codeChallenge, code_challenge_method: 'S256', ...extra });
    return { c, res };
  };

  it('pending → polls → approved elsewhere → the app’s next poll gets the code (the approver never does)', async () => {
    const { c, res } = await start({ challenge_type: 'push_approval', email: 'pat@example.com' });
    expect(res.status).toBe(403);
    expectNoStore(res);
    expect(res.body).toMatchObject({ error: 'insufficient_authorization', status: 'pending', challenge_type: 'push_approval', interval: 2, expires_in: 120, request_id: expect.any(String) });
    const poll = await c.send({});
    expect(poll.body).toMatchObject({ status: 'pending', request_id: res.body.request_id });

    // The other device: a wrong request id is refused, a right one is recorded — without a code for it.
    const wrong = await postForm(`${suite.issuer}/test/approve`, { auth_session: c.authSession!, request_id: 'nope', decision: 'approve' });
    expect(wrong.body).toMatchObject({ error: 'invalid_request' });
    const approved = await postForm(`${suite.issuer}/test/approve`, { auth_session: c.authSession!, request_id: res.body.request_id as string, decision: 'approve' });
    expect(approved.body).toEqual({ recorded: true, outcome: null });
    expect(approved.text).not.toContain('authorization_code');

    const done = await c.send({});
    expect(done.status).toBe(200);
    const tokens = await c.redeem(done.body.authorization_code as string, { client_id: APP.client_id });
    expect(decodeJwtUnverified(tokens.body.access_token as string).payload).toMatchObject({ amr: ['swk'], acr: 'urn:first-party-auth:acr:1fa' });
    // Nothing is waiting any more: a second approval has no flow to resume.
    const late = await postForm(`${suite.issuer}/test/approve`, { auth_session: c.authSession!, request_id: res.body.request_id as string, decision: 'approve' });
    expect(late.body).toMatchObject({ error: 'invalid_session' });
  });

  it('a denial burns the challenge; polling then asks for a method again', async () => {
    const { c, res } = await start({ challenge_type: 'push_approval', email: 'dee@example.com' });
    await postForm(`${suite.issuer}/test/approve`, { auth_session: c.authSession!, request_id: res.body.request_id as string, decision: 'deny' });
    const after = await c.send({});
    expect(after.body).toMatchObject({ error: 'insufficient_authorization', status: 'method_required', methods: expect.arrayContaining(['push_approval']) });
  });

  it('a poll is bound to the flow’s DPoP key like any follow-up (FIPA-26)', async () => {
    const { c } = await start({ challenge_type: 'push_approval', email: 'kay@example.com' });
    const other = await ChallengeClient.create(suite.issuer);
    const res = await other.send({ auth_session: c.authSession! });
    expect(res.body).toMatchObject({ error: 'invalid_session' });
  });

  it('a routing rule answers before any method runs; other requests go on to the methods', async () => {
    const { res } = await start({ email: 'eve@risky.example' });
    expect(res.status).toBe(403);
    expect(res.body).toMatchObject({ error: 'redirect_to_web', request_uri: expect.stringMatching(/^urn:ietf:params:oauth:request_uri:/), expires_in: 60 });
    const { res: local } = await start({ email: 'sam@example.com' });
    expect(local.body).toMatchObject({ error: 'insufficient_authorization', challenge_type: 'email_otp', status: 'code_sent' });
  });
});
