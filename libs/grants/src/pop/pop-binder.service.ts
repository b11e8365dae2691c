import { Inject, Injectable } from '@nestjs/common';
import { CryptoInputError, encryptPopKeyForResourceServer, generateSymmetricPopKey, hasPrivateMembers, parseDevicePublicKey, type JWK } from '@fpa/crypto';
import { CLOCK, OAuthError, type Clock } from '@fpa/oauth-core';
import type { Client } from '@fpa/clients';
import type { ValidatedDpopProof } from '@fpa/dpop';
import { POP_RESOURCE_SERVERS, PopResourceServerRegistry, type PopKeyType, type PopResourceServer } from './pop-resource-servers';
import { PopKeyStore } from './pop-key.store';
import type { PopBinding, StoredPop } from './pop-binding';

export type PopKeyLookup = Pick<PopKeyStore, 'find' | 'remember'>;

/** Token-request parameters of a PoP request (RFC 9200 §5.8.1, RFC 9201 §3.1, seed 001 (C)). */
export const POP_PARAMETERS = ['req_cnf', 'token_type', 'audience'] as const;

export interface PopRequest {
  readonly client: Client;
  readonly form: Readonly<Record<string, string | undefined>>;
  readonly dpop: ValidatedDpopProof | undefined;
}

/** A new PoP token's binding, with the client key it proved (to record once the token is issued). */
export type IssuedPopBinding = PopBinding & { readonly proved?: { readonly kid: string; readonly jwk: JWK } };

const KID = /^[A-Za-z0-9_-]{1,128}$/;

/**
 * Decides whether a token request asks for a PoP token, and with which key (seed 001, CONTRACT §6):
 * - `req_cnf` = `{"jwk": <public key>}` or `{"kid": <thumbprint of a key this client proved before>}`:
 *   the client's asymmetric key, proven by the request's DPoP proof (ACE-2: a DPoP proof with that
 *   key is the HTTP proof of possession); symmetric or private keys are refused (ACE-2);
 * - no `req_cnf` but `token_type=pop` (the seed draft's request parameter; DPoP stays the default):
 *   the suite generates a symmetric key (ACE-1's default), returns it in `cnf` and encrypts it for
 *   the resource server into the token's `cnf.jwe` (CNF-2).
 * The audience must be one registered resource server accepting that key type (ACE-4). Nothing is
 * written here: grants record the key (`remember`) only once the token is issued.
 */
