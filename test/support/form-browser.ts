import type { SmtpSink } from './smtp';

/** One answer of the browser endpoint: a page, or a redirect (never followed). */
export interface BrowserAnswer {
  readonly status: number;
  readonly location: string | undefined;
  readonly html: string;
}

/**
 * A browser without JavaScript, driven with fetch: it keeps the login cookie, reads the hidden
 * `interaction` and `csrf` inputs of the last page and posts the login forms with them
 * (libs/web-login). Redirects are returned, not followed, so a test reads `code`, `state`, `iss`.
 */
export class Browser {
  private cookie: string | undefined;
  private form: { interaction: string; csrf: string } | undefined;
  last: BrowserAnswer | undefined;

  constructor(readonly issuer: string) {}

  /** `GET /authorize?…` */
  async authorize(query: Record<string, string>): Promise<BrowserAnswer> {
    return this.send(`${this.issuer}/authorize?${new URLSearchParams(query).toString()}`, { method: 'GET' });
  }

  /** `POST /authorize/login` with the last page's interaction and CSRF token, plus `fields`. */
  async post(fields: Record<string, string>): Promise<BrowserAnswer> {
    if (!this.form) throw new Error(`no login form on the last page (${this.last?.status}): ${this.last?.html.slice(0, 300)}`);
    const body = new URLSearchParams({ ...this.form, ...fields }).toString();
    return this.send(`${this.issuer}/authorize/login`, { method: 'POST', body, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  }

  /**
   * From the first page to the redirect back: email OTP for `email` (its code from the SMTP sink),
   * then the consent page when one is shown (`approve`, or `deny`). Returns the redirect URL and the
   * consent page's HTML, if there was one.
   */
  async signIn(email: string, smtp: SmtpSink, consent: 'approve' | 'deny' = 'approve'): Promise<{ redirect: URL; consentPage: string | undefined }> {
    let answer = await this.post({ challenge_type: 'email_otp', email });
    if (answer.status !== 200) throw new Error(`expected the code page, got ${answer.status} ${answer.location ?? answer.html.slice(0, 300)}`);
    answer = await this.post({ code: await smtp.code(email) });
    let consentPage: string | undefined;
    if (answer.status === 200 && answer.html.includes('name="consent"')) {
      consentPage = answer.html;
      answer = await this.post({ consent });
    }
    if (answer.status !== 303 || !answer.location) throw new Error(`expected the redirect back, got ${answer.status}: ${answer.html.slice(0, 300)}`);
    return { redirect: new URL(answer.location), consentPage };
  }

  private async send(url: string, init: RequestInit): Promise<BrowserAnswer> {
    const headers = new Headers(init.headers);
    if (this.cookie) headers.set('cookie', this.cookie);
    const res = await fetch(url, { ...init, headers, redirect: 'manual' });
    const set = res.headers.get('set-cookie');
    if (set) this.cookie = set.split(';')[0];
    const html = await res.text();
    const hidden = (name: string): string | undefined => new RegExp(`name="${name}" value="([^"]+)"`).exec(html)?.[1];
    const interaction = hidden('interaction');
    const csrf = hidden('csrf');
    this.form = interaction && csrf ? { interaction, csrf } : undefined;
    this.last = { status: res.status, location: res.headers.get('location') ?? undefined, html };
    return this.last;
  }
}
