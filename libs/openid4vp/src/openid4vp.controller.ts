import { Controller, Get, HttpCode, Param, Post, Req, Res } from '@nestjs/common';
import { ApiExcludeEndpoint } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import type { JsonObject } from '@fpa/challenge-kit';
import { randomToken } from '@fpa/crypto';
import { InteractionLoop } from '@fpa/interaction';
import { OAuthError, requestInfo, sendJson } from '@fpa/oauth-core';
import { decryptResponse, hashResponseCode, MAX_RESPONSE_CHARS, ResponseDecryptionError, responseKid, type PresentationRequest } from './presentation-request';
import { Openid4vpService } from './openid4vp.service';

const FORM = /^application\/x-www-form-urlencoded\b/i;
/** VP-6 codes a refusal may name (the method's description starts with one). */
const WALLET_ERRORS = ['invalid_transaction_data', 'vp_formats_not_supported', 'access_denied', 'invalid_request'] as const;

/**
 * The wallet's two endpoints (VP-2, VP-3; docs/openid4vp-wire.md): the request URI (`GET`, or `POST`
 * with `wallet_nonce`) serving the signed request object, and the response URI receiving
 * `direct_post` / `direct_post.jwt`. A response is accepted once per request (claimed before it is
 * verified); it reaches the flow through `InteractionLoop.resume` and the app's next poll (cross
 * device) or its `response_code` (same device) gets the code — the wallet never sees it.
 */
@Controller()
export class Openid4vpController {
  constructor(
    private readonly vp: Openid4vpService,
    private readonly loop: InteractionLoop,
  ) {}

  @Get('openid4vp/requests/:id')
  @ApiExcludeEndpoint()
  async getRequest(@Param('id') id: string, @Res() res: Response): Promise<void> {
    await this.serveRequest(id, undefined, res);
  }

  @Post('openid4vp/requests/:id')
  @HttpCode(200)
  @ApiExcludeEndpoint()
  async postRequest(@Param('id') id: string, @Req() req: Request, @Res() res: Response): Promise<void> {
    const form = readForm(req);
    const walletNonce = form.wallet_nonce;
    if (walletNonce !== undefined && !/^[\x21-\x7e]{1,256}$/.test(walletNonce)) throw new OAuthError('invalid_request', 'wallet_nonce must be at most 256 printable characters');
    await this.serveRequest(id, walletNonce, res);
  }

  @Post('openid4vp/response')
  @HttpCode(200)
  @ApiExcludeEndpoint()
  async response(@Req() req: Request, @Res() res: Response): Promise<void> {
    const form = readForm(req);
    const { request, vpToken, error, encrypted } = await this.readResponse(form);
    // VP-3: one response per request, claimed atomically before anything is verified (a replay, or a racing second post, loses here).
    if (!(await this.vp.accept(request))) throw new OAuthError('invalid_request', 'this request was already answered');
    const responseCode = request.flow === 'same_device' ? randomToken(32) : undefined;
    const payload: JsonObject = {
      request_id: request.id,
      encrypted,
      ...(error !== undefined ? { error } : { vp_token: vpToken as JsonObject }),
      ...(responseCode ? { response_code_hash: hashResponseCode(responseCode) } : {}),
    };
    const outcome = await this.loop.resume(request.authSession, payload, requestInfo(req));
    if (outcome !== undefined && outcome.kind !== 'pending') {
      const description = outcome.kind === 'need_more' && typeof outcome.challenge.error_description === 'string' ? outcome.challenge.error_description : 'the presentation was not accepted';
      const code = WALLET_ERRORS.find((c) => description.startsWith(`${c}: `)) ?? 'invalid_request';
      throw new OAuthError(code, description.replace(/^[a-z_]+: /, ''));
    }
    // VP-3: same device, the wallet sends the user back to the app with a fresh response code (session fixation).
    sendJson(res, 200, responseCode && request.redirectUri ? { redirect_uri: `${request.redirectUri}#response_code=${responseCode}` } : {});
  }

  private async serveRequest(id: string, walletNonce: string | undefined, res: Response): Promise<void> {
    const request = await this.vp.find(id);
    // A request object fetched after the request expired (or of a DC API request) is never served.
    if (!request || request.flow === 'dc_api') throw new OAuthError('invalid_request', 'unknown or expired request_uri');
    const jws = await this.vp.requestObject(request, walletNonce);
    res.status(200).setHeader('Content-Type', 'application/oauth-authz-req+jwt').setHeader('Cache-Control', 'no-store').send(jws);
  }

  private async readResponse(form: Record<string, string>): Promise<{ request: PresentationRequest; vpToken?: unknown; error?: string; encrypted: boolean }> {
    if (form.response !== undefined) {
      if (form.response.length > MAX_RESPONSE_CHARS) throw new OAuthError('invalid_request', 'the response is too large', { status: 413 });
      const kid = responseKid(form.response);
      const request = kid ? await this.vp.find(kid) : undefined;
      if (!request || request.flow === 'dc_api') throw new OAuthError('invalid_request', 'the response names no current request');
      if (request.responseMode !== 'direct_post.jwt') throw new OAuthError('invalid_request', 'this request asked for response_mode direct_post');
      let body: Record<string, unknown>;
      try {
        body = await decryptResponse(request, form.response, this.vp.kek());
      } catch (e) {
        if (e instanceof ResponseDecryptionError) throw new OAuthError('invalid_request', e.message);
        throw e;
      }
      if (body.state !== request.id) throw new OAuthError('invalid_request', 'the response’s state is not its request’s');
      return { request, encrypted: true, ...walletAnswer(body.vp_token, body.error) };
    }
    const state = form.state;
    const request = state !== undefined ? await this.vp.find(state) : undefined;
    if (!request || request.flow === 'dc_api') throw new OAuthError('invalid_request', 'state names no current request');
    if (request.responseMode !== 'direct_post') throw new OAuthError('invalid_request', 'this request asked for an encrypted response (direct_post.jwt)');
    let vpToken: unknown;
    if (form.vp_token !== undefined) {
      try {
        vpToken = JSON.parse(form.vp_token);
      } catch {
        throw new OAuthError('invalid_request', 'vp_token must be a JSON object');
      }
    }
    return { request, encrypted: false, ...walletAnswer(vpToken, form.error) };
  }
}

/** The wallet sent either a vp_token (a JSON object) or an error (VP-3). */
function walletAnswer(vpToken: unknown, error: unknown): { vpToken?: unknown; error?: string } {
  if (error !== undefined) {
    if (typeof error !== 'string' || !/^[\x20-\x7e]{1,128}$/.test(error)) throw new OAuthError('invalid_request', 'error must be a short ASCII string');
    return { error };
  }
  if (typeof vpToken !== 'object' || vpToken === null || Array.isArray(vpToken)) throw new OAuthError('invalid_request', 'vp_token must be a JSON object');
  return { vpToken };
}

/** Form bodies only, one value per name. */
function readForm(req: Request): Record<string, string> {
  if (!FORM.test(req.headers['content-type'] ?? '')) throw new OAuthError('invalid_request', 'the body must be application/x-www-form-urlencoded');
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries((req.body ?? {}) as Record<string, unknown>)) {
    if (typeof v !== 'string') throw new OAuthError('invalid_request', `parameter ${k.slice(0, 64)} is repeated or malformed`);
    out[k] = v;
  }
  return out;
}
