import { Controller, HttpCode, Post, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { pickParams, readForm, requestInfo, sendJson } from '@fpa/oauth-core';
import { CLIENT_AUTH_PARAMS } from './client-authenticator.service';
import { TokenIntrospectionService } from './token-introspection.service';

const PARAMS = ['token', 'token_type_hint', ...CLIENT_AUTH_PARAMS];

/** `POST /introspect` (RFC 7662) and `POST /revoke` (RFC 7009). */
@Controller()
export class TokenManagementController {
  constructor(private readonly tokens: TokenIntrospectionService) {}

  @Post('introspect')
  @HttpCode(200)
  async introspect(@Req() req: Request, @Res() res: Response): Promise<void> {
    const form = pickParams(readForm(req.body, req.headers['content-type']), PARAMS);
    sendJson(res, 200, await this.tokens.introspect(form, requestInfo(req)));
  }

  @Post('revoke')
  @HttpCode(200)
  async revoke(@Req() req: Request, @Res() res: Response): Promise<void> {
    const form = pickParams(readForm(req.body, req.headers['content-type']), PARAMS);
    await this.tokens.revoke(form, requestInfo(req));
    res.setHeader('Cache-Control', 'no-store');
    res.status(200).end();
  }
}
