import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runNode, spawnApp, type AppProcess } from '@fpa/testing';

/**
 * `npm run demo -- --wallet` (issue 11 §5; WALLET-1…3, VP-4, VP-7) against the built embedded default as a real
 * process: no CHALLENGE_METHODS, no trust anchors, no client set up by hand. The demo writes its issuer's root into
 * <DATA_DIR>/trust-anchors after the server started; the server trusts it from there (the embedded default's watched
 * anchors), logs the credential's user in cross device (link, QR code, pending polls) and approves a payment whose
 * authorization_details come back in the token response.
 */
jest.setTimeout(120_000);

const ESC = String.fromCharCode(27);

describe('the wallet demo on the embedded default', () => {
  let app: AppProcess | undefined;
  let dataDir: string;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'fpa-wallet-demo-'));
    app = await spawnApp('standalone', { DATA_DIR: dataDir, LOG_LEVEL: 'warn', HOST: '127.0.0.1' }, { readyTimeoutMs: 90_000 });
  });

  afterAll(async () => {
    await app?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('a demo issuer the suite was not told about is refused: the demo stops with the verifier’s reason', async () => {
    // The issuer's root goes elsewhere, so the embedded default's anchors stay empty: nothing is trusted by accident.
    const elsewhere = mkdtempSync(join(tmpdir(), 'fpa-wallet-demo-untrusted-'));
    try {
      const demo = await runNode(join('dist', 'tools', 'demo', 'demo.js'), ['--wallet'], { ISSUER: app!.url, DATA_DIR: elsewhere, DEMO_TRUST_ANCHORS: join(elsewhere, 'anchors') }, { timeoutMs: 60_000 });
      expect(demo.code).toBe(1);
      expect(demo.output).toMatch(/openid4vp\/response → 400 .*invalid_request/);
      expect(demo.output).toMatch(/refused the wallet's response: .*(trust|issuer|x5c|certificate)/i);
      expect(demo.output).not.toContain('Done:');
      expect(existsSync(join(dataDir, 'trust-anchors'))).toBe(false);
    } finally {
      rmSync(elsewhere, { recursive: true, force: true });
    }
  });

  it('`npm run demo -- --wallet`: credential login cross device (QR, pending), then a payment approval with authorization_details', async () => {
    expect(existsSync(join(dataDir, 'trust-anchors'))).toBe(false); // written by the demo, after the server started
    const demo = await runNode(join('dist', 'tools', 'demo', 'demo.js'), ['--wallet'], { ISSUER: app!.url, DATA_DIR: dataDir }, { timeoutMs: 90_000 });
    const out = demo.output;
    expect(out).toContain('Done:');
    expect(demo.code).toBe(0);
    expect(existsSync(join(dataDir, 'trust-anchors', 'demo-issuer-root.pem'))).toBe(true);

    const [login, payment] = out.split('Approve a payment with the credential');
    // The cross-device prompt: the link, a terminal QR code (ANSI block characters), polls answered "pending".
    expect(login).toMatch(/"credentials_request": "openid4vp:\/\/\?client_id=x509_san_dns%3A127\.0\.0\.1&request_uri=http%3A%2F%2F127\.0\.0\.1%3A\d+%2Fopenid4vp%2Frequests%2F[\w-]+&request_uri_method=post"/);
    expect(login).toContain(`${ESC}[47m`);
    expect(login).toMatch(/poll \d+: 403 \{"error": "insufficient_authorization", "status": "pending"\}/);
    expect(login).toMatch(/wallet: POST http:\/\/127\.0\.0\.1:\d+\/openid4vp\/response → 200 \{\}/);
    // The token: a suite user (VP-7: linked to issuer + sub of the credential), acr vc, amr pop + vc.
    const loginToken = /Redeemed the code at \/token: the user came from the credential\n\s+(\{[\s\S]+?\n\s{3}\})/.exec(login)?.[1];
    const loginAt = (JSON.parse(loginToken!) as { access_token: { sub: string; acr: string; amr: string[] } }).access_token;
    expect(loginAt.sub).toMatch(/^[0-9a-f-]{36}$/);
    expect(loginAt.acr).toBe('urn:first-party-auth:acr:vc');
    expect(loginAt.amr).toEqual(expect.arrayContaining(['pop', 'vc']));

    // The payment: the wallet shows the decoded transaction data; the token response and access token carry the approval.
    // The entry's type is the configured mapping's (the embedded default: a transaction-data type for payment_initiation).
    expect(payment).toMatch(/wallet: the user approves this transaction data \(decoded\):\n\s+\[\s+\{\s+"type": "[^"]*payment_initiation[^"]*",\s+"credential_ids": \[\s+"credential"\s+\]/);
    expect(payment).toMatch(/"instructedAmount": \{\s+"currency": "EUR",\s+"amount": "42.00"\s+\}/);
    expect(payment).toContain('"creditorName": "Bäckerei Lindner"');
    expect(payment).toContain('wallet: the KB-JWT carries its transaction_data_hashes');
    const payToken = /the token response carries the approved authorization_details\n\s+(\{[\s\S]+?\n\s{3}\})/.exec(payment)?.[1];
    const approved = JSON.parse(payToken!) as { authorization_details: Record<string, unknown>[]; access_token: { sub: string; amr: string[]; authorization_details: unknown } };
    const expected = { type: 'payment_initiation', actions: ['initiate'], locations: ['https://bank.example.com/payments'], instructedAmount: { currency: 'EUR', amount: '42.00' }, creditorName: 'Bäckerei Lindner', creditorAccount: { iban: 'DE02120300000000202051' } };
    expect(approved.authorization_details).toEqual([expected]);
    expect(approved.access_token.authorization_details).toEqual([expected]);
    expect(approved.access_token.sub).toBe(loginAt.sub);
    expect(approved.access_token.amr).toEqual(expect.arrayContaining(['vc']));
  });
});
