import { Controller, HttpCode, Post, Req, Res } from '@nestjs/common';
import { ApiBody, ApiConsumes, ApiExtraModels, ApiHeader, ApiOperation, ApiProduces, ApiResponse, ApiSecurity, ApiTags, getSchemaPath } from '@nestjs/swagger';
import type { HeadersObject } from '@nestjs/swagger/dist/interfaces/open-api-spec.interface';
import type { Request, Response } from 'express';
import { DpopService } from '@fpa/dpop';
import { OAuthError, requestInfo, sendJson } from '@fpa/oauth-core';
import { InteractionLoop } from '../loop/interaction-loop.service';
import { readChallengeInput } from './challenge-request';
import { renderFipaJson } from './fipa-json.renderer';
import { AuthorizeChallengeFollowUpRequestDto, AuthorizeChallengeInitialRequestDto, DEVICE_TOKEN_SCHEME } from './openapi/challenge-request.dto';
import {
  AuthorizationCodeResponseDto,
  BadRequestErrorDto,
  InsufficientAuthorizationDto,
  InvalidClientErrorDto,
  RedirectToAppDto,
  RedirectToWebDto,
  ServerErrorDto,
  SlowDownErrorDto,
  TemporarilyUnavailableErrorDto,
} from './openapi/challenge-response.dto';
import { FederateDto, InsufficientInformationDto } from './openapi/routing-response.dto';

const NONCE_HEADER: HeadersObject = { 'DPoP-Nonce': { description: 'The current DPoP nonce: put it in the next proof (RFC 9449 §8).', schema: { type: 'string' } } };
const NO_STORE: HeadersObject = { 'Cache-Control': { description: 'Always `no-store`.', schema: { type: 'string', enum: ['no-store'] } } };
const RETRY_AFTER: HeadersObject = { 'Retry-After': { description: 'Seconds to wait before retrying.', schema: { type: 'integer' } } };

/**
 * `POST /authorize-challenge` — FiPA's authorization challenge endpoint, the federation draft's
 * native authorization endpoint (CONTRACT §1, §5). The decorators describe the wire profile for the
 * OpenAPI document (openapi/setup-openapi.ts); the interaction loop alone decides the answers and FIPA_JSON renders them.
 */
@ApiTags('authorization challenge')
@ApiExtraModels(AuthorizeChallengeInitialRequestDto, AuthorizeChallengeFollowUpRequestDto, InsufficientAuthorizationDto, RedirectToWebDto, BadRequestErrorDto, RedirectToAppDto, InsufficientInformationDto, FederateDto)
@Controller()
export class AuthorizeChallengeController {
  constructor(
    private readonly loop: InteractionLoop,
    private readonly dpop: DpopService,
  ) {}

