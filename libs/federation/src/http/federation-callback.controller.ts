import { Controller, Get, HttpCode, Inject, Post, Req, Res } from '@nestjs/common';
import { ApiExcludeEndpoint } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import type { JsonObject } from '@fpa/challenge-kit';
import { DpopService } from '@fpa/dpop';
import { InteractionLoop, readChallengeInput, renderFipaJson, stringParam } from '@fpa/interaction';
import { OAuthError, requestInfo, sendJson } from '@fpa/oauth-core';
import { EPHEMERAL_STORE, type EphemeralStore } from '@fpa/store';
import { FEDERATION_KEYS, type FederationKeyring } from '../keys/federation-keys.service';
import { FEDERATION_CALLBACK_PATH } from '../routing/federation-starter.service';
import { FEDERATION_ROUTING } from '../routing/federation.routing';

/** What the client may forward of the downstream's answer (FED-12/13); anything else is not read. */
const FORWARDED = ['authorization_code', 'error', 'error_description'] as const;

/**
 * `POST /federation/callback` — the `response_uri` of a `federate` answer (CONTRACT §1, FED-12):
 * the client posts the downstream's result with its `auth_session` and a DPoP proof of the
 * session's key (FIPA-26), and gets the FiPA answer: its own code, or what local policy still needs.
 * `GET /federation/jwks` publishes the key our private_key_jwt assertions are signed with.
 */
@Controller()
export class FederationController {
  constructor(
    private readonly loop: InteractionLoop,
    private readonly dpop: DpopService,
    @Inject(EPHEMERAL_STORE) private readonly store: EphemeralStore,
    @Inject(FEDERATION_KEYS) private readonly keys: FederationKeyring,
  ) {}

  @Post(FEDERATION_CALLBACK_PATH.slice(1))
  @HttpCode(200)
  @ApiExcludeEndpoint()
  async callback(@Req() req: Request, @Res() res: Response): Promise<void> {
    const nonce = { 'DPoP-Nonce': this.dpop.currentNonce() };
    try {
      const input = readChallengeInput(req.body, req.headers['content-type']);
      const authSession = stringParam(input, 'auth_session', 128);
      if (!authSession) throw new OAuthError('invalid_request', 'auth_session is required');
      const info = requestInfo(req);
      const proof = await this.dpop.validate(info, FEDERATION_CALLBACK_PATH);
      // FIPA-26: the session's key, on this request too.
      if (!proof) throw new OAuthError('invalid_session', 'this auth_session is bound to a DPoP key: send a DPoP proof');
      const refusal = this.dpop.claimRefusal((await this.store.claimEachOnce([proof.replayClaim]))[0]);
      if (refusal) throw refusal;
      const payload: JsonObject = {};
      for (const name of FORWARDED) if (input[name] !== undefined) payload[name] = input[name];
      const wire = renderFipaJson(await this.loop.resumeRouting(FEDERATION_ROUTING, authSession, payload, info, proof.jkt));
      sendJson(res, wire.status, wire.body, { ...nonce, ...wire.headers });
    } catch (e) {
      throw e instanceof OAuthError && !e.headers['DPoP-Nonce'] ? e.withHeaders(nonce) : e;
    }
  }

  @Get('federation/jwks')
  @ApiExcludeEndpoint()
  async jwks(@Res() res: Response): Promise<void> {
    res.status(200).setHeader('Cache-Control', 'public, max-age=300');
    res.json(await this.keys.jwks());
  }
}
