import type { AuthorizationDetail } from '@fpa/authz-request';
import type { JsonObject } from '@fpa/challenge-kit';
import type { Client } from '@fpa/clients';
import type { EndpointOutcome, OutcomeKind } from '@fpa/interaction';
import { esc, jsonData } from './escape';
import { layout } from './layout';

/** What a page needs besides the outcome. */
export interface PageContext {
  readonly client: Client;
  readonly interactionId: string;
  readonly csrf: string;
  readonly loginHint: string | undefined;
  /** The request parameters a method reads (its `parameters`), for plug-ins the page knows nothing about. */
  readonly parametersOf: (method: string) => readonly string[];
  /** The `action` that enrols a credential of this method (its `assurance.enrolAction`), if it has one. */
  readonly enrolActionOf: (method: string) => string | undefined;
  /** A RAR type's human description (from its registration), for the consent screen. */
  readonly describeType: (type: string) => string | undefined;
  /** The methods this client's browser login offers that identify a user (verify an e-mail or phone), in policy order. */
  readonly identifying: readonly string[];
  /** The `code` answer's redirect (RFC 6749 §4.1.2 with RFC 9207 `iss`). */
  readonly redirectWith: (params: Record<string, string>) => string;
  readonly error?: string;
}

export type BrowserAnswer = { readonly kind: 'page'; readonly status: number; readonly html: string } | { readonly kind: 'redirect'; readonly location: string };

type Renderers = { readonly [K in OutcomeKind]: (o: Extract<EndpointOutcome, { kind: K }>, ctx: PageContext) => BrowserAnswer };

const LABELS: Record<string, string> = { email_otp: 'Email me a code', sms_otp: 'Text me a code', totp: 'Use my authenticator app', passkey: 'Use a passkey' };
const NOUNS: Record<string, string> = { totp: 'authenticator app', passkey: 'passkey' };
const ENROL_LABELS: Record<string, string> = { totp: 'Set up an authenticator app', passkey: 'Create a passkey on this device' };
/** Parameters the page already asks for (or that are not answers): never rendered as a generic input. */
const KNOWN = new Set(['action', 'code', 'credential', 'email', 'phone', 'login_hint', 'challenge_type']);

/**
 * The browser's renderer (STYLE.md: one renderer per binding, a table checked with `satisfies`):
 * the same outcomes the native endpoint answers in JSON, as server-rendered pages — or the
 * redirect back to the client. OTP methods work without JavaScript; passkeys need WebAuthn.
 */
export const BROWSER_PAGES = {
  code: (o, ctx) => ({ kind: 'redirect', location: ctx.redirectWith({ code: o.authorizationCode }) }),
  need_more: (o, ctx) => page(ctx, title(o.challenge, o.status), needMore(o, ctx), hasWebAuthn(o.challenge)),
  pending: (o, ctx) =>
    page(
      ctx,
      'Waiting for your approval',
      `<p>Approve the sign-in on your other device. This page checks again every ${esc(o.intervalSeconds ?? 5)} seconds.</p>
${form(ctx, `<button type="submit" id="fpa-poll" data-interval="${esc(o.intervalSeconds ?? 5)}">Check now</button>`)}`,
      true,
    ),
  redirect_to_web: (_o, ctx) => page(ctx, 'This sign-in cannot continue', `<p>None of the ways to sign in that this request needs is available.</p>${cancelForm(ctx)}`),
  consent_required: (o, ctx) => page(ctx, `Allow ${ctx.client.name}?`, consent(o.scopes, o.authorizationDetails, ctx)),
  // FED-8 is for native callers (routing never hands a browser flow to an app); a page all the same.
  redirect_to_app: (_o, ctx) => page(ctx, 'This sign-in cannot continue', `<p>This request continues in an app, not in the browser.</p>${cancelForm(ctx)}`),
  // Routing to another server is the native endpoint's (FED-5/6); the browser login routes nowhere (the federation rule skips it), so a page, never a 500.
  insufficient_information: (_o, ctx) => page(ctx, 'This sign-in cannot continue here', `<p>This request must be continued in the app.</p>${cancelForm(ctx)}`),
  federate: (_o, ctx) => page(ctx, 'This sign-in cannot continue here', `<p>This request must be continued in the app.</p>${cancelForm(ctx)}`),
} satisfies Renderers;

