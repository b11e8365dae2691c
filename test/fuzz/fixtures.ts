import { createPublicKey, KeyObject } from 'node:crypto';
import { FirstPartyClient } from '@fpa/client-sdk';
import { generateClientKeyPair, type ClientKeyPair } from '@fpa/crypto';
import { ChallengeClient } from '@fpa/testing';
import { startStandalone, type RunningApp } from '@fpa/testing/app';
import { asNonce } from '../support/http';
import { startSmtpSink, type SmtpSink } from '../support/smtp';
import { startSmsReceiver, SMS_BODY, type SmsReceiver } from '../support/sms';

/**
 * What the fuzzer needs to reach deep code: the standalone app in production mode on real
 * PostgreSQL and Redis (SMTP and SMS receivers so deliveries succeed, rate limits raised so the
 * fuzzer is not merely rate limited), a registered device with tokens, a confidential resource
 * server, a challenge flow waiting for its code, a redeemed authorization code, and current nonces.
 */

export const APP = {
  client_id: 'fuzz-app',
  name: 'Fuzz app',
  type: 'public',
  first_party: true,
  grant_types: ['fp_register', 'client_credentials', 'refresh_token', 'authorization_code'],
  auth_methods: ['private_key_jwt', 'none'],
  scopes: ['openid', 'profile', 'api.read'],
  resources: ['https://api.example.com'],
  dpop_bound_access_tokens: true,
} as const;
export const RS_ID = 'fuzz-rs';
/** A web client of the browser login (GET /authorize, POST /authorize/login). */
export const WEB = {
  client_id: 'fuzz-web',
  name: 'Fuzz web',
  type: 'public',
  first_party: true,
  grant_types: ['authorization_code'],
  auth_methods: ['none'],
  scopes: ['openid', 'profile'],
  redirect_uris: ['https://app.example.com/cb'],
  dpop_bound_access_tokens: false,
} as const;

/** Every table a refused request could write to (issue 8: none of them may change). */
export const COUNTED_TABLES = ['device_sessions', 'users', 'user_authentications', 'user_credentials', 'authorization_codes', 'refresh_tokens', 'clients', 'auth_attempts'] as const;

const UNLIMITED = '1000000';

export interface KeyMaterial {
  readonly pair: ClientKeyPair;
  readonly publicPem: string;
  readonly privateJwk: Record<string, unknown>;
}

export interface Fixtures {
  readonly suite: RunningApp;
  readonly issuer: string;
  readonly device: FirstPartyClient;
  readonly deviceKey: KeyMaterial;
  readonly dpopKey: KeyMaterial;
  readonly otherKey: ClientKeyPair;
  /** Fresh public keys for registrations (a successful one writes a row: it is accepted, not refused). */
  readonly registrable: readonly ClientKeyPair[];
  /** The device's access token: never revoked by the fuzzer (only introspected and used). */
  readonly accessToken: string;
  /** Another device's tokens, for the requests that revoke or rotate them. */
  readonly victim: { readonly accessToken: string; readonly refreshToken: string; readonly dpopKey: ClientKeyPair };
  readonly rsSecret: string;
  /** A public-client flow waiting for the code sent to its login_hint. */
  readonly flow: ChallengeClient;
  readonly usedCode: string;
  /** A browser login showing its first page: the cookie, the interaction and its CSRF token. */
  readonly browser: { readonly cookie: string; readonly interaction: string; readonly csrf: string; readonly codeChallenge: string };
  /** Values no response may ever contain. */
  readonly secrets: readonly string[];
  /** The server's current DPoP nonce (refreshed well inside its window). */
  nonce(): Promise<string>;
  close(): Promise<void>;
}

async function keyMaterial(pair?: ClientKeyPair): Promise<KeyMaterial> {
  const p = pair ?? (await generateClientKeyPair('ES256'));
  const priv = KeyObject.from(p.privateKey);
  return { pair: p, publicPem: createPublicKey(priv).export({ type: 'spki', format: 'pem' }).toString(), privateJwk: priv.export({ format: 'jwk' }) as Record<string, unknown> };
}

