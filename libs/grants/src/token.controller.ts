import { Controller, HttpCode, Post, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { readForm, requestInfo, sendJson } from '@fpa/oauth-core';
import { TokenEndpointService } from './token-endpoint.service';

/** `POST /token` (CONTRACT §1). */
@Controller()
export class TokenController {
  constructor(private readonly endpoint: TokenEndpointService) {}

  @Post('token')
  @HttpCode(200)
  async token(@Req() req: Request, @Res() res: Response): Promise<void> {
    const result = await this.endpoint.handle(readForm(req.body, req.headers['content-type']), requestInfo(req));
    sendJson(res, 200, result.body, result.headers);
  }
}
