import { Controller, HttpCode, Post, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { pickParams, readForm, requestInfo, sendJson } from '@fpa/oauth-core';
import { DeviceRegistrationService, REGISTRATION_PARAMS } from './device-registration.service';

/** `POST /register` — the device registration endpoint (CONTRACT §1, §3). */
@Controller()
export class RegistrationController {
  constructor(private readonly registration: DeviceRegistrationService) {}

  @Post('register')
  @HttpCode(200)
  async register(@Req() req: Request, @Res() res: Response): Promise<void> {
    const form = pickParams(readForm(req.body, req.headers['content-type']), REGISTRATION_PARAMS);
    sendJson(res, 200, await this.registration.register(form, requestInfo(req)));
  }
}
