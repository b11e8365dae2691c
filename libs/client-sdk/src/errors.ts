import type { AuthorizationChallenge } from './authorization-challenge';

/** An OAuth error answer, with what the server said. */
export class OAuthClientError extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    readonly description: string | undefined,
    readonly body: Record<string, unknown>,
    readonly headers: Headers,
  ) {
    super(`${status} ${error}${description ? `: ${description}` : ''}`);
    this.name = 'OAuthClientError';
  }
}

/**
 * 403 `redirect_to_web` (FiPA -04 §5.2.2.1.1): no native method can complete the request; continue
 * with a browser authorization request — with `request_uri` (PAR semantics) when the server gave one.
 */
export class RedirectToWebError extends OAuthClientError {
  constructor(body: Record<string, unknown>, headers: Headers) {
    super(403, 'redirect_to_web', typeof body.error_description === 'string' ? body.error_description : undefined, body, headers);
    this.name = 'RedirectToWebError';
  }

  get requestUri(): string | undefined {
    return typeof this.body.request_uri === 'string' ? this.body.request_uri : undefined;
  }

  get expiresIn(): number | undefined {
    return typeof this.body.expires_in === 'number' ? this.body.expires_in : undefined;
  }

  get authSession(): string | undefined {
    return typeof this.body.auth_session === 'string' ? this.body.auth_session : undefined;
  }
}

/** `onChallenge` answered `undefined`: the app (or its user) gave up on this challenge. */
export class ChallengeAbandonedError extends Error {
  constructor(readonly challenge: AuthorizationChallenge) {
    super(`the ${challenge.challenge_type ?? 'authorization'} challenge (status ${challenge.status}) was abandoned`);
    this.name = 'ChallengeAbandonedError';
  }
}
