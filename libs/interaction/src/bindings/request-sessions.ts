import { Injectable } from '@nestjs/common';
import { DeviceSessionRepository, type DeviceSession } from '@fpa/session';
import type { ChallengeInput } from '../http/challenge-request';

/**
 * The session a request's `auth_session` names, read once per request however many bindings ask
 * (the federating binding decides by its kind, the public one then binds it): keyed by the
 * request's parsed input, which lives exactly as long as the request.
 */
@Injectable()
export class RequestSessions {
  private readonly byInput = new WeakMap<ChallengeInput, { readonly authSession: string; readonly session: Promise<DeviceSession | undefined> }>();

  constructor(private readonly sessions: DeviceSessionRepository) {}

  find(input: ChallengeInput, authSession: string): Promise<DeviceSession | undefined> {
    const known = this.byInput.get(input);
    if (known && known.authSession === authSession) return known.session;
    const session = this.sessions.find(authSession);
    this.byInput.set(input, { authSession, session });
    return session;
  }
}
