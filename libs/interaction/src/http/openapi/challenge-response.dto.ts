import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { CHALLENGE_STATUSES, CHALLENGE_STATUS_VALUES } from '@fpa/challenge-kit';

const statusList = Object.entries(CHALLENGE_STATUSES)
  .map(([status, meaning]) => `- \`${status}\`: ${meaning}`)
  .join('\n');

/** 200: the collected information suffices (FIPA-15/16). */
export class AuthorizationCodeResponseDto {
  @ApiProperty({
    type: String,
    description: 'Single use, short-lived (AUTHORIZATION_CODE_TTL_SECONDS), bound to the client, the session, the PKCE challenge and the DPoP key. Redeem it at the token endpoint with `grant_type=authorization_code`, the `code_verifier`, a DPoP proof with the same key, and no `redirect_uri`.',
  })
  authorization_code!: string;

  @ApiProperty({ type: String, description: 'The session the code belongs to (a device’s own session for way (b)).' })
  auth_session!: string;

  @ApiPropertyOptional({
    type: String,
    format: 'uri',
    example: 'https://app.as1.example/native-callback',
    description:
      'FED-14: only for this server’s app completing a `redirect_to_app` handoff. The code is the federating client’s (its PKCE challenge and `dpop_jkt`): the app invokes `<native_callback_uri>?authorization_code=<code>`, and the client app forwards it to its federating server’s `response_uri` (FED-15).',
  })
  native_callback_uri?: string;
}

/** 403 `insufficient_authorization` (FIPA-19/20): what to collect next. */
export class InsufficientAuthorizationDto {
  @ApiProperty({ type: String, enum: ['insufficient_authorization'] })
  error!: 'insufficient_authorization';

  @ApiPropertyOptional({ type: String })
  error_description?: string;

  @ApiProperty({ type: String, description: 'Send it with the next request (and the same DPoP key).' })
  auth_session!: string;

  @ApiProperty({ type: String, enum: CHALLENGE_STATUS_VALUES, description: `What happened and what to do next. Challenge modules may add values of their own.\n${statusList}` })
  status!: string;

  @ApiProperty({ type: [String], description: 'Methods (`challenge_type` values) that could still complete the requested acr for this session, in the policy’s order.' })
  methods!: string[];

  @ApiPropertyOptional({ type: String, example: 'email_otp', description: 'The method this answer is about.' })
  challenge_type?: string;

  @ApiPropertyOptional({ type: String, example: 'a***e@example.com', description: 'Where the code went, masked (`email_otp`, `sms_otp`).' })
  destination?: string;

  @ApiPropertyOptional({ type: 'integer', minimum: 1, description: 'Seconds the challenge in progress stays answerable.' })
  expires_in?: number;

  @ApiPropertyOptional({ type: 'integer', minimum: 4, maximum: 10, description: 'Digits in the code that was sent (`email_otp`, `sms_otp`).' })
  code_length?: number;

  @ApiPropertyOptional({ type: 'integer', minimum: 1, description: 'With `invalid_code`: wrong answers left before the challenge is burned.' })
  attempts_remaining?: number;

  @ApiPropertyOptional({ type: String, description: 'With `additional_method_required` or `enrolled`: the method that just completed.' })
  completed?: string;

  @ApiPropertyOptional({
    type: Boolean,
    description: 'With `enrolled`: the credential is stronger than what enrolled it, so it proves nothing more until a later, separate authorization request uses it (README "Assurance").',
  })
  provisional?: boolean;

  @ApiPropertyOptional({
    type: String,
    enum: ['authentication', 'recovery'],
    description: 'With `reauthentication_required`: which rule refused the enrolment — a fresh factor at least as strong as the user’s strongest (`authentication`), or the recovery policy (`recovery`, `action=recover`).',
  })
  enrolment?: 'authentication' | 'recovery';

  @ApiPropertyOptional({ type: 'integer', minimum: 1, description: 'With `locked`: seconds until this secret may be tried again (also in `Retry-After`).' })
  retry_after?: number;

  @ApiPropertyOptional({ type: 'integer', minimum: 1, description: 'With `pending`: poll (with `auth_session` alone) at most this often, in seconds.' })
  interval?: number;

  @ApiPropertyOptional({ type: String, enum: ['digital_credentials'], description: '`digital_credential` (WALLET-2): the app collects a credential presentation from a wallet.' })
  type?: string;

  @ApiPropertyOptional({
    oneOf: [{ type: 'string', format: 'uri' }, { type: 'object', additionalProperties: true }],
    description:
      '`digital_credential` (WALLET-2): same/cross device, the `openid4vp://?client_id=…&request_uri=…&request_uri_method=post` link for the wallet; DC API (`dc_api=true`), the object for `navigator.credentials.get({ digital })` with `openid4vp-v1-signed` and `-unsigned` requests (docs/digital-credentials.md).',
  })
  credentials_request?: string | Record<string, unknown>;

  @ApiPropertyOptional({ type: String, description: '`digital_credential`, cross device: the link as a QR code, an SVG `data:` URI.' })
  qr_code?: string;

  @ApiPropertyOptional({ type: 'integer', description: '`totp`: digits the authenticator app shows.' })
  digits?: number;

  @ApiPropertyOptional({ type: 'integer', description: '`totp` enrolment: time step in seconds.' })
  period?: number;

  @ApiPropertyOptional({ type: String, format: 'uri', description: '`totp` enrolment: the `otpauth://` URI to show as a QR code (sent once).' })
  otpauth_uri?: string;

