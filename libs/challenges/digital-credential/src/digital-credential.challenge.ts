import { Inject, Injectable } from '@nestjs/common';
import * as QRCode from 'qrcode';
import type { AuthSessionView, ChallengeMethod, ChallengeParams, InteractionStep, Json, JsonObject } from '@fpa/challenge-kit';
import { ClientRegistry } from '@fpa/clients';
import { constantTimeEqual } from '@fpa/crypto';
import { CLOCK, type Clock } from '@fpa/oauth-core';
import { AuthorizationDetailsMappingError, mapAuthorizationDetailsToTransactionData } from '@fpa/verifier';
import {
  decryptResponse,
  hashResponseCode,
  Openid4vpService,
  ResponseDecryptionError,
  type Openid4vpFlow,
  type PresentationRequest,
  type PresentationVerdict,
} from '@fpa/openid4vp';
import { CREDENTIAL_IDENTITIES, type CredentialIdentities } from './credential-identities';
import { identityOf, type CredentialIdentity } from './credential-identity';

export const DIGITAL_CREDENTIAL = 'digital_credential';
const POLL_INTERVAL_SECONDS = 2;

/**
 * Flow state: which branch, the presentation request it waits on (kept in the store by
 * libs/openid4vp), and — same device, once the wallet's response verified — who it proved and the
 * hash of the response code the wallet carried back to the app (never the code).
 */
export type DigitalCredentialState = {
  readonly flow: Openid4vpFlow;
  readonly requestId: string;
  readonly expiresAt: number;
  readonly link?: string;
  readonly proven?: CredentialIdentity;
  readonly responseCodeHash?: string;
};

type Step = InteractionStep<DigitalCredentialState>;
const invalidInput = (description: string): Step => ({ kind: 'rejected', reason: 'invalid_input', description });
/** The challenge ends (the request is spent): `<VP-6 code>: <why>` tells the wallet's endpoint what to answer. */
const ended = (code: string, description: string): Step => ({ kind: 'rejected', reason: 'expired', description: `${code}: ${description}` });
const refused = (v: Extract<PresentationVerdict, { ok: false }>): string => `presentation refused (${v.reason}): ${v.description}`.slice(0, 300);

/**
 * `digital_credential` (issue 11, WALLET-1…3, VP-1…7): the user presents a verifiable credential
 * from a wallet, through one of three branches of the native endpoint:
 * - `dc_api=true`: a prompt carrying `credentials_request` for the platform's Digital Credentials
 *   API; the app answers with the `vp_token` it got back;
 * - `openid4vp_flow_type=cross_device`: pending with an `openid4vp://` link (and its QR code); the
 *   wallet posts to `/openid4vp/response`, which resumes the flow; the app's poll gets the code;
 * - `openid4vp_flow_type=same_device` (+ a registered `openid4vp_redirect_uri`): pending with the
 *   link; the wallet's post is verified on resume and the app answers with the `response_code` the
 *   wallet brought back (VP-3: protects against session fixation).
 * A success names the user linked to (credential issuer, configured claim) — VP-7 — with amr
 * `pop` (RFC 8176: proof of possession of the holder key) and `vc`; the `…:vc` acr asks for `vc`.
 */
@Injectable()
export class DigitalCredentialChallenge implements ChallengeMethod<DigitalCredentialState> {
  readonly id = DIGITAL_CREDENTIAL;
  readonly amr = ['pop', 'vc'] as const;
  readonly parameters = ['dc_api', 'openid4vp_flow_type', 'openid4vp_redirect_uri', 'vp_token', 'response_code'] as const;
  readonly answers = ['vp_token', 'response_code'] as const;
  readonly statuses = ['presentation_required'] as const;

  constructor(
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly vp: Openid4vpService,
    private readonly clients: ClientRegistry,
    @Inject(CREDENTIAL_IDENTITIES) private readonly identities: CredentialIdentities,
  ) {}

  /**
   * A native app's method: the hosted login page has no wallet hand-off (no QR rendering, no DC API
   * call), so it is not offered there — the page would show a button that leads nowhere.
   */
  async appliesTo(session: AuthSessionView): Promise<boolean> {
    return session.mode !== 'browser';
  }

