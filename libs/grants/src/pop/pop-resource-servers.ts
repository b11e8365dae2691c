import { readFileSync } from 'node:fs';
import { hasPrivateMembers, popKeyWrapAlg, type JWK } from '@fpa/crypto';

/** The PoP key types a resource server may accept: the client's asymmetric keys by `kty`, and `oct` for a key the suite generates. */
export const POP_KEY_TYPES = ['EC', 'OKP', 'RSA', 'oct'] as const;
export type PopKeyType = (typeof POP_KEY_TYPES)[number];

export interface PopResourceServer {
  /** The RFC 8707 resource / RFC 8693 audience naming it; the access token's `aud`. */
  readonly identifier: string;
  /** Its public key: returned as `rs_cnf` (RFC 9201 §3.2) and the key `cnf.jwe` is encrypted to. */
  readonly jwk: JWK;
  readonly keyTypes: readonly PopKeyType[];
}

/**
 * The resource servers PoP tokens may be issued for (seed 001 (C)/(D), CONTRACT §6), from the JSON
 * file `POP_RESOURCE_SERVERS_FILE` — a deployment file like the federation's downstream registry,
 * not client-store rows: a resource server is infrastructure, registered when it is deployed, and
 * its key rotates with its deployment. Read and validated once at start-up; a bad file stops the
 * process naming the entry.
 *
 * ```json
 * {"resource_servers": [{"identifier": "https://api.example.com", "jwk": {"kty":"EC","crv":"P-256","x":"…","y":"…","kid":"…"},
 *                        "pop_key_types": ["EC", "OKP", "RSA", "oct"]}]}
 * ```
 */
export class PopResourceServerRegistry {
  private readonly byIdentifier: ReadonlyMap<string, PopResourceServer>;

  constructor(servers: readonly PopResourceServer[]) {
    const map = new Map<string, PopResourceServer>();
    for (const s of servers) {
      if (map.has(s.identifier)) throw new Error(`POP_RESOURCE_SERVERS_FILE: ${s.identifier} is registered twice`);
      map.set(s.identifier, s);
    }
    this.byIdentifier = map;
  }

  static fromFile(path: string | undefined): PopResourceServerRegistry {
    if (!path) return new PopResourceServerRegistry([]);
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(path, 'utf8'));
    } catch (e) {
      throw new Error(`POP_RESOURCE_SERVERS_FILE: cannot read ${path} as JSON (${(e as Error).message})`);
    }
    return new PopResourceServerRegistry(parseResourceServers(parsed));
  }

  get enabled(): boolean {
    return this.byIdentifier.size > 0;
  }

  find(identifier: string): PopResourceServer | undefined {
    return this.byIdentifier.get(identifier);
  }

  /** Every key type some registered resource server accepts (metadata). */
  keyTypes(): PopKeyType[] {
    const all = new Set<PopKeyType>();
    for (const s of this.byIdentifier.values()) s.keyTypes.forEach((t) => all.add(t));
    return POP_KEY_TYPES.filter((t) => all.has(t));
  }
}

export function parseResourceServers(parsed: unknown): PopResourceServer[] {
  const list = (parsed as { resource_servers?: unknown } | null)?.resource_servers;
  if (!Array.isArray(list)) throw new Error('POP_RESOURCE_SERVERS_FILE: expected {"resource_servers": [...]}');
  return list.map((entry: unknown, i) => {
    const fail = (why: string): never => {
      throw new Error(`POP_RESOURCE_SERVERS_FILE: resource_servers[${i}] ${why}`);
    };
    if (entry === null || typeof entry !== 'object') return fail('is not an object');
    const { identifier, jwk, pop_key_types: keyTypes } = entry as Record<string, unknown>;
    if (typeof identifier !== 'string') return fail('has no identifier');
    let url: URL | undefined;
    try {
      url = new URL(identifier);
    } catch {
      fail('identifier is not an absolute URI');
    }
    if (url?.hash) fail('identifier must not have a fragment (RFC 8707 §2)');
    if (jwk === null || typeof jwk !== 'object' || Array.isArray(jwk)) return fail('has no jwk');
    if (hasPrivateMembers(jwk as Record<string, unknown>)) fail('jwk must be the public key (it is sent to clients as rs_cnf)');
    if (!Array.isArray(keyTypes) || keyTypes.length === 0 || !keyTypes.every((t) => (POP_KEY_TYPES as readonly unknown[]).includes(t))) {
      fail(`pop_key_types must be a non-empty subset of ${POP_KEY_TYPES.join(', ')}`);
    }
    if ((keyTypes as string[]).includes('oct') && !popKeyWrapAlg(jwk as JWK)) fail('accepts oct keys, so its jwk must be an EC, X25519 or RSA key the suite can encrypt to');
    return { identifier, jwk: jwk as JWK, keyTypes: [...new Set(keyTypes as PopKeyType[])] };
  });
}

export const POP_RESOURCE_SERVERS = Symbol('POP_RESOURCE_SERVERS');
