import { Controller, Get, HttpCode, Param, Post, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { OAuthError, requestInfo } from '@fpa/oauth-core';
import { LOGIN_CSS, LOGIN_JS, webauthnBundle } from './html/assets';
import { WebLoginMetrics } from './web-login.metrics';
import { WebLoginService, type WebAnswer } from './web-login.service';

const ASSETS: Record<string, { type: string; body: () => string }> = {
  'login.js': { type: 'text/javascript; charset=utf-8', body: () => LOGIN_JS },
  'login.css': { type: 'text/css; charset=utf-8', body: () => LOGIN_CSS },
  'webauthn.js': { type: 'text/javascript; charset=utf-8', body: webauthnBundle },
};

/** `GET /authorize` (RFC 6749 §4.1.1 — GET, as §3.1 requires), `POST /authorize/login`, and the page's assets. */
@Controller()
export class WebLoginController {
  constructor(
    private readonly login: WebLoginService,
    private readonly metrics: WebLoginMetrics,
  ) {}

  @Get('authorize')
  async authorize(@Req() req: Request, @Res() res: Response): Promise<void> {
    send(res, this.count('authorize', await this.login.start(readQuery(req.originalUrl), requestInfo(req))));
  }

  @Post('authorize/login')
  @HttpCode(200)
  async answer(@Req() req: Request, @Res() res: Response): Promise<void> {
    if (!/^application\/x-www-form-urlencoded\b/i.test(req.headers['content-type'] ?? '')) throw new OAuthError('invalid_request', 'the login form posts application/x-www-form-urlencoded');
    send(res, this.count('login', await this.login.continue(singleValued(req.body), requestInfo(req))));
  }

  private count(step: 'authorize' | 'login', a: WebAnswer): WebAnswer {
    this.metrics.answers.inc({ step, outcome: outcomeOf(a) });
    return a;
  }

  @Get('authorize/assets/:name')
  asset(@Param('name') name: string, @Res() res: Response): void {
    const asset = Object.hasOwn(ASSETS, name) ? ASSETS[name] : undefined;
    if (!asset) throw new OAuthError('not_found', 'no such asset');
    res.setHeader('Content-Type', asset.type);
    res.setHeader('Cache-Control', 'public, max-age=3600');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.status(200).send(asset.body());
  }
}

/**
 * The query of `GET /authorize` (the app's `query parser` is off: no other endpoint reads one).
 * RFC 6749 §3.1: a parameter sent without a value is omitted; one sent twice is an error, kept as
 * an array so the service refuses it rather than picking a copy.
 */
export function readQuery(url: string): Record<string, unknown> {
  const out: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  const at = url.indexOf('?');
  if (at < 0) return out;
  let search: URLSearchParams;
  try {
    search = new URLSearchParams(url.slice(at + 1));
  } catch {
    return out;
  }
  for (const [k, v] of search) {
    if (v === '') continue;
    const prior = out[k];
    out[k] = prior === undefined ? v : [...(Array.isArray(prior) ? prior : [prior]), v];
  }
  return out;
}

/** A form body: repeated names (arrays from the body parser) are kept as arrays and refused by the service. */
function singleValued(source: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  if (!source || typeof source !== 'object') return out;
  for (const [k, v] of Object.entries(source as Record<string, unknown>)) if (typeof v === 'string' || Array.isArray(v)) out[k] = v;
  return out;
}

/** A bounded label: page, code, redirect_<OAuth error>, refused_<reason>. */
function outcomeOf(a: WebAnswer): string {
  if (a.answer.kind === 'redirect') {
    const query = new URL(a.answer.location).searchParams;
    const error = query.get('error');
    return error ? `redirect_${/^[a-z_]{1,40}$/.test(error) ? error : 'other'}` : query.has('code') ? 'code' : 'redirect';
  }
  return a.answer.status < 400 ? 'page' : `refused_${a.refused ?? 'other'}`;
}

function send(res: Response, a: WebAnswer): void {
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Pragma', 'no-cache');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('X-Frame-Options', 'DENY');
  if (a.setCookie) res.setHeader('Set-Cookie', a.setCookie);
  if (a.answer.kind === 'redirect') {
    // 303: the browser follows with a GET, whatever method brought it here.
    res.redirect(303, a.answer.location);
    return;
  }
  res.setHeader(
    'Content-Security-Policy',
    `default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' https:; connect-src 'self'; form-action 'self'${a.formTarget ? ` ${a.formTarget}` : ''}; frame-ancestors 'none'; base-uri 'none'`,
  );
  res.status(a.answer.status).type('html').send(a.answer.html);
}
