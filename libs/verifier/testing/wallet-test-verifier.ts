import 'reflect-metadata';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes, webcrypto, X509Certificate } from 'node:crypto';
import * as x509 from '@peculiar/x509';
// The spec's stand-in verifier is written against jose directly, independently of the wallet and of libs/crypto.
// eslint-disable-next-line no-restricted-imports
import { calculateJwkThumbprint, compactDecrypt, exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { MDL_DOCTYPE } from './mdoc-issuer';
import { TEST_PID_VCT } from './sd-jwt-issuer';
import { PresentationRefusal, verifyMdocPresentation, verifySdJwtPresentation } from '../src';

/**
 * A tiny OpenID4VP verifier for the wallet's own specs (wallet.spec.ts): node:http + jose, request objects signed
 * with a self-signed x509_san_dns certificate (@peculiar/x509), JWE decrypted, presentations verified with
 * verifySdJwtPresentation / verifyMdocPresentation — so each wallet misbehaviour is seen as a refusal on the wire.
 * Not our server: only what docs/openid4vp-wire.md says a verifier answers. Test support only.
 */

export interface MiniRequestConfig {
  readonly responseMode: 'direct_post' | 'direct_post.jwt' | 'dc_api' | 'dc_api.jwt';
  readonly dcqlQuery: unknown;
  readonly transactionData?: readonly string[];
  readonly expectedOrigins?: readonly string[];
  /** Break one thing in what the verifier serves (for the wallet's own refusals). */
  readonly serve?: 'wrong_content_type' | 'other_client_id' | 'no_wallet_nonce_echo' | 'expired' | 'bad_signature' | 'wrong_typ';
}

export interface MiniRequest {
  readonly id: string;
  readonly config: MiniRequestConfig;
  readonly nonce: string;
  readonly state: string;
  readonly encKey: { readonly publicJwk: JWK; readonly privateKey: CryptoKey };
  walletNonceSeen?: string | null;
}

export interface MiniOutcome {
  readonly accepted: boolean;
  /** The refusal reason (PresentationRefusal reason, mdoc refusal code, `decrypt`, `replay`, `error:<code>`…). */
  readonly reason?: string;
  readonly claims?: Record<string, unknown>[];
}

export class MiniVerifier {
  readonly host = 'verifier.localhost';
  readonly clientId = `x509_san_dns:${this.host}`;
  readonly requests = new Map<string, MiniRequest>();
  readonly outcomes: MiniOutcome[] = [];
  private readonly consumed = new Set<string>();
  private base = '';

  private constructor(
    private readonly server: Server,
    private readonly signing: { readonly key: CryptoKey; readonly x5c: string[] },
    private readonly trust: { readonly sdJwtRoots: readonly X509Certificate[]; readonly mdocRoots: readonly Uint8Array[] },
  ) {}

  static async start(trust: { sdJwtRoots: readonly X509Certificate[]; mdocRoots: readonly Uint8Array[] }, san = 'verifier.localhost'): Promise<MiniVerifier> {
    x509.cryptoProvider.set(webcrypto as never);
    const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
    const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
    const cert = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: randomBytes(8).toString('hex'),
      name: `CN=${san}`,
      notBefore: new Date(Date.now() - 60_000),
      notAfter: new Date(Date.now() + 86_400_000),
      keys,
      signingAlgorithm: alg,
      extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: san }])],
    });
    const server = createServer();
    const self = new MiniVerifier(server, { key: keys.privateKey as unknown as CryptoKey, x5c: [Buffer.from(cert.rawData).toString('base64')] }, trust);
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      void self.handle(req, res).catch((e: unknown) => send(res, 500, { error: 'server_error', error_description: String(e) }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    self.base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return self;
  }

  get responseUri(): string {
    return `${this.base}/response`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Registers a request; returns the `openid4vp://` link (same/cross device) for it. */
  async createRequest(config: MiniRequestConfig): Promise<{ link: string; request: MiniRequest }> {
    const { publicKey, privateKey } = await generateKeyPair('ECDH-ES', { crv: 'P-256', extractable: true });
    const publicJwk = { ...(await exportJWK(publicKey)), kid: randomBytes(6).toString('hex'), use: 'enc', alg: 'ECDH-ES' };
    const request: MiniRequest = { id: randomBytes(8).toString('hex'), config, nonce: randomBytes(16).toString('base64url'), state: randomBytes(16).toString('base64url'), encKey: { publicJwk, privateKey } };
    this.requests.set(request.id, request);
    const link = `openid4vp://?client_id=${encodeURIComponent(this.clientId)}&request_uri=${encodeURIComponent(`${this.base}/requests/${request.id}`)}&request_uri_method=post`;
    return { link, request };
  }

  /** The request object (payload) of a registered request as a compact JWS. */
  async requestObject(request: MiniRequest, walletNonce?: string): Promise<string> {
    const c = request.config;
    const now = Math.floor(Date.now() / 1000);
    const dcApi = c.responseMode.startsWith('dc_api');
    const payload = {
      response_type: 'vp_token',
      client_id: c.serve === 'other_client_id' ? 'x509_san_dns:other.localhost' : this.clientId,
      response_mode: c.responseMode,
      ...(dcApi ? { expected_origins: c.expectedOrigins } : { response_uri: this.responseUri, state: request.state }),
      nonce: request.nonce,
      dcql_query: c.dcqlQuery,
      ...(c.transactionData ? { transaction_data: c.transactionData } : {}),
      client_metadata: { jwks: { keys: [request.encKey.publicJwk] }, encrypted_response_enc_values_supported: ['A128GCM', 'A256GCM'], vp_formats_supported: {} },
      ...(walletNonce && c.serve !== 'no_wallet_nonce_echo' ? { wallet_nonce: walletNonce } : {}),
    };
    const jws = await new SignJWT(payload)
      .setProtectedHeader({ alg: 'ES256', typ: c.serve === 'wrong_typ' ? 'JWT' : 'oauth-authz-req+jwt', x5c: this.signing.x5c })
      .setIssuedAt(now)
      .setExpirationTime(c.serve === 'expired' ? now - 120 : now + 300)
      .setAudience('https://self-issued.me/v2')
      .sign(this.signing.key);
    if (c.serve !== 'bad_signature') return jws;
    const [h, p, s] = jws.split('.');
    return `${h}.${p}.${s.startsWith('A') ? 'B' : 'A'}${s.slice(1)}`;
  }

  /** Unsigned DC API request data (VP-3: no client_id). */
  unsignedDcApiData(request: MiniRequest): Record<string, unknown> {
    const c = request.config;
    return {
      response_type: 'vp_token',
      response_mode: c.responseMode,
      nonce: request.nonce,
      dcql_query: c.dcqlQuery,
      client_metadata: { jwks: { keys: [request.encKey.publicJwk] }, encrypted_response_enc_values_supported: ['A128GCM'] },
      ...(c.transactionData ? { transaction_data: c.transactionData } : {}),
    };
  }

  /** Verifies a vp_token as our verifier would for `request` (audience = client_id, or origin:<origin> over the DC API). */
  async verifyVpToken(request: MiniRequest, vpToken: unknown, origin?: string): Promise<MiniOutcome> {
    if (typeof vpToken === 'string') {
      const decrypted = await this.decrypt(request, vpToken);
      if (!decrypted.ok) return decrypted.outcome;
      vpToken = decrypted.plaintext.vp_token;
    }
    const encrypted = request.config.responseMode.endsWith('.jwt');
    const thumbprint = encrypted ? new Uint8Array(Buffer.from(await calculateJwkThumbprint(request.encKey.publicJwk, 'sha256'), 'base64url')) : undefined;
    const claims: Record<string, unknown>[] = [];
    for (const presentations of Object.values(vpToken as Record<string, string[]>)) {
      for (const presentation of presentations) {
        if (presentation.includes('~')) {
          try {
            const verified = await verifySdJwtPresentation(presentation, {
              nonce: request.nonce,
              audience: origin ? `origin:${origin}` : this.clientId,
              transactionData: request.config.transactionData,
              trustAnchors: this.trust.sdJwtRoots,
              allowedVcts: [TEST_PID_VCT],
            });
            claims.push({ ...verified.claims });
          } catch (e) {
            if (e instanceof PresentationRefusal) return { accepted: false, reason: e.reason };
            throw e;
          }
          continue;
        }
        const sessionTranscript = origin
          ? { kind: 'dc_api' as const, origin, nonce: request.nonce, jwkThumbprint: thumbprint }
          : { kind: 'openid4vp' as const, clientId: this.clientId, nonce: request.nonce, responseUri: this.responseUri, jwkThumbprint: thumbprint };
        const result = await verifyMdocPresentation(presentation, { docType: MDL_DOCTYPE, sessionTranscript, trustAnchors: this.trust.mdocRoots });
        if (!result.ok) return { accepted: false, reason: result.refusal.code };
        claims.push({ ...result.mdoc.namespaces });
      }
    }
    return { accepted: true, claims };
  }

  private async decrypt(request: MiniRequest, jwe: string): Promise<{ ok: true; plaintext: Record<string, unknown> } | { ok: false; outcome: MiniOutcome }> {
    try {
      const { plaintext, protectedHeader } = await compactDecrypt(jwe, request.encKey.privateKey, { keyManagementAlgorithms: ['ECDH-ES'], contentEncryptionAlgorithms: ['A128GCM', 'A256GCM'] });
      if (protectedHeader.kid !== request.encKey.publicJwk.kid) return { ok: false, outcome: { accepted: false, reason: 'kid' } };
      return { ok: true, plaintext: JSON.parse(new TextDecoder().decode(plaintext)) as Record<string, unknown> };
    } catch {
      return { ok: false, outcome: { accepted: false, reason: 'decrypt' } };
    }
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const form = new URLSearchParams(await readBody(req));
    const path = new URL(req.url ?? '/', this.base).pathname;
    const match = /^\/requests\/([0-9a-f]+)$/.exec(path);
    if (match && req.method === 'POST') {
      const request = this.requests.get(match[1]);
      if (!request) return send(res, 400, { error: 'invalid_request_uri' });
      request.walletNonceSeen = form.get('wallet_nonce');
      const jws = await this.requestObject(request, form.get('wallet_nonce') ?? undefined);
      const type = request.config.serve === 'wrong_content_type' ? 'application/jwt' : 'application/oauth-authz-req+jwt';
      res.writeHead(200, { 'content-type': type, 'cache-control': 'no-store' }).end(jws);
      return;
    }
    if (path !== '/response' || req.method !== 'POST') return send(res, 404, { error: 'not_found' });
    const outcome = await this.response(form);
    this.outcomes.push(outcome);
    if (!outcome.accepted) return send(res, 400, { error: 'invalid_request', error_description: outcome.reason });
    send(res, 200, { redirect_uri: `https://app.example/cb#response_code=${randomBytes(16).toString('base64url')}` });
  }

  private async response(form: URLSearchParams): Promise<MiniOutcome> {
    let state = form.get('state');
    let vpToken: unknown = form.get('vp_token');
    const jwe = form.get('response');
    let request = [...this.requests.values()].find((r) => r.state === state);
    if (jwe !== null) {
      // direct_post.jwt: the state is inside; find the request by the JWE's kid.
      const kid = JSON.parse(Buffer.from(jwe.split('.')[0], 'base64url').toString('utf8')).kid as string;
      request = [...this.requests.values()].find((r) => r.encKey.publicJwk.kid === kid);
      if (!request) return { accepted: false, reason: 'kid' };
      const decrypted = await this.decrypt(request, jwe);
      if (!decrypted.ok) return decrypted.outcome;
      state = decrypted.plaintext.state as string;
      vpToken = decrypted.plaintext.vp_token;
      if (state !== request.state) return { accepted: false, reason: 'state' };
    } else if (typeof vpToken === 'string') {
      vpToken = JSON.parse(vpToken);
    }
    if (!request || !state) return { accepted: false, reason: 'state' };
    if (form.get('error')) return { accepted: false, reason: `error:${form.get('error')}` };
    if (this.consumed.has(state)) return { accepted: false, reason: 'replay' };
    this.consumed.add(state);
    return this.verifyVpToken(request, vpToken);
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(body));
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