export function renderBrowser(outcome: EndpointOutcome, ctx: PageContext): BrowserAnswer {
  return (BROWSER_PAGES[outcome.kind] as (o: EndpointOutcome, c: PageContext) => BrowserAnswer)(outcome, ctx);
}

/** A page before the request was validated far enough to redirect (unknown client, bad redirect URI, expired login). */
export function errorPage(status: number, message: string, client?: Client): BrowserAnswer {
  return { kind: 'page', status, html: layout({ title: 'Sign-in error', client, body: `<p>${esc(message)}</p><p>Go back to the app and start again.</p>` }) };
}

function page(ctx: PageContext, heading: string, body: string, script = false): BrowserAnswer {
  return { kind: 'page', status: 200, html: layout({ title: heading, client: ctx.client, error: ctx.error, body, script }) };
}

/** A form posting to the login endpoint with the interaction and its CSRF token. */
function form(ctx: PageContext, inner: string, attrs = ''): string {
  return `<form method="post" action="/authorize/login"${attrs}>
<input type="hidden" name="interaction" value="${esc(ctx.interactionId)}">
<input type="hidden" name="csrf" value="${esc(ctx.csrf)}">
${inner}
</form>`;
}

function cancelForm(ctx: PageContext): string {
  return form(ctx, `<button type="submit" name="cancel" value="1" class="secondary">Cancel and go back to ${esc(ctx.client.name)}</button>`);
}

function title(_challenge: JsonObject, status: string): string {
  const titles: Record<string, string> = {
    code_sent: 'Enter the code we sent',
    invalid_code: 'Enter the code again',
    code_required: 'Enter the code from your authenticator app',
    enrollment_started: 'Add an authenticator app',
    assertion_required: 'Use your passkey',
    registration_required: 'Create a passkey',
    locked: 'Too many attempts',
    additional_method_required: 'One more step',
    reauthentication_required: 'Confirm it is you first',
  };
  return titles[status] ?? 'Sign in';
}

function message(challenge: JsonObject, status: string): string {
  switch (status) {
    case 'code_sent':
      return `We sent a ${esc(challenge.code_length ?? 6)}-digit code to <strong>${esc(challenge.destination)}</strong>. It expires in ${esc(Math.round(Number(challenge.expires_in ?? 300) / 60))} minutes.`;
    case 'invalid_code':
      return `That is not the right code. ${esc(challenge.attempts_remaining ?? 0)} tries left.`;
    case 'attempts_exceeded':
      return 'Too many wrong answers: choose a way to start again.';
    case 'expired':
      return 'That took too long: choose a way to start again.';
    case 'locked':
      return `Too many wrong answers for this account. Try again in ${esc(challenge.retry_after)} seconds, or choose another way.`;
    case 'method_unavailable':
      return 'That way to sign in is not available for this account.';
    case 'enrolled':
      return 'Added. It can be used from your next sign-in.';
    case 'reauthentication_required':
      return 'To add a new way to sign in, first confirm it is you with one you already have.';
    case 'additional_method_required':
      return 'Confirm it is you with another way.';
    default:
      return '';
  }
}

function hasWebAuthn(challenge: JsonObject): boolean {
  return challenge.public_key_credential_request_options !== undefined || challenge.public_key_credential_creation_options !== undefined;
}

