import { describeTextFault, safeName, textFault } from './input-text';
import { OAuthError } from './oauth-error';

export type Form = Readonly<Record<string, string>>;

/**
 * A parsed `application/x-www-form-urlencoded` body (CONTRACT §2): every value a single string.
 * Express' non-extended parser turns repeated names into arrays; a repeated parameter is
 * `invalid_request` (RFC 6749 §3.1: "Request and response parameters MUST NOT be included more
 * than once"). Every name and value passes the suite's text rules (input-text.ts: no NUL or other
 * control characters, well-formed UTF-8, a length cap) before any endpoint sees it.
 */
export function readForm(body: unknown, contentType: string | undefined): Form {
  if (!contentType || !/^application\/x-www-form-urlencoded\b/i.test(contentType)) {
    throw new OAuthError('invalid_request', 'the request body must be application/x-www-form-urlencoded');
  }
  if (body === null || typeof body !== 'object') return {};
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [name, value] of Object.entries(body as Record<string, unknown>)) {
    if (Array.isArray(value)) throw new OAuthError('invalid_request', `parameter ${safeName(name)} is repeated`);
    if (typeof value !== 'string') throw new OAuthError('invalid_request', `parameter ${safeName(name)} is malformed`);
    if (textFault(name, NAME_RULES)) throw new OAuthError('invalid_request', 'malformed parameter name', { reason: 'input_text' });
    const fault = textFault(value);
    if (fault) throw new OAuthError('invalid_request', `parameter ${safeName(name)} ${describeTextFault(fault)}`, { reason: 'input_text' });
    // RFC 6749 §3.1: parameters sent without a value are treated as omitted.
    if (value !== '') out[name] = value;
  }
  return out;
}

/** Keeps only the declared parameters (node-oidc-provider's habit: undeclared fields never reach a handler). */
export function pickParams(form: Form, allowed: readonly string[]): Form {
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const name of allowed) {
    const v = form[name];
    if (v !== undefined) out[name] = v;
  }
  return out;
}

/** RFC 6749 parameter names are short ASCII words; a name is never a place for line breaks. */
const NAME_RULES = { max: 128, lineBreaks: false } as const;
