/**
 * The `status` member of a 403 `insufficient_authorization` answer (CONTRACT §5): what the client
 * should collect next. The core sets the first group; a module's prompt `reply` sets its own
 * (FIPA-20: custom challenge hints travel as extra members). The OpenAPI document enumerates them.
 */
export const CHALLENGE_STATUSES = {
  // Set by the core (libs/interaction).
  invalid_code: 'The answer was wrong; `attempts_remaining` says how many tries are left.',
  attempts_exceeded: 'Too many wrong answers: the challenge is burned; begin a method again.',
  expired: 'The challenge expired before the answer; begin a method again.',
  method_required: 'Nothing is in progress: pick one of `methods` and send `challenge_type` (with what it needs).',
  method_unavailable: 'The named `challenge_type` cannot be used for this session now (e.g. TOTP without an enrolled secret).',
  additional_method_required: 'The method in `completed` verified, but the requested acr needs another one of `methods`.',
  enrolled:
    'A credential of the method in `completed` was enrolled (TOTP app, passkey). Enrolment authenticates nothing, and the credential counts only from a later, separate authorization request (`provisional: true` says it proves no more than what enrolled it until then): go on with one of `methods`.',
  locked: 'Too many wrong answers for this secret across flows: it is locked; retry after `retry_after` seconds (also in `Retry-After`), or use another of `methods`.',
  reauthentication_required:
    'Enrolling a credential (`enrolment: authentication`) needs a fresh authentication at least as strong as the user’s strongest credential; recovery (`enrolment: recovery`, `action=recover`) needs every identifier of the account freshly verified. Authenticate with one of `methods`, then enrol again.',
  pending: 'Waiting for something outside this request (a wallet, another app): poll with `auth_session` every `interval` seconds.',
  // Set by the built-in modules' prompts.
  code_sent: 'A one-time code went to `destination` (masked); answer with `code` (`code_length` digits) within `expires_in` seconds.',
  code_required: 'Answer with the current `code` of the user’s authenticator app (TOTP).',
  enrollment_started: 'TOTP enrolment (`action=enroll`): add `otpauth_uri` (or `secret`) to the authenticator app and confirm with a first `code`.',
  registration_required: 'Passkey registration (`action=register`): create a credential with `public_key_credential_creation_options` and answer with `credential`.',
  assertion_required: 'Sign `public_key_credential_request_options` with a passkey and answer with `credential`.',
} as const satisfies Record<string, string>;

export type ChallengeStatus = keyof typeof CHALLENGE_STATUSES;

export const CHALLENGE_STATUS_VALUES = Object.keys(CHALLENGE_STATUSES) as ChallengeStatus[];