  async begin(session: AuthSessionView, params: ChallengeParams): Promise<Step> {
    const dcApi = params.dc_api === true || params.dc_api === 'true';
    if (params.dc_api !== undefined && !dcApi && params.dc_api !== false && params.dc_api !== 'false') return invalidInput('dc_api must be true or false');
    const flowType = params.openid4vp_flow_type;
    // WALLET-1: openid4vp_flow_type MUST NOT be sent with dc_api=true.
    if (dcApi && flowType !== undefined) return invalidInput('openid4vp_flow_type must not be sent with dc_api=true');
    if (flowType !== undefined && flowType !== 'same_device' && flowType !== 'cross_device') return invalidInput('openid4vp_flow_type must be same_device or cross_device');
    const flow: Openid4vpFlow = dcApi ? 'dc_api' : ((flowType as Openid4vpFlow | undefined) ?? 'cross_device');
    const client = await this.clients.find(session.clientId);
    if (!client) return invalidInput('unknown client');
    const redirect = params.openid4vp_redirect_uri;
    if (redirect !== undefined && flow !== 'same_device') return invalidInput('openid4vp_redirect_uri is for openid4vp_flow_type=same_device only');
    if (flow === 'same_device' && (typeof redirect !== 'string' || !client.openid4vpRedirectUris.includes(redirect))) return invalidInput('openid4vp_redirect_uri must be one registered for this client');
    if (flow === 'dc_api' && client.origins.length === 0) return invalidInput('this client has no registered origins for the Digital Credentials API');

    const acr = session.acrValues?.split(' ').find((a) => a.length > 0);
    const dcqlQuery = this.vp.policy.queryFor(session.clientId, acr);
    // WALLET-3 / VP-4: the request's authorization_details, shown to the wallet as transaction data it signs over.
    let transactionData: string[] | undefined;
    if (session.authorizationDetails && session.authorizationDetails.length > 0) {
      const ids = ((dcqlQuery.credentials as { id: string }[] | undefined) ?? []).map((c) => c.id);
      try {
        transactionData = [...mapAuthorizationDetailsToTransactionData(session.authorizationDetails, this.vp.policy.transactionData, ids).encoded];
      } catch (e) {
        if (e instanceof AuthorizationDetailsMappingError) return invalidInput(e.message);
        throw e;
      }
    }
    const mode = this.vp.policy.responseModeFor(session.clientId);
    const request = await this.vp.create({
      authSession: session.authSession,
      clientId: session.clientId,
      flow,
      responseMode: flow === 'dc_api' ? (mode === 'direct_post' ? 'dc_api' : 'dc_api.jwt') : mode,
      dcqlQuery,
      ...(transactionData ? { transactionData } : {}),
      ...(flow === 'dc_api' ? { origins: [...client.origins] } : {}),
      ...(flow === 'same_device' ? { redirectUri: redirect as string } : {}),
    });
    const ttl = this.vp.ttlSeconds;
    const base = { flow, requestId: request.id, expiresAt: request.expiresAt };
    if (flow === 'dc_api') {
      const credentialsRequest = (await this.vp.dcApiRequest(request)) as JsonObject;
      return { kind: 'prompt', state: base, reply: { status: 'presentation_required', type: 'digital_credentials', credentials_request: credentialsRequest }, expiresInSeconds: ttl };
    }
    const link = this.vp.link(request);
    const reply: JsonObject = { type: 'digital_credentials', credentials_request: link };
    // Cross device: the link as a QR code for the app to show (an SVG data URI).
    if (flow === 'cross_device') reply.qr_code = `data:image/svg+xml;base64,${Buffer.from(await QRCode.toString(link, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 })).toString('base64')}`;
    return { kind: 'pending', state: { ...base, ...(flow === 'same_device' ? { link } : {}) }, reply, expiresInSeconds: ttl, intervalSeconds: POLL_INTERVAL_SECONDS };
  }

