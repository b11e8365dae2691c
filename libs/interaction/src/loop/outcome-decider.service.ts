import { Injectable } from '@nestjs/common';
import type { ChallengeStatus, JsonObject } from '@fpa/challenge-kit';
import { CodeIssuer } from '../effects/code-issuer.service';
import { WebFallback } from '../effects/web-fallback.service';
import type { EndpointOutcome } from './outcome';
import { SessionFacts } from './session-facts.service';
import type { Turn } from './turn';

/**
 * The one decision after every step (STYLE.md): the assurance function says whether the requested
 * acr is met — then a code — or which methods can still help; when none of them can run for this
 * session, `redirect_to_web`.
 */
/**
 * The consent gate: in the browser, a client that is not first-party — or a request with
 * `prompt=consent` — gets a code only after the user approved what it asked for, in this request
 * (consent is not remembered: RAR details such as a payment are one-off by nature).
 */
export function needsConsent(turn: Turn): boolean {
  if (turn.caller.mode !== 'browser' || turn.flow.consented) return false;
  return !turn.caller.client.firstParty || turn.flow.request.prompt.includes('consent');
}

@Injectable()
export class OutcomeDecider {
  constructor(
    private readonly facts: SessionFacts,
    private readonly codes: CodeIssuer,
    private readonly web: WebFallback,
  ) {}

  /** After a step that may have completed the request (a success, or nothing in progress). */
  async decide(turn: Turn, status: ChallengeStatus, challenge: JsonObject = {}): Promise<EndpointOutcome> {
    const assessment = await this.facts.assess(turn);
    if (assessment.satisfied && needsConsent(turn)) {
      return { kind: 'consent_required', authSession: turn.caller.session.authSession, scopes: turn.flow.request.scopes, authorizationDetails: turn.flow.request.authorizationDetails ?? [] };
    }
    if (assessment.satisfied) return this.codes.issue(turn, assessment.satisfied);
    return this.needMore(turn, status, challenge, assessment.open);
  }

  /**
   * More is needed: the methods still open that can run now, or the browser when none can. Not
   * after an enrolment: a credential enrolled in this flow counts only in a later one, so an empty
   * `methods` then means "start a new authorization request", not "go to the browser".
   */
  async needMore(turn: Turn, status: ChallengeStatus, challenge: JsonObject = {}, open?: readonly string[], retryAfterSeconds?: number): Promise<EndpointOutcome> {
    const { applicable: methods, enrollable } = await this.facts.sortOut(turn, open ?? (await this.facts.assess(turn)).open);
    // A challenge in progress (a prompt just sent, an answer to retry) keeps the flow native.
    if (methods.length === 0 && !turn.flow.active && status !== 'enrolled') return this.web.redirect(turn);
    return {
      kind: 'need_more',
      authSession: turn.caller.session.authSession,
      status,
      challenge,
      methods,
      ...(enrollable.length > 0 ? { enrollable } : {}),
      ...(retryAfterSeconds !== undefined ? { retryAfterSeconds } : {}),
    };
  }
}