export async function startFixtures(): Promise<Fixtures> {
  const smtp: SmtpSink = await startSmtpSink();
  const sms: SmsReceiver = await startSmsReceiver();
  let suite: RunningApp | undefined;
  try {
    suite = await startStandalone('fuzz', {
      LOG_LEVEL: 'warn',
      SMTP_URL: smtp.url,
      SMS_PROVIDER_URL: sms.url,
      SMS_PROVIDER_BODY: SMS_BODY,
      REGISTRATION_RATE_LIMIT: UNLIMITED,
      CHALLENGE_RATE_LIMIT_SESSION: UNLIMITED,
      CHALLENGE_RATE_LIMIT_IP: UNLIMITED,
      CHALLENGE_RATE_LIMIT_DESTINATION: UNLIMITED,
      CHALLENGE_RESEND_SECONDS: '0',
      SEND_BUDGET_SMS_PER_CLIENT: UNLIMITED,
      SEND_BUDGET_SMS_GLOBAL: UNLIMITED,
      SEND_BUDGET_EMAIL_PER_CLIENT: UNLIMITED,
      SEND_BUDGET_EMAIL_GLOBAL: UNLIMITED,
    });
    const app = suite;
    await app.createClient(APP);
    const rs = await app.createClient({ client_id: RS_ID, type: 'confidential', auth_methods: ['client_secret_basic', 'client_secret_post'], permissions: ['introspect'] });
    const device = await FirstPartyClient.create({ issuer: app.issuer, clientId: APP.client_id });
    await device.register();
    const token = await device.requestToken();
    const victim = await FirstPartyClient.create({ issuer: app.issuer, clientId: APP.client_id });
    await victim.register();
    const victimToken = await victim.requestToken();

    // A flow waiting for its code, and a code already redeemed.
    const flow = await ChallengeClient.create(app.issuer);
    const started = await flow.send({ client_id: APP.client_id, response_type: 'code', code_challenge: flow.codeChallenge, code_challenge_method: 'S256', login_hint: 'fuzz-flow@example.com' });
    if (started.status !== 403) throw new Error(`fixture flow did not start: ${started.status} ${started.text}`);
    const done = await ChallengeClient.create(app.issuer);
    await done.send({ client_id: APP.client_id, response_type: 'code', code_challenge: done.codeChallenge, code_challenge_method: 'S256', login_hint: 'fuzz-code@example.com' });
    const coded = await done.send({ code: await smtp.code('fuzz-code@example.com') });
    const usedCode = String(coded.body.authorization_code);
    const redeemed = await done.redeem(usedCode, { client_id: APP.client_id });
    if (redeemed.status !== 200) throw new Error(`fixture code was not redeemed: ${redeemed.status} ${redeemed.text}`);

    await app.createClient(WEB);
    const codeChallenge = flow.codeChallenge;
    const page = await fetch(`${app.issuer}/authorize?${new URLSearchParams({ client_id: WEB.client_id, response_type: 'code', redirect_uri: WEB.redirect_uris[0], code_challenge: codeChallenge, code_challenge_method: 'S256', state: 'fuzz' })}`);
    const html = await page.text();
    const hidden = (name: string): string => new RegExp(`name="${name}" value="([^"]+)"`).exec(html)?.[1] ?? '';
    const browser = { cookie: (page.headers.get('set-cookie') ?? '').split(';')[0], interaction: hidden('interaction'), csrf: hidden('csrf'), codeChallenge };
    if (page.status !== 200 || !browser.cookie || !browser.csrf) throw new Error(`fixture browser login did not start: ${page.status}`);

    let nonce = { value: await asNonce(app.issuer), at: Date.now() };
    const deviceKey = await keyMaterial(device.deviceKey);
    const dpopKey = await keyMaterial(device.dpopKey);
    return {
      suite: app,
      issuer: app.issuer,
      device,
      deviceKey,
      dpopKey,
      otherKey: await generateClientKeyPair('ES256'),
      registrable: await Promise.all(Array.from({ length: 4 }, () => generateClientKeyPair('ES256'))),
      accessToken: token.access_token,
      victim: { accessToken: victimToken.access_token, refreshToken: victimToken.refresh_token ?? '', dpopKey: victim.dpopKey },
      rsSecret: rs.secret ?? '',
      flow,
      usedCode,
      browser,
      secrets: [app.env.env.KEY_ENCRYPTION_KEY, app.env.env.DPOP_NONCE_SECRET, rs.secret ?? '', String(deviceKey.privateJwk.d), String(dpopKey.privateJwk.d)].filter((s) => s.length >= 16),
      async nonce() {
        if (Date.now() - nonce.at > 20_000) nonce = { value: await asNonce(app.issuer), at: Date.now() };
        return nonce.value;
      },
      async close() {
        await app.close();
        await smtp.close();
        await sms.close();
      },
    };
  } catch (e) {
    await suite?.close();
    await smtp.close();
    await sms.close();
    throw e;
  }
}