  @Post('authorize-challenge')
  @HttpCode(200)
  @ApiOperation({
    operationId: 'authorizeChallenge',
    summary: 'Authenticate the user natively, one challenge at a time, until an authorization code is issued',
    description: [
      'FiPA -04 §5. The first request starts a flow (way (a): a public first-party client with `client_id`, `response_type=code` and an S256 `code_challenge`; way (b): a registered device with `Authorization: DPoP <device access token>`).',
      'While more is needed the answer is **403 `insufficient_authorization`** naming the challenge, its `status` and the `methods` still open; the client answers with `auth_session` and what the challenge asks for (`code`, `credential`, …), or begins another method with `challenge_type`.',
      'When the requested acr is satisfied: **200** with an `authorization_code`, redeemed at the token endpoint without `redirect_uri`. When no native method can complete the request: **403 `redirect_to_web`**.',
      'As a downstream server (docs/federation-downstream.md): the end user’s app posts `client_id` + `request_uri` a federating client pushed (FED-11); a client with a `redirect_to_app` policy and a trusted `native_callback_uri` gets **400 `redirect_to_app`** with a `deep_link` (FED-8), which this server’s app completes with its device access token (FED-14: the 200 then carries `native_callback_uri`).',
      'Form bodies take one value per name; JSON bodies are accepted too (values keep their JSON type, e.g. a WebAuthn `credential` object).',
    ].join('\n\n'),
  })
  @ApiConsumes('application/x-www-form-urlencoded', 'application/json')
  @ApiProduces('application/json')
  @ApiBody({
    description: 'The first request of a flow, or a follow-up carrying `auth_session`. `anyOf`, not `oneOf`: a device may name its own session on a first request, so a body with `auth_session` alone fits both, and the session’s state decides.',
    schema: { anyOf: [{ $ref: getSchemaPath(AuthorizeChallengeInitialRequestDto) }, { $ref: getSchemaPath(AuthorizeChallengeFollowUpRequestDto) }] },
  })
  @ApiHeader({
    name: 'DPoP',
    required: true,
    description: 'A DPoP proof (RFC 9449) for `POST <issuer>/authorize-challenge` with the server’s nonce; the same key on every request of the flow (FIPA-26/33). With a device access token it carries `ath`.',
  })
  @ApiHeader({
    name: 'Authorization',
    required: false,
    description: 'Way (b) only: `DPoP <device access token>` (from client_credentials with a device assertion). Any other Authorization header is `invalid_request`.',
  })
  @ApiSecurity({})
  @ApiSecurity(DEVICE_TOKEN_SCHEME)
  @ApiResponse({ status: 200, description: 'The collected information suffices: an authorization code.', type: AuthorizationCodeResponseDto, headers: { ...NONCE_HEADER, ...NO_STORE } })
  @ApiResponse({
    status: 400,
    description:
      'A malformed or refused request, an unusable `auth_session` (`invalid_session`), a bad DPoP proof, or a nonce to use (`use_dpop_nonce`). Federation draft: `redirect_to_app` (FED-8: launch `deep_link`); with a client routing policy `insufficient_information` (answer the `userPrompt`), `federate` (continue at `federation_uri`), or `native_authorization_federate_unsupported`.',
    schema: {
      oneOf: [{ $ref: getSchemaPath(BadRequestErrorDto) }, { $ref: getSchemaPath(RedirectToAppDto) }, { $ref: getSchemaPath(InsufficientInformationDto) }, { $ref: getSchemaPath(FederateDto) }],
    },
    headers: { ...NONCE_HEADER, ...NO_STORE },
  })
  @ApiResponse({
    status: 401,
    description: '`invalid_client`: unknown or disabled client, or an invalid device access token (then with `WWW-Authenticate: DPoP error="invalid_token"`).',
    type: InvalidClientErrorDto,
    headers: { ...NONCE_HEADER, ...NO_STORE, 'WWW-Authenticate': { description: 'Way (b): `DPoP error="invalid_token"`.', schema: { type: 'string' } } },
  })
  @ApiResponse({
    status: 403,
    description: '`insufficient_authorization`: more is needed (see `status` and `methods`); `redirect_to_web`: continue in a browser, with a PAR `request_uri` when the flow had a `code_challenge`.',
    schema: {
      oneOf: [{ $ref: getSchemaPath(InsufficientAuthorizationDto) }, { $ref: getSchemaPath(RedirectToWebDto) }],
      discriminator: { propertyName: 'error', mapping: { insufficient_authorization: getSchemaPath(InsufficientAuthorizationDto), redirect_to_web: getSchemaPath(RedirectToWebDto) } },
    },
    headers: { ...NONCE_HEADER, ...NO_STORE },
  })
  @ApiResponse({ status: 429, description: 'Rate limited (`slow_down`).', type: SlowDownErrorDto, headers: { ...NONCE_HEADER, ...NO_STORE, ...RETRY_AFTER } })
  @ApiResponse({ status: 500, description: 'An unexpected fault (logged with the request id).', type: ServerErrorDto, headers: NO_STORE })
  @ApiResponse({ status: 503, description: 'A code could not be delivered, or a store is down (`temporarily_unavailable`).', type: TemporarilyUnavailableErrorDto, headers: { ...NO_STORE, ...RETRY_AFTER } })
  async challenge(@Req() req: Request, @Res() res: Response): Promise<void> {
    // Every answer of the flow carries the current nonce (RFC 9449 §8).
    const nonce = { 'DPoP-Nonce': this.dpop.currentNonce() };
    try {
      const wire = renderFipaJson(await this.loop.handle(readChallengeInput(req.body, req.headers['content-type']), requestInfo(req)));
      sendJson(res, wire.status, wire.body, { ...nonce, ...wire.headers });
    } catch (e) {
      throw e instanceof OAuthError && !e.headers['DPoP-Nonce'] ? e.withHeaders(nonce) : e;
    }
  }
}