  async answer(session: AuthSessionView, state: DigitalCredentialState, params: ChallengeParams): Promise<Step> {
    if (this.clock.nowMs() >= state.expiresAt) return { kind: 'rejected', reason: 'expired' };
    if (state.flow === 'dc_api') return this.answerDcApi(session, state, params.vp_token);
    if (state.flow === 'cross_device') return invalidInput('the wallet answers this challenge: poll with auth_session alone');
    const code = params.response_code;
    if (typeof code !== 'string' || code.length < 16 || code.length > 128) return invalidInput('response_code must be the code the wallet returned');
    // VP-3: only the code of this session's wallet response, once (the core consumes the challenge on success).
    if (!state.proven || !state.responseCodeHash || !constantTimeEqual(hashResponseCode(code), state.responseCodeHash)) return { kind: 'rejected', reason: 'invalid_code' };
    return this.verified(state.proven);
  }

  async resume(_session: AuthSessionView, state: DigitalCredentialState, payload: JsonObject): Promise<Step> {
    if (payload.request_id !== state.requestId || state.flow === 'dc_api' || state.proven) return invalidInput('this response is not for the challenge in progress');
    if (payload.error !== undefined) return ended('access_denied', `the wallet answered ${String(payload.error).slice(0, 64)}`);
    const request = await this.vp.find(state.requestId);
    if (!request) return ended('invalid_request', 'the presentation request expired');
    const verdict = await this.vp.verify(request, payload.vp_token, payload.encrypted === true);
    if (!verdict.ok) return ended(verdict.code, refused(verdict));
    const proven = identityOf(verdict, this.vp.policy);
    if (!proven.ok) return ended('invalid_request', proven.description);
    if (state.flow === 'cross_device') return this.verified(proven.identity);
    // Same device: the app completes with the response code the wallet carries back (hash kept, VP-3).
    const hash = payload.response_code_hash;
    if (typeof hash !== 'string') return ended('invalid_request', 'no response code');
    const remaining = Math.max(1, Math.ceil((state.expiresAt - this.clock.nowMs()) / 1000));
    return {
      kind: 'pending',
      state: { ...state, proven: proven.identity, responseCodeHash: hash },
      reply: { type: 'digital_credentials', credentials_request: state.link ?? '' },
      expiresInSeconds: remaining,
      intervalSeconds: POLL_INTERVAL_SECONDS,
    };
  }

  private async answerDcApi(session: AuthSessionView, state: DigitalCredentialState, vpToken: Json | undefined): Promise<Step> {
    if (vpToken === undefined || vpToken === null) return invalidInput('vp_token is required');
    const request = await this.vp.find(state.requestId);
    if (!request || request.authSession !== session.authSession) return { kind: 'rejected', reason: 'expired' };
    const read = await this.readDcApiToken(request, vpToken);
    if ('error' in read) return invalidInput(read.error);
    const verdict = await this.vp.verify(request, read.vpToken, read.encrypted);
    // A well-formed presentation that fails verification is a wrong answer: counted like any other (contract suite).
    if (!verdict.ok) return { kind: 'rejected', reason: 'invalid_code', description: refused(verdict) };
    const proven = identityOf(verdict, this.vp.policy);
    return proven.ok ? this.verified(proven.identity) : invalidInput(proven.description);
  }

  /** `dc_api`: `data.vp_token` (an object); `dc_api.jwt`: `data.response`, the JWE to this request's key. */
  private async readDcApiToken(request: PresentationRequest, vpToken: Json): Promise<{ vpToken: unknown; encrypted: boolean } | { error: string }> {
    if (request.responseMode === 'dc_api') return typeof vpToken === 'object' && !Array.isArray(vpToken) ? { vpToken, encrypted: false } : { error: 'vp_token must be the wallet’s vp_token object (response_mode dc_api)' };
    if (typeof vpToken !== 'string') return { error: 'vp_token must be the wallet’s encrypted response (response_mode dc_api.jwt)' };
    try {
      const body = await decryptResponse(request, vpToken, this.vp.kek());
      return { vpToken: body.vp_token, encrypted: true };
    } catch (e) {
      if (e instanceof ResponseDecryptionError) return { error: e.message };
      throw e;
    }
  }

  /** VP-7: the user linked to (issuer, claim); only the claims the policy keeps are stored. */
  private async verified(identity: CredentialIdentity): Promise<Step> {
    const { userId } = await this.identities.link(identity.issuer, identity.subject, identity.kept, new Date(this.clock.nowMs()));
    return { kind: 'verified', subject: { type: 'user', id: userId }, amr: this.amr, verifiedValue: identity.issuer };
  }
}
