import { Inject, Injectable } from '@nestjs/common';
import { OAuthError, type RequestInfo } from '@fpa/oauth-core';
import type { ChallengeInput } from '../http/challenge-request';
import { CALLER_BINDINGS, type Caller, type CallerBinding } from './caller';

/** Picks the one binding a request uses; a request no binding accepts is refused. */
@Injectable()
export class CallerBindings {
  constructor(@Inject(CALLER_BINDINGS) private readonly bindings: readonly CallerBinding[]) {}

  bind(input: ChallengeInput, request: RequestInfo): Promise<Caller> {
    const binding = this.bindings.find((b) => b.applies(request));
    if (!binding) throw new OAuthError('invalid_request', 'use Authorization: DPoP with a device access token, or no Authorization header');
    return binding.bind(input, request);
  }
}
