import { describeTextFault, jsonFault, OAuthError } from '@fpa/oauth-core';
import type { Json } from '@fpa/challenge-kit';

export const CHALLENGE_PATH = '/authorize-challenge';

export type ChallengeInput = Readonly<Record<string, Json>>;

const FORM = /^application\/x-www-form-urlencoded\b/i;
const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\b/i;
const NAME = /^[a-z][a-z0-9_]{0,63}$/;

/**
 * The request parameters (CONTRACT §2, FIPA-5/9): form-encoded (one value per name), or JSON as the
 * wallet draft's follow-ups use. Values keep their JSON type (a WebAuthn response is an object);
 * parameter names are limited to the snake_case the profile uses. Every string and member name in
 * a value, however deep, passes the suite's text rules (oauth-core input-text.ts), and JSON nests
 * at most MAX_JSON_DEPTH levels.
 */
export function readChallengeInput(body: unknown, contentType: string | undefined): ChallengeInput {
  if (!contentType || !(FORM.test(contentType) || JSON_TYPE.test(contentType))) {
    throw new OAuthError('invalid_request', 'the request body must be application/x-www-form-urlencoded or application/json');
  }
  if (body === null || body === undefined) return {};
  if (typeof body !== 'object' || Array.isArray(body)) throw new OAuthError('invalid_request', 'the request body must be an object');
  const out: Record<string, Json> = Object.create(null) as Record<string, Json>;
  for (const [name, value] of Object.entries(body as Record<string, unknown>)) {
    if (!NAME.test(name)) throw new OAuthError('invalid_request', 'malformed parameter name');
    if (FORM.test(contentType) && Array.isArray(value)) throw new OAuthError('invalid_request', `parameter ${name} is repeated`);
    if (value === '' || value === undefined) continue;
    const fault = jsonFault(value, name);
    if (fault) throw new OAuthError('invalid_request', `parameter ${fault.path} ${FAULTS[fault.fault]}`, { reason: 'input_text' });
    out[name] = value as Json;
  }
  return out;
}

const FAULTS = {
  length: describeTextFault('length'),
  control: describeTextFault('control'),
  surrogate: describeTextFault('surrogate'),
  replacement: describeTextFault('replacement'),
  depth: 'is nested too deeply',
  name: 'has a malformed member name',
} as const;

export function stringParam(input: ChallengeInput, name: string, max = 2048): string | undefined {
  const v = input[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string' || v.length > max) throw new OAuthError('invalid_request', `parameter ${name} must be a string of at most ${max} characters`);
  return v;
}
