import { All, Controller, HttpCode, Post, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { OAuthError, readForm, requestInfo, sendJson } from '@fpa/oauth-core';
import { PushedAuthorizationService } from './pushed-authorization.service';

/** `POST /par` (CONTRACT §1, RFC 9126 §2). */
@Controller()
export class ParController {
  constructor(private readonly service: PushedAuthorizationService) {}

  @Post('par')
  @HttpCode(201)
  async par(@Req() req: Request, @Res() res: Response): Promise<void> {
    // PAR-1 / CONTRACT §2: form-encoded, a repeated parameter is invalid_request.
    const result = await this.service.push(readForm(req.body, req.headers['content-type']), requestInfo(req));
    sendJson(res, 201, result.body, result.headers);
  }

  /** PAR-8 (RFC 9126 §2.3): any other method is 405. */
  @All('par')
  other(): never {
    throw new OAuthError('method_not_allowed', 'the pushed authorization request endpoint takes POST', { headers: { Allow: 'POST' } });
  }
}
