import { Inject, Injectable } from '@nestjs/common';
import { OAuthError, type RequestInfo } from '@fpa/oauth-core';
import type { ChallengeInput } from '../http/challenge-request';
import { CALLER_BINDINGS, type Caller, type CallerBinding } from './caller';

/** Picks the one binding a request uses; a request no binding accepts is refused. */
@Injectable()
export class CallerBindings {
  constructor(@Inject(CALLER_BINDINGS) private readonly bindings: readonly CallerBinding[]) {}

  async bind(input: ChallengeInput, request: RequestInfo): Promise<Caller> {
    for (const binding of this.bindings) if (await binding.applies(request, input)) return binding.bind(input, request);
    throw new OAuthError('invalid_request', 'use Authorization: DPoP with a device access token, or no Authorization header');
  }
}
