import { readFileSync } from 'node:fs';

/**
 * A downstream authorization server the suite may federate to (FED-5, FED-11): who it is, who we
 * are there, which hosts its endpoints may live on (the outbound allow-list), what we ask of it,
 * and how far its `acr`/`amr` are trusted when we record the authentication it made.
 */
export interface Downstream {
  readonly issuer: string;
  /** Our client_id at the downstream (a confidential private_key_jwt client with our /federation/jwks). */
  readonly clientId: string;
  /** `host[:port]` its metadata endpoints may use; default: the issuer's host. */
  readonly hosts: readonly string[];
  /** Scope asked for downstream; default: the flow's scopes. */
  readonly scope: string | undefined;
  /** acr_values asked for downstream; default: none. */
  readonly acrValues: string | undefined;
  /** Sent in the PAR and at the token endpoint when the downstream registered us with one (a browser leg). */
  readonly redirectUri: string | undefined;
  readonly trust: {
    /** Their `amr` values we repeat in ours (after `fed`); others are dropped. */
    readonly amr: readonly string[];
    /** Their `acr` values we credit, with what each proves here. */
    readonly acr: Readonly<Record<string, { readonly factors: 1 | 2; readonly phishingResistant: boolean }>>;
  };
}

export class DownstreamConfigError extends Error {}

const KEYS = ['issuer', 'client_id', 'hosts', 'scope', 'acr_values', 'redirect_uri', 'trust'];

/** Parses the FEDERATION_DOWNSTREAMS_FILE content; every problem is named (start-up stops on any). */
export function parseDownstreams(input: unknown, allowHttpLoopback: boolean): Downstream[] {
  if (!Array.isArray(input)) throw new DownstreamConfigError('the downstreams file must hold a JSON array');
  const seen = new Set<string>();
  return input.map((d: unknown, i) => {
    const at = `downstreams[${i}]`;
    if (typeof d !== 'object' || d === null || Array.isArray(d)) throw new DownstreamConfigError(`${at} must be an object`);
    const o = d as Record<string, unknown>;
    const unknown = Object.keys(o).filter((k) => !KEYS.includes(k));
    if (unknown.length > 0) throw new DownstreamConfigError(`${at}: unknown members ${unknown.join(', ')}`);
    const issuer = url(o.issuer, `${at}.issuer`, allowHttpLoopback).replace(/\/+$/, '');
    if (seen.has(issuer)) throw new DownstreamConfigError(`${at}: ${issuer} is listed twice`);
    seen.add(issuer);
    if (typeof o.client_id !== 'string' || !/^[\x21-\x7E]{1,255}$/.test(o.client_id)) throw new DownstreamConfigError(`${at}.client_id must be a string`);
    const hosts = o.hosts === undefined ? [new URL(issuer).host] : o.hosts;
    if (!Array.isArray(hosts) || hosts.length === 0 || hosts.some((h) => typeof h !== 'string' || !/^[a-z0-9.-]+(:\d{1,5})?$|^\[[0-9a-f:]+\](:\d{1,5})?$/i.test(h))) {
      throw new DownstreamConfigError(`${at}.hosts must list host[:port] values`);
    }
    const opt = (v: unknown, name: string): string | undefined => {
      if (v === undefined) return undefined;
      if (typeof v !== 'string' || v.length === 0 || v.length > 1024) throw new DownstreamConfigError(`${at}.${name} must be a string`);
      return v;
    };
    const trust = (o.trust ?? {}) as Record<string, unknown>;
    if (typeof trust !== 'object' || Array.isArray(trust)) throw new DownstreamConfigError(`${at}.trust must be an object`);
    const amr = trust.amr ?? [];
    if (!Array.isArray(amr) || amr.some((v) => typeof v !== 'string')) throw new DownstreamConfigError(`${at}.trust.amr must list strings`);
    const acrIn = (trust.acr ?? {}) as Record<string, unknown>;
    const acr: Record<string, { factors: 1 | 2; phishingResistant: boolean }> = {};
    for (const [value, proves] of Object.entries(acrIn)) {
      const p = proves as Record<string, unknown>;
      if (typeof p !== 'object' || p === null || (p.factors !== 1 && p.factors !== 2)) throw new DownstreamConfigError(`${at}.trust.acr.${value} needs factors (1 or 2)`);
      acr[value] = { factors: p.factors, phishingResistant: p.phishing_resistant === true };
    }
    return {
      issuer,
      clientId: o.client_id,
      hosts: hosts as string[],
      scope: opt(o.scope, 'scope'),
      acrValues: opt(o.acr_values, 'acr_values'),
      redirectUri: o.redirect_uri === undefined ? undefined : url(o.redirect_uri, `${at}.redirect_uri`, allowHttpLoopback),
      trust: { amr: amr as string[], acr },
    };
  });
}

function url(v: unknown, name: string, allowHttpLoopback: boolean): string {
  if (typeof v !== 'string') throw new DownstreamConfigError(`${name} must be a URL`);
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw new DownstreamConfigError(`${name} must be a URL`);
  }
  const loopback = ['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname);
  if (!(u.protocol === 'https:' || (u.protocol === 'http:' && loopback && allowHttpLoopback)) || u.hash || u.search || u.username) {
    throw new DownstreamConfigError(`${name} must be an https URL without query or fragment${allowHttpLoopback ? ' (http only on a loopback host)' : ''}`);
  }
  return v;
}

/** The configured downstreams, by issuer; the outbound allow-list is the union of their hosts. */
export class DownstreamRegistry {
  private readonly byIssuer: ReadonlyMap<string, Downstream>;
  readonly hosts: ReadonlySet<string>;

  constructor(downstreams: readonly Downstream[]) {
    this.byIssuer = new Map(downstreams.map((d) => [d.issuer, d]));
    this.hosts = new Set(downstreams.flatMap((d) => d.hosts));
  }

  static fromFile(file: string | undefined, allowHttpLoopback: boolean): DownstreamRegistry {
    if (!file) return new DownstreamRegistry([]);
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(file, 'utf8'));
    } catch (e) {
      throw new DownstreamConfigError(`FEDERATION_DOWNSTREAMS_FILE: ${(e as Error).message}`);
    }
    try {
      return new DownstreamRegistry(parseDownstreams(raw, allowHttpLoopback));
    } catch (e) {
      throw new DownstreamConfigError(`FEDERATION_DOWNSTREAMS_FILE: ${(e as Error).message}`);
    }
  }

  find(issuer: string): Downstream | undefined {
    return this.byIssuer.get(issuer.replace(/\/+$/, ''));
  }
}