  @ApiPropertyOptional({ type: String, description: '`totp` enrolment: the base32 secret for manual entry (sent once).' })
  secret?: string;

  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: true,
    description: '`passkey` with `registration_required`: PublicKeyCredentialCreationOptionsJSON (WebAuthn L3) for navigator.credentials.create / the platform passkey API.',
  })
  public_key_credential_creation_options?: Record<string, unknown>;

  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: true,
    description: '`passkey` with `assertion_required`: PublicKeyCredentialRequestOptionsJSON (WebAuthn L3) for navigator.credentials.get / the platform passkey API.',
  })
  public_key_credential_request_options?: Record<string, unknown>;
}

/** 403 `redirect_to_web` (FIPA-19/21): no native method can complete the request. */
export class RedirectToWebDto {
  @ApiProperty({ type: String, enum: ['redirect_to_web'] })
  error!: 'redirect_to_web';

  @ApiPropertyOptional({ type: String })
  error_description?: string;

  @ApiProperty({ type: String })
  auth_session!: string;

  @ApiPropertyOptional({
    type: String,
    example: 'urn:ietf:params:oauth:request_uri:6fHyx…',
    description: 'Only when the first request carried a `code_challenge` (FIPA-21): a PAR request_uri (RFC 9126) for the browser authorization request.',
  })
  request_uri?: string;

  @ApiPropertyOptional({ type: 'integer', description: 'Lifetime of `request_uri` in seconds.' })
  expires_in?: number;
}

/**
 * 400 `redirect_to_app` (FED-8; CONTRACT §2: federation errors are 400): launch `deep_link` — this
 * server’s app completes the request and hands the code back through the `native_callback_uri`.
 */
export class RedirectToAppDto {
  @ApiProperty({ type: String, enum: ['redirect_to_app'] })
  error!: 'redirect_to_app';

  @ApiPropertyOptional({ type: String })
  error_description?: string;

  @ApiProperty({
    type: String,
    format: 'uri',
    example: 'https://app.as2.example/native-authorization?client_id=as1&request_uri=urn%3Aietf%3Aparams%3Aoauth%3Arequest_uri%3A6fHyx…',
    description: 'The app to launch (FED-8), with `client_id` (the federating client) and a single-use handoff `request_uri` the app posts to this endpoint with its device access token. If no app claims it, end the flow (the draft: a non-native OAuth flow may be tried).',
  })
  deep_link!: string;

  @ApiProperty({ type: String, description: 'The session of this (now ended) flow.' })
  auth_session!: string;

  @ApiProperty({ type: 'integer', minimum: 1, description: 'Lifetime of the handoff in `deep_link`, in seconds.' })
  expires_in!: number;
}

const DESCRIPTION = { type: String, description: 'Human-readable, ASCII only (RFC 6749 §5.2).' } as const;
const SESSION = { type: String, description: 'Once the request got as far as an `auth_session`, errors carry it (FIPA-17): correct the request and go on.' } as const;

/** 400: an RFC 6749 §5.2 error body (CONTRACT §2). */
export class BadRequestErrorDto {
  @ApiProperty({ type: String, enum: ['invalid_request', 'invalid_session', 'invalid_dpop_proof', 'use_dpop_nonce', 'unauthorized_client', 'invalid_scope', 'invalid_target', 'access_denied', 'invalid_grant', 'native_authorization_federate_unsupported'], description: '`use_dpop_nonce`: repeat the request with a proof carrying the `DPoP-Nonce` just sent (RFC 9449 §8). `invalid_session`: unknown, expired or revoked `auth_session`, or one bound to another DPoP key (FIPA-26). `native_authorization_federate_unsupported`: the server this request is routed to offers no native endpoint (FED-9). `invalid_grant` (at `/federation/callback`): the downstream refused the code.' })
  error!: string;

  @ApiPropertyOptional(DESCRIPTION)
  error_description?: string;

  @ApiPropertyOptional(SESSION)
  auth_session?: string;
}

/** 401. */
export class InvalidClientErrorDto {
  @ApiProperty({ type: String, enum: ['invalid_client'], description: 'Unknown or disabled client, or (way (b)) an invalid, expired or revoked device access token.' })
  error!: string;

  @ApiPropertyOptional(DESCRIPTION)
  error_description?: string;

  @ApiPropertyOptional(SESSION)
  auth_session?: string;
}

/** 429. */
export class SlowDownErrorDto {
  @ApiProperty({ type: String, enum: ['slow_down'], description: 'Rate limited (per client IP, per `auth_session`, per destination, or a resend too soon); see `Retry-After`.' })
  error!: string;

  @ApiPropertyOptional(DESCRIPTION)
  error_description?: string;

  @ApiPropertyOptional(SESSION)
  auth_session?: string;
}

/** 503. */
export class TemporarilyUnavailableErrorDto {
  @ApiProperty({ type: String, enum: ['temporarily_unavailable'], description: 'A code could not be delivered or a backing store is down; retry after `Retry-After` seconds.' })
  error!: string;

  @ApiPropertyOptional(DESCRIPTION)
  error_description?: string;

  @ApiPropertyOptional(SESSION)
  auth_session?: string;
}

/** 500. */
export class ServerErrorDto {
  @ApiProperty({ type: String, enum: ['server_error'] })
  error!: string;

  @ApiPropertyOptional(DESCRIPTION)
  error_description?: string;

  @ApiPropertyOptional(SESSION)
  auth_session?: string;
}