/** More is needed: the challenge in progress (its answer form), then the other ways still open. */
function needMore(o: Extract<EndpointOutcome, { kind: 'need_more' }>, ctx: PageContext): string {
  const c = o.challenge;
  const method = typeof c.challenge_type === 'string' ? c.challenge_type : undefined;
  const text = message(c, o.status);
  const parts = [text ? `<p id="status">${text}</p>` : ''];
  const inProgress = method !== undefined && !['attempts_exceeded', 'expired', 'locked', 'method_unavailable', 'enrolled', 'reauthentication_required'].includes(o.status);
  if (inProgress && method) parts.push(answerForm(method, c, ctx));
  const others = o.methods.filter((m) => !(inProgress && m === method));
  // Once a factor identified the user, a method they may not have yet can be added here (the core
  // applies the enrolment policy; what is added counts from the next sign-in).
  const identified = o.status === 'additional_method_required';
  if (others.length > 0) parts.push(`<section aria-labelledby="methods-heading"><h2 id="methods-heading">${inProgress ? 'Or' : 'Choose how to sign in'}</h2>${others.map((m) => chooser(m, ctx, identified)).join('\n')}</section>`);
  const addable = identified ? (o.enrollable ?? []).filter((m) => ctx.enrolActionOf(m) && !others.includes(m)) : [];
  if (addable.length > 0) parts.push(`<section aria-labelledby="add-heading"><h2 id="add-heading">Or add a way to sign in</h2>${addable.map((m) => enrolForm(m, ctx)).join('\n')}</section>`);
  // Only credentials can meet the request (say a passkey for phr) and nobody is identified yet: a
  // user without one confirms who they are first, then adds it (it counts from the next sign-in).
  const firstTime = o.status === 'method_required' && o.methods.some((m) => ctx.enrolActionOf(m)) ? ctx.identifying.filter((m) => !o.methods.includes(m)) : [];
  if (firstTime.length > 0) {
    parts.push(`<section aria-labelledby="enrol-heading"><h2 id="enrol-heading">No ${esc(o.methods.filter((m) => ctx.enrolActionOf(m)).map((m) => NOUNS[m] ?? m.replace(/_/g, ' ')).join(' or '))} yet?</h2>
<p>Confirm it is you first; you can then add one.</p>${firstTime.map((m) => chooser(m, ctx)).join('\n')}</section>`);
  }
  parts.push(cancelForm(ctx));
  return parts.join('\n');
}

/** The form that answers the challenge in progress. */
function answerForm(method: string, c: JsonObject, ctx: PageContext): string {
  if (c.public_key_credential_request_options !== undefined || c.public_key_credential_creation_options !== undefined) {
    const mode = c.public_key_credential_creation_options !== undefined ? 'register' : 'authenticate';
    const options = c.public_key_credential_creation_options ?? c.public_key_credential_request_options;
    return `<script type="application/json" id="fpa-webauthn">${jsonData({ mode, options })}</script>
${form(ctx, `<input type="hidden" name="credential" value="">
<button type="button" id="fpa-webauthn-start">${mode === 'register' ? 'Create the passkey' : 'Use my passkey'}</button>
<noscript><p>Passkeys need JavaScript in this browser.</p></noscript>`, ' id="fpa-webauthn-form"')}`;
  }
  const extra =
    c.otpauth_uri !== undefined
      ? `<p>Add this account to your authenticator app, then enter the code it shows.</p>
<p><label for="otp-secret">Setup key</label> <input id="otp-secret" readonly value="${esc(c.secret)}"></p>
<p><a href="${esc(c.otpauth_uri)}">Open in an authenticator app</a></p>`
      : '';
  const inputs = ctx.parametersOf(method).includes('code')
    ? `<label for="code">Code</label>
<input id="code" name="code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9 ]*" maxlength="12" required autofocus>`
    : genericInputs(method, ctx);
  const resend = c.status === 'code_sent' || c.destination !== undefined ? form(ctx, `<input type="hidden" name="challenge_type" value="${esc(method)}"><input type="hidden" name="action" value="resend"><button type="submit" class="secondary">Send a new code</button>`) : '';
  return `${extra}${form(ctx, `${inputs}\n<button type="submit">Continue</button>`)}${resend}`;
}

