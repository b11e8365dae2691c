import { Controller, HttpCode, Post, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { requestInfo, sendJson } from '@fpa/oauth-core';
import { ChallengeOrchestrator } from './challenge-orchestrator.service';
import { readChallengeInput } from './challenge-request';

/**
 * `POST /authorize-challenge` — FiPA's authorization challenge endpoint, the federation draft's
 * native authorization endpoint (CONTRACT §1, §5).
 */
@Controller()
export class AuthorizeChallengeController {
  constructor(private readonly orchestrator: ChallengeOrchestrator) {}

  @Post('authorize-challenge')
  @HttpCode(200)
  async challenge(@Req() req: Request, @Res() res: Response): Promise<void> {
    const result = await this.orchestrator.handle(readChallengeInput(req.body, req.headers['content-type']), requestInfo(req));
    sendJson(res, result.status, result.body, result.headers);
  }
}
