import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

const BASE64URL_43 = '^[A-Za-z0-9_-]{43}$';

/** OpenAPI security scheme of the device way in (`Authorization: DPoP <device access token>`). */
export const DEVICE_TOKEN_SCHEME = 'device_access_token';

/**
 * The first request of a flow (FiPA -04 §5.1, CONTRACT §5). Two ways in:
 * (a) a first-party public client sends `client_id`, `response_type=code` and an S256 `code_challenge`
 * with a DPoP proof; a new `auth_session` is created and bound to the proof's key;
 * (b) a registered device sends `Authorization: DPoP <device access token>` (and a proof with `ath`);
 * the token's `auth_session` is the session the user authentication attaches to.
 * A request carrying any of `scope`, `acr_values`, `max_age`, `code_challenge` or `resource` starts
 * a new flow for its session.
 */
export class AuthorizeChallengeInitialRequestDto {
  @ApiPropertyOptional({
    type: String,
    maxLength: 128,
    example: 'demo-app',
    description: 'The first-party client. Required for way (a); way (b) derives it from the access token (a value sent anyway must match, FIPA-11).',
  })
  client_id?: string;

  @ApiPropertyOptional({ type: String, enum: ['code'], description: 'Required (and must be `code`) for way (a) (FIPA-10).' })
  response_type?: 'code';

  @ApiPropertyOptional({ type: String, maxLength: 1024, example: 'openid profile', description: 'Space-separated scopes (RFC 6749 §3.3), limited to the client’s scopes.' })
  scope?: string;

  @ApiPropertyOptional({
    type: String,
    pattern: BASE64URL_43,
    description: 'RFC 7636 S256 code challenge: base64url(SHA-256(code_verifier)). Required for way (a); optional for a device (then redeemed with the verifier too).',
  })
  code_challenge?: string;

  @ApiPropertyOptional({ type: String, enum: ['S256'], description: 'Must be `S256` when `code_challenge` is sent (`plain` is refused).' })
  code_challenge_method?: 'S256';

  @ApiPropertyOptional({
    type: String,
    maxLength: 1024,
    example: 'urn:first-party-auth:acr:email',
    description: 'Requested authentication context classes, space-separated, in preference order (FIPA-13). Unknown values are `invalid_request`. Default: the client policy’s `default_acr`.',
  })
  acr_values?: string;

  @ApiPropertyOptional({ type: String, pattern: '^\\d{1,9}$', example: '300', description: 'Maximum authentication age in seconds (OIDC); older verifications in this session do not count. A string of digits, also in JSON bodies.' })
  max_age?: string;

  @ApiPropertyOptional({ type: String, maxLength: 320, example: 'alice@example.com', description: 'An email address or phone number; picks and feeds the matching OTP method.' })
  login_hint?: string;

  @ApiPropertyOptional({ type: String, maxLength: 512, format: 'uri', description: 'RFC 8707 resource indicator: the access token’s audience (must be one of the client’s resources).' })
  resource?: string;

  @ApiPropertyOptional({ type: String, maxLength: 64, example: 'email_otp', description: 'The challenge method to begin. Optional: `email` / `phone` / `login_hint` infer the OTP method.' })
  challenge_type?: string;

  @ApiPropertyOptional({ type: String, maxLength: 320, format: 'email', example: 'alice@example.com', description: 'Where `email_otp` sends its code (seed 004); implies `challenge_type=email_otp`.' })
  email?: string;

  @ApiPropertyOptional({ type: String, maxLength: 32, example: '+15551234567', description: 'Where `sms_otp` sends its code (E.164); implies `challenge_type=sms_otp`.' })
  phone?: string;

  @ApiPropertyOptional({ type: String, pattern: BASE64URL_43, description: 'A device may name its own session (must equal the access token’s `auth_session`).' })
  auth_session?: string;

  @ApiPropertyOptional({
    type: String,
    maxLength: 256,
    example: 'urn:ietf:params:oauth:request_uri:6fHyx…',
    description:
      'A pushed request (RFC 9126, PAR-10), sent with `client_id` only: by the client that pushed it; by the end user’s app for a federating client that pushed it with its own authentication (FED-11 — the app’s DPoP key binds the session, the code stays bound to the pushed `dpop_jkt` and PKCE); or, with `Authorization: DPoP <device access token>`, by this server’s app taking a `redirect_to_app` handoff (FED-14, `client_id` = the federating client from the deep link).',
  })
  request_uri?: string;

  @ApiPropertyOptional({
    type: String,
    maxLength: 2048,
    format: 'uri',
    example: 'https://app.example.com/native-callback',
    description: 'FED-3: the app’s claimed https link another app hands a response back to; no fragment; must be trusted for the client (its `native_callback_uris` allow-list, or a further trust policy), else `invalid_request`.',
  })
  native_callback_uri?: string;
}

/**
 * A later request of the same flow (FiPA -04 §5.1): `auth_session` and a DPoP proof made with the
 * same key as the first request (another key, or no proof, is `invalid_session` / `invalid_dpop_proof`).
 * Without `challenge_type` and `action` it answers the challenge in progress; with them it begins a method.
 */
export class AuthorizeChallengeFollowUpRequestDto {
  @ApiProperty({ type: String, pattern: BASE64URL_43, description: 'From the previous response (FIPA-25: always replace the stored value with the newest).' })
  auth_session!: string;

  @ApiPropertyOptional({ type: String, maxLength: 64, example: 'totp', description: 'Begin this method instead of answering the one in progress (one of the `methods` of the last 403).' })
  challenge_type?: string;

  @ApiPropertyOptional({
    type: String,
    maxLength: 32,
    example: 'enroll',
    description: 'Begin (or restart) a method instead of answering: any value restarts `challenge_type` (or the inferred method), e.g. to resend a code. Modules read their own: `totp`: `enroll`; `passkey`: `register` (or `authenticate`). With an action the module, not `methods`, decides whether it fits.',
  })
  action?: string;

  @ApiPropertyOptional({ type: String, maxLength: 32, example: '123456', description: 'The one-time code (`email_otp`, `sms_otp`, `totp`).' })
  code?: string;

  @ApiPropertyOptional({
    oneOf: [{ type: 'object', additionalProperties: true }, { type: 'string' }],
    description: 'The WebAuthn response (`passkey`): a PublicKeyCredential in its JSON form — an object in JSON bodies, that JSON as a string in form bodies.',
  })
  credential?: Record<string, unknown> | string;

  @ApiPropertyOptional({ type: String, maxLength: 320, format: 'email', description: 'With `challenge_type=email_otp`: send a code to this address.' })
  email?: string;

  @ApiPropertyOptional({ type: String, maxLength: 32, description: 'With `challenge_type=sms_otp`: send a code to this number.' })
  phone?: string;

  @ApiPropertyOptional({ type: String, maxLength: 128, description: 'Optional; must match the session’s client.' })
  client_id?: string;
}