/** Inputs for what a plug-in method reads, named as it names them. */
function genericInputs(method: string, ctx: PageContext): string {
  return ctx
    .parametersOf(method)
    .filter((p) => !KNOWN.has(p))
    .map((p, i) => `<label for="p-${esc(p)}">${esc(p.replace(/_/g, ' '))}</label>\n<input id="p-${esc(p)}" name="${esc(p)}" required${i === 0 ? ' autofocus' : ''}>`)
    .join('\n');
}

/** One way to begin: e-mail and phone ask where to send the code; the others are a button. */
function chooser(method: string, ctx: PageContext, offerEnrolment = false): string {
  const hidden = `<input type="hidden" name="challenge_type" value="${esc(method)}">`;
  const hint = ctx.loginHint ?? '';
  if (method === 'email_otp') {
    const value = hint.includes('@') ? ` value="${esc(hint)}"` : '';
    return form(ctx, `${hidden}<label for="email">Email address</label>\n<input id="email" name="email" type="email" autocomplete="email" maxlength="254" required${value}>\n<button type="submit">${LABELS.email_otp}</button>`);
  }
  if (method === 'sms_otp') {
    const value = hint.startsWith('+') ? ` value="${esc(hint)}"` : '';
    return form(ctx, `${hidden}<label for="phone">Mobile number</label>\n<input id="phone" name="phone" type="tel" autocomplete="tel" maxlength="32" required${value}>\n<button type="submit">${LABELS.sms_otp}</button>`);
  }
  const use = form(ctx, `${hidden}<button type="submit">${esc(LABELS[method] ?? `Continue with ${method.replace(/_/g, ' ')}`)}</button>`);
  return offerEnrolment && ctx.enrolActionOf(method) ? `${use}\n${enrolForm(method, ctx)}` : use;
}

/** Adds a credential of `method` (its enrol action; the core applies the enrolment rules). */
function enrolForm(method: string, ctx: PageContext): string {
  const action = ctx.enrolActionOf(method) ?? '';
  const label = ENROL_LABELS[method] ?? `Add ${method.replace(/_/g, ' ')}`;
  return form(ctx, `<input type="hidden" name="challenge_type" value="${esc(method)}"><input type="hidden" name="action" value="${esc(action)}"><button type="submit" class="secondary">${esc(label)}</button>`);
}

/** The consent screen: what the client asks for, scopes and authorization details, approve or deny. */
function consent(scopes: readonly string[], details: readonly AuthorizationDetail[], ctx: PageContext): string {
  const scopeList = scopes.length > 0 ? `<h2>Access</h2><ul>${scopes.map((s) => `<li><code>${esc(s)}</code></li>`).join('')}</ul>` : '';
  const detailList =
    details.length > 0
      ? `<h2>Details</h2>${details
          .map((d) => {
            const about = ctx.describeType(d.type);
            return `<div class="detail">${about ? `<p>${esc(about)}</p>` : ''}<dl>${describe(d)}</dl></div>`;
          })
          .join('')}`
      : '';
  return `<p><strong>${esc(ctx.client.name)}</strong> asks for:</p>
${scopeList}${detailList}
${form(ctx, `<button type="submit" name="consent" value="approve">Allow</button>\n<button type="submit" name="consent" value="deny" class="secondary">Deny</button>`)}`;
}

function describe(value: unknown, depth = 0): string {
  if (value === null || typeof value !== 'object') return esc(value);
  if (Array.isArray(value)) return value.map((v) => describe(v, depth + 1)).join(', ');
  return Object.entries(value as Record<string, unknown>)
    .map(([k, v]) => (depth === 0 ? `<dt>${esc(k)}</dt><dd>${describe(v, depth + 1)}</dd>` : `${esc(k)}: ${describe(v, depth + 1)}`))
    .join(depth === 0 ? '' : '; ');
}