@Injectable()
export class PopBinder {
  constructor(
    @Inject(POP_RESOURCE_SERVERS) private readonly servers: PopResourceServerRegistry,
    @Inject(PopKeyStore) private readonly keys: PopKeyLookup,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  /** True when the request asks for a PoP token. */
  wanted(form: PopRequest['form']): boolean {
    if (form.token_type !== undefined && form.token_type.toLowerCase() !== 'pop') {
      throw new OAuthError('invalid_request', 'token_type may only be pop (PoP tokens); omit it for DPoP or Bearer');
    }
    if (form.req_cnf === undefined && form.token_type === undefined) {
      if (form.audience !== undefined) throw new OAuthError('invalid_request', 'audience names the resource server of a PoP token; use resource otherwise');
      return false;
    }
    if (!this.servers.enabled) throw new OAuthError('invalid_request', 'this server issues no PoP tokens', { reason: 'pop_disabled' });
    return true;
  }

  /**
   * The audience a PoP request names: `audience` (RFC 8693, ACE-1) or `resource` (RFC 8707, the
   * seed), which must agree when both are sent.
   */
  requestedAudience(form: PopRequest['form']): string | undefined {
    if (form.audience !== undefined && form.resource !== undefined && form.audience !== form.resource) {
      throw new OAuthError('invalid_target', 'audience and resource name different resource servers');
    }
    return form.audience ?? form.resource;
  }

  /**
   * For a grant issuing a new token: undefined when no PoP token is asked for; else the binding for
   * the audience `audienceOf` derives (with the grant's own rules, e.g. the client's resources) from
   * the requested one.
   */
  async forNewToken(req: PopRequest, audienceOf: (requested: string | undefined) => string): Promise<IssuedPopBinding | undefined> {
    if (!this.wanted(req.form)) return undefined;
    return this.bind(req, audienceOf(this.requestedAudience(req.form)));
  }

  /** Builds the binding for a new PoP token for `audience` (already checked against the client's resources). */
  async bind(req: PopRequest, audience: string): Promise<IssuedPopBinding> {
    const rs = this.resourceServer(audience);
    const reqCnf = req.form.req_cnf;
    if (reqCnf === undefined) return this.symmetric(rs);
    const key = await this.clientKey(req, reqCnf);
    // ACE-2: possession is proven by this request's DPoP proof, signed with that very key.
    if (!req.dpop) throw new OAuthError('invalid_request', 'req_cnf needs a DPoP proof signed with that key in the same request', { reason: 'pop_no_proof' });
    if (req.dpop.jkt !== key.kid) throw new OAuthError('invalid_request', 'the DPoP proof was not signed with the req_cnf key', { reason: 'pop_proof_key_mismatch' });
    this.accepts(rs, key.jwk.kty as PopKeyType);
    const jwk = { ...key.jwk, kid: key.kid };
    return {
      kind: 'asymmetric',
      audience: rs.identifier,
      tokenCnf: { jwk: key.jwk },
      responseCnf: { jwk },
      rsCnf: { jwk: rs.jwk },
      stored: { jwk: key.jwk, kid: key.kid },
      proved: { kid: key.kid, jwk: key.jwk },
    };
  }

  /** ACE-5: a refresh rebuilds the family's binding, and refuses a request that would change the key or the audience. */
  async rebind(stored: StoredPop, audience: string, form: PopRequest['form']): Promise<PopBinding> {
    if (form.token_type !== undefined && form.token_type.toLowerCase() !== 'pop') throw this.changeRefused('token type');
    const requested = this.requestedAudience(form);
    if (requested !== undefined && requested !== audience) throw this.changeRefused('audience');
    if (form.req_cnf !== undefined) {
      const named = parseReqCnf(form.req_cnf);
      const kid = 'kid' in named ? named.kid : await thumbprintOf(named.jwk);
      if (kid !== stored.kid) throw this.changeRefused('PoP key');
    }
    const rs = this.servers.find(audience);
    if (!rs) throw new OAuthError('invalid_grant', 'the resource server of this PoP token is no longer registered', { reason: 'pop_rs_gone' });
    if ('jwk' in stored) return { kind: 'asymmetric', audience, tokenCnf: { jwk: stored.jwk }, responseCnf: { jwk: { ...stored.jwk, kid: stored.kid } }, rsCnf: { jwk: rs.jwk }, stored };
    // The suite never kept the symmetric key: the client keeps using the one it received; `kid` names it.
    return { kind: 'symmetric', audience, tokenCnf: { jwe: stored.jwe }, responseCnf: { kid: stored.kid }, rsCnf: { jwk: rs.jwk }, stored };
  }

  /** Refresh of a DPoP or Bearer family: no PoP parameter may turn it into a PoP one (that would change its key). */
  refuseUpgrade(form: PopRequest['form']): void {
    if (form.req_cnf !== undefined || form.token_type !== undefined || form.audience !== undefined) throw this.changeRefused('token type');
  }

  /** Records a client key proven for an issued PoP token, so `req_cnf={"kid"}` can name it later. */
  async remember(clientId: string, binding: IssuedPopBinding | undefined, expiresAt: Date): Promise<void> {
    if (binding?.proved) await this.keys.remember(clientId, binding.proved.kid, binding.proved.jwk, new Date(this.clock.nowMs()), expiresAt);
  }

  private async symmetric(rs: PopResourceServer): Promise<PopBinding> {
    this.accepts(rs, 'oct');
    const key = generateSymmetricPopKey();
    const jwe = await encryptPopKeyForResourceServer(key, rs.jwk);
    return { kind: 'symmetric', audience: rs.identifier, tokenCnf: { jwe }, responseCnf: { jwk: key.jwk }, rsCnf: { jwk: rs.jwk }, stored: { jwe, kid: key.jwk.kid } };
  }

  private async clientKey(req: PopRequest, reqCnf: string): Promise<{ jwk: JWK; kid: string }> {
    const named = parseReqCnf(reqCnf);
    if ('kid' in named) {
      const jwk = await this.keys.find(req.client.id, named.kid, new Date(this.clock.nowMs()));
      if (!jwk) throw new OAuthError('invalid_request', 'req_cnf kid names no PoP key of this client', { reason: 'pop_unknown_kid' });
      return { jwk, kid: named.kid };
    }
    // ACE-2 (RFC 9200 §5.8.1): symmetric keys sent by the client are refused, as is any private key.
    if (named.jwk.kty === 'oct') throw new OAuthError('invalid_request', 'req_cnf must not carry a symmetric key', { reason: 'pop_symmetric_key' });
    if (hasPrivateMembers(named.jwk)) throw new OAuthError('invalid_request', 'req_cnf must carry a public key, never private members', { reason: 'pop_private_key' });
    try {
      const parsed = await parseDevicePublicKey(JSON.stringify(named.jwk));
      return { jwk: parsed.jwk, kid: parsed.jkt };
    } catch (e) {
      if (!(e instanceof CryptoInputError)) throw e;
      if (e.reason === 'unsupported_key_type') throw new OAuthError('unsupported_pop_key', 'req_cnf key type is not supported (EC P-256, Ed25519, RSA ≥ 2048)');
      throw new OAuthError('invalid_request', `req_cnf: ${e.message.replace(/^public_key/, 'the key')}`, { reason: 'pop_malformed_key' });
    }
  }

  private resourceServer(audience: string): PopResourceServer {
    const rs = this.servers.find(audience);
    if (!rs) throw new OAuthError('invalid_target', 'PoP tokens need one registered resource server as audience', { reason: 'pop_unknown_rs' });
    return rs;
  }

  /** ACE-4 (RFC 9200 §5.8.3): `unsupported_pop_key` when the resource server cannot use that key type. */
  private accepts(rs: PopResourceServer, type: PopKeyType): void {
    if (!rs.keyTypes.includes(type)) throw new OAuthError('unsupported_pop_key', `the resource server does not accept ${type} PoP keys`, { reason: 'pop_key_type' });
  }

  private changeRefused(what: string): OAuthError {
    // ACE-5 (RFC 9200 §5.8.1): a refresh must not change the PoP key or the audience.
    return new OAuthError('invalid_request', `a refresh keeps the ${what} of the token it refreshes`, { reason: 'pop_refresh_change' });
  }
}

/** `req_cnf` in RFC 7800 `cnf` syntax, JSON over HTTP (RFC 9201 §3.1): exactly one of `jwk`, `kid`. */
export function parseReqCnf(value: string): { jwk: JWK & Record<string, unknown> } | { kid: string } {
  let parsed: unknown;
  try {
    parsed = value.length <= 8192 ? JSON.parse(value) : undefined;
  } catch {
    parsed = undefined;
  }
  const malformed = (): OAuthError => new OAuthError('invalid_request', 'req_cnf must be a JSON object with one member, jwk or kid', { reason: 'pop_malformed_req_cnf' });
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw malformed();
  const keys = Object.keys(parsed);
  if (keys.length !== 1) throw malformed();
  const obj = parsed as Record<string, unknown>;
  if (keys[0] === 'kid') {
    if (typeof obj.kid !== 'string' || !KID.test(obj.kid)) throw malformed();
    return { kid: obj.kid };
  }
  if (keys[0] === 'jwk') {
    if (obj.jwk === null || typeof obj.jwk !== 'object' || Array.isArray(obj.jwk)) throw malformed();
    return { jwk: obj.jwk as JWK & Record<string, unknown> };
  }
  throw malformed();
}

async function thumbprintOf(jwk: JWK): Promise<string> {
  try {
    return (await parseDevicePublicKey(JSON.stringify(jwk))).jkt;
  } catch {
    throw new OAuthError('invalid_request', 'req_cnf is not a usable public key', { reason: 'pop_malformed_key' });
  }
}
